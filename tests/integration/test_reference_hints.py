"""A --reference push or export refuses names the run it would seal instead
(brk r49 BR 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

WRITES_ACC_THEN_EXITS = """import json, os, sys
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"acc": 0.9}, fh)
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def test_export_of_a_failed_reference_offers_the_healthy_run(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_ACC_THEN_EXITS)
    cli.run("-q", "freeze", str(project))
    good = json.loads(cli.run("-q", "run", str(project), "--json").stdout)
    bad = json.loads(
        cli.run(
            "-q", "run", str(project), "--env", "EXIT=3", "--json", check=False
        ).stdout
    )
    assert (good["status"], bad["status"]) == ("succeeded", "failed")
    runs = project / ".reprobox" / "runs"
    bundle = tmp_path / "b.tar"
    done = cli.run(
        "-q",
        "export",
        str(project),
        "-o",
        str(bundle),
        "--reference",
        str(runs / bad["run_id"]),
        check=False,
    )
    assert done.returncode == 2, done.describe()
    assert done.stderr.splitlines() == [
        f"reprobox: error: --reference {runs / bad['run_id']}: that run failed "
        f"(give --reference {runs / good['run_id'] / 'record.json'}, the newest "
        "healthy run of this build, or leave --reference out to seal it)"
    ], done.describe()
    assert not bundle.exists()


def test_verify_of_an_unsealed_build_in_its_project_offers_a_run_of_it(
    cli, engine_cleanup, tmp_path
):
    # brk r49 (BR 2): it said to run it first, with a healthy run at hand.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_ACC_THEN_EXITS)
    cli.run("-q", "freeze", str(project))
    tag = json.loads(cli.run("build", str(project), "--json").stdout)["tag"]
    good = json.loads(cli.run("-q", "run", str(project), "--json").stdout)
    done = subprocess.run(
        [sys.executable, "-m", "reprobox", "-q", "verify", tag],
        env=cli.env(),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    record = project / ".reprobox" / "runs" / good["run_id"] / "record.json"
    assert done.stderr.splitlines() == [
        f"reprobox: error: image {tag} carries no reference run record (give "
        f"--reference {record}, a run of it in this project (`reprobox push` or "
        "`export` seals one in))"
    ]
