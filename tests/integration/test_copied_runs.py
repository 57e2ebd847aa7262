"""Run folders copied out of their project are judged as they are beside it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import freeze_and_build

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
WRITE_ACC = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    json.dump({"acc": float(os.environ["ACC"])}, out)
"""


def test_copied_run_folders_keep_the_projects_tolerances(cli, engine_cleanup, tmp_path):
    # brk: copied to /tmp/x, 0.5 vs 0.505 failed as "exact (default)" while
    # the same folders in .reprobox/runs passed within abs 0.01.
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "train.py").write_text(WRITE_ACC)
    config = path / "reprobox.toml"
    config.write_text(
        config.read_text() + "\n[metrics]\ntolerances = { acc = { abs = 0.01 } }\n"
    )
    freeze_and_build(path)

    run_ids = []
    for acc in ("0.5", "0.505"):
        record = json.loads(
            cli.run("run", str(path), "--env", f"ACC={acc}", "--json").stdout
        )
        assert record["metrics"] == {"acc": float(acc)}
        assert record["compare_settings"] == {
            "compare": [],
            "tolerances": {"acc": {"abs": 0.01, "rel": None}},
        }
        run_ids.append(record["run_id"])

    copied = tmp_path / "x"
    copied.mkdir()
    for run_id in run_ids:
        shutil.copytree(path / ".reprobox" / "runs" / run_id, copied / run_id)
    in_place = [path / ".reprobox" / "runs" / r for r in run_ids]
    for folders in (in_place, [copied / r for r in run_ids]):
        result = cli.run("compare", *map(str, folders), "--json", check=False)
        assert result.returncode == 0, result.describe()
        [acc] = json.loads(result.stdout)["results"]
        assert (acc["metric"], acc["reason"]) == ("acc", "within tolerance (abs 0.01)")
        assert "warning" not in result.stderr


def test_a_refrozen_tolerance_gives_one_verdict_in_place_and_copied(
    cli, engine_cleanup, tmp_path
):
    # cc 1: run O under abs 0.1, then a refreeze to abs 0.001 and run N: in
    # place compare failed on the manifest's 0.001, copied it passed on O's 0.1.
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "train.py").write_text(WRITE_ACC)
    config = path / "reprobox.toml"
    plain = config.read_text()
    config.write_text(plain + "\n[metrics]\ntolerances = { acc = { abs = 0.1 } }\n")
    freeze_and_build(path)
    first = json.loads(cli.run("run", str(path), "--env", "ACC=0.5", "--json").stdout)
    config.write_text(plain + "\n[metrics]\ntolerances = { acc = { abs = 0.001 } }\n")
    freeze_and_build(path)
    second = json.loads(cli.run("run", str(path), "--env", "ACC=0.55", "--json").stdout)
    assert second["compare_settings"]["tolerances"] == {
        "acc": {"abs": 0.001, "rel": None}
    }

    runs = path / ".reprobox" / "runs"
    copied = tmp_path / "x"
    for record in (first, second):
        shutil.copytree(runs / record["run_id"], copied / record["run_id"])
    verdicts = []
    for where in (runs, copied):
        result = cli.run(
            "compare",
            *(str(where / r["run_id"]) for r in (first, second)),
            "--json",
            check=False,
        )
        [acc] = json.loads(result.stdout)["results"]
        verdicts.append((result.returncode, acc["reason"]))
        assert f"reference run {first['run_id']}" in result.stderr
    assert verdicts == [(0, "within tolerance (abs 0.1)")] * 2
