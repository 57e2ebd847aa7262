"""run --repeat and run -H A -H B give compare's verdict on a real engine (F2).

Two runs of one setup whose acc differs within its tolerance: repeats fail in
both commands, whatever the tolerance; runs on two engines are judged by it,
repeats on each of them too when each engine's repeats agree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import freeze_and_build

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE1,
    ENGINE2,
    engine1_client,
    engine2_client,
    two_engine_cleanup,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
# acc differs from run to run by under 7e-4, well within abs 0.01.
WOBBLE = """import json, os
acc = 0.5 + int.from_bytes(os.urandom(2), "big") / 1e8
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    json.dump({"acc": acc}, out)
"""
# acc is 0.5 on engine 1 and 0.5001 on engine 2, run after run: each engine's
# root filesystem lies under its own data root, which the container can read.
PER_ENGINE = """import json, os
with open("/proc/self/mountinfo") as mounts:
    second = "reprobox-engine2" in mounts.read()
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    json.dump({"acc": 0.5001 if second else 0.5}, out)
"""


def _project(tmp_path_factory, cli, cleanup, script: str) -> Path:
    tmp_path = tmp_path_factory.mktemp("one-setup")
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    cleanup.names.append(name)
    (path / "train.py").write_text(script)
    with (path / "reprobox.toml").open("a") as toml:
        toml.write("\n[metrics]\ntolerances = { acc = { abs = 0.01 } }\n")
    freeze_and_build(path)
    return path


@pytest.fixture(scope="module")
def wobbly(tmp_path_factory, cli, two_engine_cleanup):
    return _project(tmp_path_factory, cli, two_engine_cleanup, WOBBLE)


@pytest.fixture(scope="module")
def per_engine(tmp_path_factory, cli, two_engine_cleanup):
    return _project(tmp_path_factory, cli, two_engine_cleanup, PER_ENGINE)


def _verdict(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("verdict: "))


def _both_commands(cli, path: Path, *args: str, runs: int = 2) -> tuple[int, str, dict]:
    """Run, as text then as JSON; check compare of each run's records agrees."""
    text = cli.run("-q", "run", str(path), *args, timeout=600, check=False)
    said = _verdict(text.stdout)
    folders = re.findall(r"record: (\S+)/record.json", text.stdout)
    assert len(folders) == runs, text.describe()
    again = cli.run("compare", *folders, timeout=120, check=False)
    assert again.returncode == text.returncode, again.describe()
    assert _verdict(again.stdout) == said

    as_json = cli.run("-q", "run", str(path), *args, "--json", timeout=600, check=False)
    assert as_json.returncode == text.returncode, as_json.describe()
    comparison = json.loads(as_json.stdout)["comparison"]
    folders = [path / ".reprobox" / "runs" / r["run_id"] for r in comparison["runs"]]
    again = cli.run("compare", *map(str, folders), "--json", timeout=120, check=False)
    assert again.returncode == text.returncode, again.describe()
    assert json.loads(again.stdout)["passed"] is comparison["passed"]
    return text.returncode, said, comparison


def test_repeats_that_differ_within_tolerance_fail_in_run_and_compare(cli, wobbly):
    code, said, comparison = _both_commands(cli, wobbly, "--repeat", "2")
    assert code == 1
    assert said.startswith(
        "verdict: FAIL (repeats of one setup gave different acc: nondeterminism, "
        "which no tolerance allows"
    )
    assert comparison["passed"] is False
    assert [r["passed"] for r in comparison["runs"]] == [False, False]
    assert [f["repeats_disagree"] for f in comparison["nondeterminism"]] == [True]


def test_a_sweep_whose_repeats_differ_has_no_seed_noise_and_no_band(cli, wobbly):
    # brk r37 12: the failed sweep runs kept seed_noise true in JSON, and each
    # seed's first repeat went into the noise band as that seed's value.
    done = cli.run(
        "-q",
        "run",
        str(wobbly),
        "--seeds",
        "0-1",
        "--repeat",
        "2",
        "--json",
        timeout=600,
        check=False,
    )
    assert done.returncode == 1, done.describe()
    comparison = json.loads(done.stdout)["comparison"]
    assert [r["seed_noise"] for r in comparison["runs"]] == [False] * 4
    assert all(not r["seed_noise"] for r in comparison["results"])
    assert comparison["noise_bands"] == []
    left_out = [n for n in comparison["notes"] if "left out of the noise band" in n]
    assert (
        len(left_out) == 2
        and "acc of seed 0 differs among its repeats" in (left_out[0])
    )


@pytest.mark.second_engine
def test_two_engines_of_one_setup_within_tolerance_pass_in_run_and_compare(cli, wobbly):
    code, said, comparison = _both_commands(cli, wobbly, "-H", ENGINE1, "-H", ENGINE2)
    assert code == 0
    assert said.startswith("verdict: PASS (all 1 metric checks within tolerance)")
    assert comparison["passed"] is True
    assert [r["passed"] for r in comparison["runs"]] == [True, True]
    # Told, not judged: two engines here record one setup.
    assert [f["repeats_disagree"] for f in comparison["nondeterminism"]] == [False]


@pytest.mark.second_engine
def test_repeats_that_agree_on_each_of_two_engines_pass_within_tolerance(
    cli, per_engine
):
    # Round 36 B: run --repeat 2 -H A -H B failed as if repeats disagreed,
    # when each engine's repeats agreed and the engines differed by 1e-4.
    code, said, comparison = _both_commands(
        cli, per_engine, "--repeat", "2", "-H", ENGINE1, "-H", ENGINE2, runs=4
    )
    assert code == 0, said
    assert said.startswith("verdict: PASS (all 3 metric checks within tolerance)")
    assert "but runs of one setup gave different acc" in said
    assert [r["passed"] for r in comparison["runs"]] == [True] * 4
    [finding] = comparison["nondeterminism"]
    assert (finding["engines"], finding["repeats"]) == (2, True)
    assert (finding["repeats_disagree"], finding["disagreeing_repeats"]) == (
        False,
        [],
    )

    # Whichever run is the reference, the same verdict and no run fails.
    folders = [
        str(per_engine / ".reprobox" / "runs" / r["run_id"]) for r in comparison["runs"]
    ]
    for reference in folders:
        again = cli.run(
            "compare", *folders, "--reference", reference, "--json", timeout=120
        )
        judged = json.loads(again.stdout)
        assert judged["passed"] is True
        assert [r["passed"] for r in judged["runs"]] == [True] * 4
