"""A script behind a wrapper (nohup, timeout 1h, numactl ...) is checked too."""

from __future__ import annotations

from pathlib import Path

import pytest
from command_projects import project as write_project
from command_projects import refused

from reprobox.command_wrappers import unwrap_command

# bx: each took a missing script; the run failed in the container with
# "can't open file '/app/nope.py'" after a build.
WRAPPED = [
    ["nohup", "python", "nope.py"],
    ["nohup", "--", "python", "nope.py"],
    ["timeout", "3600", "python", "nope.py"],
    ["timeout", "-s", "INT", "1h", "python", "nope.py"],
    ["timeout", "--kill-after=5", "1h", "python", "nope.py"],
    ["timeout", "-k5", "--signal", "TERM", "--foreground", "1h", "python", "nope.py"],
    ["stdbuf", "-oL", "python", "nope.py"],
    ["stdbuf", "-o", "0", "--error=L", "python", "nope.py"],
    ["time", "python", "nope.py"],
    ["time", "-p", "python", "nope.py"],
    ["/usr/bin/time", "-o", "t.txt", "-f", "%e", "python", "nope.py"],
    ["numactl", "--cpunodebind=0", "python", "nope.py"],
    ["numactl", "-N", "0", "-m", "0", "python", "nope.py"],
    ["numactl", "--interleave", "all", "-l", "python", "nope.py"],
    ["sh", "-c", "exec python nope.py"],
    ["sh", "-c", "exec -a train python nope.py"],
    ["nice", "-n", "10", "python", "nope.py"],
    ["nice", "-10", "python", "nope.py"],
    ["nice", "--adjustment=5", "python", "nope.py"],
    ["ionice", "-c", "2", "-n", "0", "python", "nope.py"],
    ["ionice", "-c3", "-t", "python", "nope.py"],
    ["taskset", "-c", "0-3", "python", "nope.py"],
    ["taskset", "0x3", "python", "nope.py"],
    ["chrt", "-f", "10", "python", "nope.py"],
    ["chrt", "--rr", "1", "python", "nope.py"],
    ["setsid", "python", "nope.py"],
    ["setsid", "-w", "python", "nope.py"],
    ["xvfb-run", "-a", "python", "nope.py"],
    ["xvfb-run", "-a", "-s", "-screen 0 640x480x24", "python", "nope.py"],
    ["env", "-u", "X", "python", "nope.py"],
    ["env", "-i", "--chdir=.", "A=1", "B=2", "python", "nope.py"],
    ["env", "-", "python", "nope.py"],
    ["nohup", "timeout", "1h", "env", "A=1", "nice", "python", "nope.py"],
    ["timeout", "1h", "torchrun", "--nproc_per_node=2", "nope.py"],
    ["nohup", "./nope.sh"],
]


def project(tmp_path: Path, command: list[str], files: tuple[str, ...] = ()) -> Path:
    return write_project(tmp_path, command, dict.fromkeys(files, "print(1)\n"))


@pytest.mark.parametrize("command", WRAPPED)
def test_a_missing_script_behind_a_wrapper_is_refused(tmp_path, command):
    # Named as the command writes it.
    name = "./nope.sh" if command[-1] == "./nope.sh" else "nope.py"
    root = project(tmp_path, command)
    error = refused(root)
    assert error is not None
    assert error.message == (
        f"{root / 'reprobox.toml'}: command: runs {name!r}, which is not in the "
        "project (no such file), so the run could not start it"
    )


@pytest.mark.parametrize("command", WRAPPED)
def test_a_script_behind_a_wrapper_that_exists_is_taken(tmp_path, command):
    root = project(tmp_path, command, ("nope.py", "nope.sh"))
    assert refused(root) is None


@pytest.mark.parametrize("command", WRAPPED)
def test_a_script_behind_a_wrapper_that_reproboxignore_leaves_out_is_refused(
    tmp_path, command
):
    root = project(tmp_path, command, ("nope.py", "nope.sh"))
    (root / ".reproboxignore").write_text("nope.*\n")
    error = refused(root)
    assert error is not None
    assert ".reproboxignore leaves it out" in error.message


@pytest.mark.parametrize(
    "command",
    [
        # An option not known here: it may take a value, or mean no command.
        ["timeout", "--bogus", "1h", "python", "nope.py"],
        ["timeout", "--kill", "5", "1h", "python", "nope.py"],  # an abbreviation
        ["nohup", "-x", "python", "nope.py"],
        ["stdbuf", "-z", "python", "nope.py"],
        ["time", "-x", "python", "nope.py"],
        ["numactl", "--huge", "python", "nope.py"],
        ["nice", "--10", "python", "nope.py"],
        ["ionice", "-p", "1", "python", "nope.py"],
        ["taskset", "-p", "0x3", "1"],
        ["chrt", "-m"],
        ["chrt", "-o", "python", "nope.py"],  # no priority: a newer chrt's reading
        ["setsid", "--session", "python", "nope.py"],
        ["xvfb-run", "--unknown", "python", "nope.py"],
        ["env", "-S", "python nope.py"],
        # A switch given a value, a value option with none left.
        ["setsid", "--fork=1", "python", "nope.py"],
        ["timeout", "-s"],
        ["timeout"],
    ],
)
def test_a_wrapper_read_only_in_part_makes_the_check_give_up(tmp_path, command):
    assert unwrap_command(command) is None
    assert refused(project(tmp_path, command)) is None


@pytest.mark.parametrize(
    "command, runs",
    [
        (["timeout", "1h", "python", "-u", "t.py"], ["python", "-u", "t.py"]),
        (["env", "A=1", "-u", "B", "python"], ["-u", "B", "python"]),  # as env reads
        (["nice", "-n", "-5", "python"], ["python"]),
        (["time", "--", "-x"], ["-x"]),
        (["python", "t.py"], ["python", "t.py"]),
        (["nohup"], []),
    ],
)
def test_unwrap_returns_the_command_a_wrapper_runs(command, runs):
    assert unwrap_command(command) == runs


# brk r48 (BP 1): env -C moved the command elsewhere, but its script was
# checked as if in the workdir: `env -C /tmp python train.py` passed freeze
# and failed the run; `env -C /tmp python nope.py` was refused as missing.
@pytest.mark.parametrize(
    ("command", "checked"),
    [
        (["env", "-C", "sub", "python", "t.py"], ["sub/t.py"]),
        (["env", "--chdir=sub", "python", "t.py"], ["sub/t.py"]),
        (["env", "--chdir", "sub", "sh", "-c", "python t.py"], ["sub/t.py"]),
        (["env", "-iCsub", "python", "t.py"], ["sub/t.py"]),
        (["env", "-C", "a", "nohup", "env", "-C", "b", "python", "t.py"], ["a/b/t.py"]),
        (["env", "-C", "sub", "./run.sh"], ["sub/run.sh"]),
        (["env", "-C", "..", "python", "app/t.py"], ["t.py"]),
        # Out of /app: a file of the image, as `python /tmp/t.py` names one.
        (["env", "-C", "/tmp", "python", "t.py"], []),
        # A program without a slash is found on PATH wherever it runs.
        (["env", "-C", "sub", "run.sh"], []),
    ],
)
def test_a_script_is_looked_for_where_env_chdir_moves(command, checked):
    from reprobox.command_words import command_scripts

    assert command_scripts(command) == checked


def test_a_script_missing_where_env_chdir_moves_is_refused(tmp_path):
    root = project(tmp_path, ["env", "-C", "sub", "python", "t.py"], ("t.py",))
    error = refused(root)
    assert error is not None
    assert error.message == (
        f"{root / 'reprobox.toml'}: command: runs 'sub/t.py', which is not in the "
        "project (no such file), so the run could not start it"
    )
    (tmp_path / "b").mkdir()
    root = project(tmp_path / "b", ["env", "-C", "/tmp", "python", "nope.py"])
    assert refused(root) is None  # /tmp/nope.py: the image's, not the project's
