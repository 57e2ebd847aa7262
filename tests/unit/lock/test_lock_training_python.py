"""--from-env's Python is checked before freezing, in every way it can be wrong."""

from __future__ import annotations

import os
import sys

import pytest

from reprobox.errors import InputError
from reprobox.lock.environment import check_training_python

FIX = "give the Python of the environment you trained in, e.g. .venv/bin/python"


def script(tmp_path, name: str, text: str, mode: int = 0o755) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def refusal(python: str, named_by: str | None = None) -> str:
    named_by = named_by or f"--python-exe {python}"
    with pytest.raises(InputError) as caught:
        check_training_python(python, named_by)
    return str(caught.value)


def test_a_missing_file(tmp_path):
    missing = str(tmp_path / "nope" / "python")
    assert refusal(missing) == (
        f"--python-exe {missing}: not an executable Python (no such file) ({FIX})"
    )


def test_a_folder_with_a_python_inside_names_it(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    assert refusal(str(venv)) == (
        f"--python-exe {venv}: not an executable Python (a folder) "
        f"(give {venv}/bin/python)"
    )
    assert refusal(str(tmp_path / "venv" / "bin")).endswith(f"(a folder) ({FIX})")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may run any file with an x bit")
def test_a_file_this_user_may_not_run(tmp_path):
    text = script(tmp_path, "passwd", "root:x:0:0::/root:/bin/sh\n", mode=0o644)
    assert refusal(text) == (
        f"--python-exe {text}: not an executable Python (this user may not run it) "
        f"({FIX})"
    )


def test_a_file_with_no_execute_bit_even_for_root(tmp_path):
    text = script(tmp_path, "passwd", "root:x:0:0::/root:/bin/sh\n", mode=0o644)
    assert "not an executable Python (" in refusal(text)


def test_a_file_the_kernel_cannot_run(tmp_path):
    garbage = script(tmp_path, "garbage", "\x7fELF not really\n")
    assert refusal(garbage) == (
        f"--python-exe {garbage}: not an executable Python (Exec format error) ({FIX})"
    )


def test_a_program_that_is_no_python(tmp_path):
    quiet = script(tmp_path, "quiet", "#!/bin/sh\nexit 0\n")
    assert refusal(quiet) == (
        f"--python-exe {quiet}: not an executable Python (it printed no Python "
        f"version) ({FIX})"
    )
    shell = script(tmp_path, "shell", "#!/bin/sh\necho oops >&2\nexit 2\n")
    assert refusal(shell) == (
        f"--python-exe {shell}: not an executable Python (exit 2: oops) ({FIX})"
    )


def test_a_python_that_crashes(tmp_path):
    crash = script(tmp_path, "crash", "#!/bin/sh\nkill -SEGV $$\n")
    assert refusal(crash, "python3 on PATH (x)") == (
        f"python3 on PATH (x): not an executable Python (killed by SIGSEGV) ({FIX})"
    )


def test_a_python_too_old_to_read_its_packages(tmp_path):
    old = script(tmp_path, "python2", "#!/bin/sh\necho 'reprobox-python 2 7'\n")
    assert refusal(old) == (
        f"--python-exe {old}: not an executable Python (Python 2.7; reading its "
        f"packages needs 3.8+) ({FIX})"
    )


def test_this_python_passes_and_a_bare_name_is_found_on_path(monkeypatch, tmp_path):
    check_training_python(sys.executable, "--python-exe x")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    check_training_python(os.path.basename(sys.executable), "--python-exe x")
