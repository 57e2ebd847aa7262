"""A number flag that is not plain ASCII digits is refused before any run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_repeat_with_an_underscore_is_refused_and_starts_no_container(
    cli, engine_cleanup, tmp_path
):
    # int() reads "1_0" as 10: the run went ahead ten times.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    done = cli.run(
        "run",
        str(project),
        "--repeat",
        "1_0",
        "--env",
        "SLEEPER_SECONDS=0",
        check=False,
    )
    assert done.returncode == 2, done.describe()
    assert done.stderr == (
        "reprobox: error: invalid value for '--repeat': '1_0' is not a whole "
        "number in ASCII digits; write e.g. --repeat 10 (see reprobox run --help)\n"
    )
    assert engine_cleanup.containers(name) == []
    assert not (project / ".reprobox" / "runs").exists()


@pytest.mark.parametrize(
    ("flag", "value", "meant"),
    [("--seed", "+3", "3"), ("--repeat", "+1", "1"), ("--cpus", "+1", "1")],
)
def test_a_plus_in_a_number_flag_is_refused_and_starts_no_container(
    cli, engine_cleanup, tmp_path, flag, value, meant
):
    # --seed +3 ran seed 3 while --seeds +1 and --gpus +1 were refused.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    done = cli.run(
        "run", str(project), flag, value, "--env", "SLEEPER_SECONDS=0", check=False
    )
    assert done.returncode == 2, done.describe()
    assert done.stderr == (
        f"reprobox: error: invalid value for '{flag}': '{value}' has a \"+\", which "
        f"number options do not take; write e.g. {flag} {meant} "
        "(see reprobox run --help)\n"
    )
    assert engine_cleanup.containers(name) == []
    assert not (project / ".reprobox" / "runs").exists()


@pytest.mark.parametrize(
    ("flag", "value", "fix"),
    [("--seeds", "+1", "--seeds 1"), ("--gpus", "device=+0", "--gpus device=0")],
)
def test_a_plus_in_seeds_or_gpus_is_refused_the_same_way(
    cli, engine_cleanup, tmp_path, flag, value, fix
):
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    done = cli.run("run", str(project), flag, value, check=False)
    assert done.returncode == 2, done.describe()
    assert done.stderr == (
        f'reprobox: error: {flag} {value!r} has a "+", which number options do '
        f"not take (write {fix})\n"
    )
    assert engine_cleanup.containers(name) == []


def test_seeds_with_blanks_are_refused_as_seed_is(cli, engine_cleanup, tmp_path):
    # brk r40 (BC 6a): --seeds ' 1' and '1 , 2' ran; --seed ' 2' is refused.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    done = cli.run("run", str(project), "--seeds", "1 , 2", check=False)
    assert done.returncode == 2, done.describe()
    assert done.stderr == (
        "reprobox: error: --seeds '1 , 2': '1 ' is not N or N-M "
        "(e.g. --seeds 0-4 or --seeds 1,3,5)\n"
    )
    assert engine_cleanup.containers(name) == []
    assert not (project / ".reprobox" / "runs").exists()


def test_a_negative_seed_in_seeds_is_refused_by_its_range(
    cli, engine_cleanup, tmp_path
):
    # --seeds -1 said "'-1' is not N or N-M"; --seed -1 names the range.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    for flag in ("--seeds", "--seed"):
        done = cli.run("run", str(project), f"{flag}=-1", check=False)
        assert done.returncode == 2, done.describe()
        shown = "'-1': -1" if flag == "--seeds" else "-1"
        assert done.stderr == (
            f"reprobox: error: {flag} {shown} is out of range (use 0 to 4294967295; "
            "NumPy and Keras refuse others)\n"
        )
    assert engine_cleanup.containers(name) == []
    assert not (project / ".reprobox" / "runs").exists()
