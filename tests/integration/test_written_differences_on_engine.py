"""Differences of metric values from real runs are taken as written.

A real container writes the integer metric steps 5, and fits a stand-in for
Keras (keras.py in the project: boot hooks it as it hooks Keras) whose one
epoch logs loss 0.5 under seed 0 and 0.6 under seed 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
TRAIN = """import json
import os
import sys

import keras

seed = int(os.environ["REPROBOX_SEED"])
keras.Model().fit(loss={0: 0.5, 1: 0.6}.get(seed, 0.7))
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    json.dump({"steps": 5}, out)
if seed == 2:
    sys.exit(3)  # a failed run that still wrote its metrics
"""
# Just what boot's Keras hook touches, and a fit that logs one epoch.
KERAS = """class callbacks:
    class Callback:
        pass


class utils:
    @staticmethod
    def set_random_seed(seed):
        pass


class Model:
    def fit(self, loss, callbacks=()):
        for callback in callbacks:
            callback.on_epoch_end(0, {"loss": loss})

    def evaluate(self):
        return {}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, cli, engine_cleanup):
    tmp_path = tmp_path_factory.mktemp("written")
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "train.py").write_text(TRAIN)
    (path / "keras.py").write_text(KERAS)
    cli.run("-q", "freeze", str(path), timeout=600)
    cli.run("-q", "build", str(path), timeout=600)
    return path


@pytest.fixture(scope="module")
def runs(cli, project):
    """Return the record folders of two runs of seed 0 and one of seed 1."""
    folders = []
    for seed in ("0", "0", "1"):
        done = cli.run("run", str(project), "--seed", seed, timeout=600)
        folders += re.findall(r"record: (\S+)/record.json", done.stdout)
    assert len(folders) == 3
    return folders


def test_an_integer_metric_alike_in_two_real_runs_has_delta_0_as_an_int(cli, runs):
    # BA 3: steps 5 and 5 gave "delta": 0.0.
    record = Path(runs[0], "record.json").read_text()
    assert '"steps": 5' in record
    done = cli.run(
        "compare", runs[0], runs[1], "--metric", "steps", "--json", timeout=120
    )
    [result] = json.loads(done.stdout)["results"]
    assert (result["metric"], result["identical"]) == ("steps", True)
    assert result["delta"] == 0 and type(result["delta"]) is int
    assert re.search(r'"delta": 0,', done.stdout)


def test_real_curves_part_by_their_gap_as_written(cli, runs):
    # BA 4: loss 0.5 against 0.6 was "within epsilon 0.1" at
    # --epsilon 0.09999999999999999 (the binary gap is 0.09999999999999998).
    history = json.loads(Path(runs[2], "record.json").read_text())["history"]
    assert history[0]["epochs"] == [{"epoch": 1, "loss": 0.6}]
    # The last epoch's loss is a metric too: only steps is judged here.
    pair = (runs[0], runs[2], "--metric", "steps")
    parted = cli.run(
        "compare", *pair, "--epsilon", "0.09999999999999999", "--json", timeout=120
    )
    [curve] = json.loads(parted.stdout)["curves"]
    assert (curve["epoch"], curve["deltas"]) == (1, {"loss": 0.1})
    assert curve["reason"] == (
        "curves part: loss +0.1 (beyond epsilon 0.09999999999999999)"
    )
    within = cli.run("compare", *pair, "--epsilon", "0.1", timeout=120)
    assert "curves within epsilon 0.1 (largest gap loss 0.1)" in within.stdout


def test_a_real_sweep_with_one_seed_succeeded_is_judged_by_tolerances(cli, project):
    # BA small: seed 2 failed (exit 3) after writing its metrics, so no band
    # formed, yet the verdict ended "nothing beyond seed noise".
    swept = cli.run("run", str(project), "--seeds", "1-2", timeout=600, check=False)
    assert swept.returncode == 1, swept.describe()
    [verdict] = [line for line in swept.stdout.splitlines() if "verdict:" in line]
    assert "seed noise" not in verdict
    assert verdict.endswith("; 1 of 2 metric checks out of tolerance)"), verdict
    assert re.search(
        r"seed sweep \S+: 1 of its 2 seeds succeeded, and a noise band needs two "
        "or more: no band, its runs are judged by the tolerances",
        swept.stdout,
    )
