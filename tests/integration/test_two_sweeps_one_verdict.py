"""A run beside two sweeps gets one verdict whichever run is the reference
(brk r50 BU 1: it was judged on the reference's own sweep's band)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

# acc = 0.9 + seed/1000 (seed 9 counts as 0) + NOISE, as the breaker's script.
WRITES_ACC = """import json, os
seed = int(os.environ.get("REPROBOX_SEED", "0")) % 5
acc = round(0.9 + seed / 1000 + float(os.environ.get("NOISE", "0")), 6)
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"acc": acc}, fh)
"""
TOLERANCE = """
[metrics]
compare = ["acc"]
tolerances = { acc = { abs = 0.005 } }
"""


def test_a_run_beside_two_sweeps_is_judged_alike_by_every_reference(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_ACC)
    toml = project / "reprobox.toml"
    toml.write_text(toml.read_text() + TOLERANCE)
    cli.run("-q", "freeze", str(project))
    cli.run("-q", "run", str(project), "--seeds", "0-3")
    cli.run("-q", "run", str(project), "--seeds", "0-2", "--env", "NOISE=0.0045")
    lone = json.loads(
        cli.run(
            "-q", "run", str(project), "--seed", "9", "--env", "NOISE=0.006", "--json"
        ).stdout
    )
    assert lone["metrics"] == {"acc": 0.91}
    runs = project / ".reprobox" / "runs"
    ids = sorted(p.name for p in runs.iterdir() if p.is_dir())
    assert len(ids) == 8
    verdicts = {}
    for run_id in ids:
        done = cli.run(
            "compare", str(runs), "--reference", run_id, "--json", check=False
        )
        verdicts[run_id] = (done.returncode, json.loads(done.stdout)["passed"])
    # 0.91 lies 0.007 beyond the first sweep's band [0.9, 0.903]: a FAIL,
    # whichever run is the reference.
    assert set(verdicts.values()) == {(1, False)}, verdicts


WRITES_NAN_FOR_SEED_1 = """import os
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    fh.write('{"acc": NaN}' if os.environ["REPROBOX_SEED"] == "1" else '{"acc": 0.9}')
"""


def test_a_warning_of_one_run_among_several_names_that_run(
    cli, engine_cleanup, tmp_path
):
    # brk r50 (BT 6): "metric 'acc' ... is nan; kept", of which run unsaid.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_NAN_FOR_SEED_1)
    cli.run("-q", "freeze", str(project))
    done = cli.run("-q", "run", str(project), "--seeds", "0-1", "--json", check=False)
    records = {r["seed"]: r for r in json.loads(done.stdout)["records"]}
    warnings = [w for w in done.stderr.splitlines() if "warning" in w]
    assert warnings == [
        f"reprobox: warning: run {records[1]['run_id']}: "
        + records[1]["warnings"][0].splitlines()[0]
    ], done.describe()
    assert "nan" in warnings[0].lower()


def test_runs_refused_alike_are_said_once_with_their_count(
    cli, engine_cleanup, tmp_path
):
    # brk r50 (BU 7): `run --repeat 2 --cpus 3` said the same error twice.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    done = cli.run(
        "-q", "run", str(project), "--repeat", "2", "--cpus", "999", check=False
    )
    errors = [e for e in done.stderr.splitlines() if e.startswith("reprobox: error")]
    assert len(errors) == 1, done.describe()
    assert errors[0].endswith(" (2 runs)"), done.describe()
