"""--env values that are not UTF-8 text are one line, exit 2, before any folder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fresh_python import clean_env

from reprobox.cli_run import _parse_env
from reprobox.errors import InputError

# What Python makes of the byte 0xff in an argument or the environment.
NOT_UTF8 = "plain\udcffvalue"


def test_a_value_given_on_the_command_line_is_refused_unshown():
    with pytest.raises(InputError) as caught:
        _parse_env([f"A={NOT_UTF8}"])
    assert caught.value.message == "--env A: the value is not UTF-8 text"
    assert "plain" not in str(caught.value)


def test_a_value_taken_from_the_shell_is_refused(monkeypatch):
    monkeypatch.setenv("T", "sk-proj-Aa1Bb2\udcfeIi9Jj0")
    with pytest.raises(InputError, match=r"^--env T: the value is not UTF-8 text"):
        _parse_env(["T"])


@pytest.mark.parametrize("command", ["run", "verify"])
def test_the_cli_says_it_in_one_line_with_exit_2(tmp_path, command):
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    args = ["run", str(tmp_path)] if command == "run" else ["verify", "img:1"]
    env = clean_env()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reprobox",
            *args,
            "--env",
            b"A=x\xffy".decode("utf-8", "surrogateescape"),
        ],
        env=env,
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, err
    assert err.splitlines() == [
        "reprobox: error: --env A: the value is not UTF-8 text (give text; put "
        "binary data in a data file and pass its name)"
    ], err
    assert "Traceback" not in err
    assert not (tmp_path / ".reprobox").exists()
    assert sorted(os.listdir(tmp_path)) == ["reprobox.toml", "train.py"]
