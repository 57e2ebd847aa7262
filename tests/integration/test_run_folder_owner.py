"""A run folder is given back whole to the owner of .reprobox/runs, even the log
reprobox puts back after the training script deleted or replaced it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.geteuid() != 0, reason="only root gives run folders back"),
]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
RUNS_OWNER = 1234
CHANGES_ITS_LOG = """import json, os, shutil
out = os.environ["REPROBOX_OUT"]
log = os.path.join(out, "container.log")
print("before the change", flush=True)
if os.environ["LOG_CHANGE"] == "delete":
    os.remove(log)
else:
    os.remove(log)
    os.makedirs(os.path.join(log, "inside"))
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    json.dump({"rows": 1}, fh)
print("after the change", flush=True)
"""


@pytest.fixture(scope="module")
def project(cli, engine_cleanup, tmp_path_factory) -> Path:
    """A frozen copy of hard-tiny whose script changes container.log."""
    path, name = cli.copy_project(
        TEST_PROJECTS / "hard-tiny", tmp_path_factory.mktemp("owner"), "hard-tiny"
    )
    engine_cleanup.add(name)
    (path / "train.py").write_text(CHANGES_ITS_LOG)
    cli.run("-q", "freeze", str(path))
    return path


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("delete", "container.log was deleted by the training script"),
        ("folder", "container.log was replaced with a folder by the training script"),
    ],
)
def test_every_file_of_the_run_folder_belongs_to_the_owner_of_runs(
    cli, project, change, said
):
    runs = project / ".reprobox" / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    os.chown(runs, RUNS_OWNER, RUNS_OWNER)

    done = cli.run("run", str(project), "--json", "--env", f"LOG_CHANGE={change}")
    record = json.loads(done.stdout)
    assert record["status"] == "succeeded", done.describe()
    assert f"{said}; reprobox put its own log back" in record["warnings"]

    run_dir = runs / record["run_id"]
    log = run_dir / "container.log"
    assert log.is_file() and not log.is_symlink()
    assert "before the change" in log.read_text()
    assert "after the change" in log.read_text()
    entries = [run_dir, *run_dir.rglob("*")]
    assert {p.name for p in entries} >= {"container.log", "record.json", "capture.json"}
    wrong = {
        str(p.relative_to(runs)): p.lstat().st_uid
        for p in entries
        if p.lstat().st_uid != RUNS_OWNER
    }
    assert wrong == {}, f"not owned by {RUNS_OWNER}: {wrong}"
