"""Runs whose records keep their settings are compared even when the
manifest beside them is damaged, with a warning naming it (brk r50 BT 3)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WRITES_ACC = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"acc": 0.9}, fh)
"""


def test_a_damaged_manifest_beside_runs_that_keep_their_settings_is_said(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_ACC)
    cli.run("-q", "freeze", str(project))
    ids = [
        json.loads(cli.run("-q", "run", str(project), "--json").stdout)["run_id"]
        for _ in range(2)
    ]
    manifest = project / ".reprobox" / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:100])
    runs = project / ".reprobox" / "runs"
    done = cli.run("compare", *(str(runs / i) for i in ids), check=False)
    assert done.returncode == 0, done.describe()
    assert done.stdout.splitlines()[1].startswith("verdict: PASS"), done.describe()
    [warning] = [w for w in done.stderr.splitlines() if "warning" in w]
    assert warning.startswith(
        f"reprobox: warning: {manifest}: manifest is not valid JSON ("
    ), done.describe()
    assert warning.endswith(
        "; the runs are judged by the settings the reference run's record keeps "
        f"(run `reprobox freeze {project}` again)"
    ), done.describe()


def test_a_runs_folder_linked_to_nowhere_is_said_so(cli, engine_cleanup, tmp_path):
    # brk r50 (BT 5): "File exists (the runs folder must be a folder: move what
    # is in the way)", where nothing was in the way.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    runs = project / ".reprobox" / "runs"
    runs.symlink_to(tmp_path / "nowhere")
    done = cli.run("-q", "run", str(project), check=False)
    assert done.returncode == 2, done.describe()
    assert done.stderr == (
        f"reprobox: error: {runs}: cannot write the run's files there: it is a "
        f"link to {tmp_path / 'nowhere'}, which does not exist (point the link at "
        "a folder, or remove it)\n"
    ), done.describe()
    assert engine_cleanup.containers(name) == []
