"""freeze --from-env refuses an environment whose Python is not the image's.

It wrote a lock for python = "3.12" read from a 3.11 environment; only build
found out, with the base image's Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fresh_python import run_reprobox
from typer.testing import CliRunner

from reprobox.cli import app
from reprobox.errors import EXIT_USAGE, ConfigError, InputError


def fake_python(tmp_path: Path, version: str) -> str:
    """Return a program that answers the version probe as Python `version`."""
    major, minor = version.split(".")
    path = tmp_path / f"python{version}"
    path.write_text(f"#!/bin/sh\necho 'reprobox-python {major} {minor}'\n")
    path.chmod(0o755)
    return str(path)


def make_project(tmp_path: Path, config: str, name: str = "reprobox.toml") -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / name).write_text(config)
    (root / "train.py").write_text("print('hi')\n")
    return root


def freeze_exception(project: Path, python: str) -> Exception | None:
    result = CliRunner().invoke(
        app, ["freeze", str(project), "--from-env", "--python-exe", python]
    )
    return result.exception


def test_an_environment_of_another_python_is_refused_before_anything_is_written(
    tmp_path,
):
    project = make_project(
        tmp_path, 'name = "p"\ncommand = "python train.py"\npython = "3.12"\n'
    )
    python = fake_python(tmp_path, "3.11")
    error = freeze_exception(project, python)
    assert isinstance(error, ConfigError)
    assert str(error) == (
        f"{project / 'reprobox.toml'}: python: the image gets Python 3.12, but "
        f"the training environment (--python-exe {python}) runs Python 3.11 "
        '(set python = "3.11", or give an environment of Python 3.12)'
    )
    assert not (project / ".reprobox").exists()


def test_the_default_python_is_checked_too(tmp_path):
    # Unset, python is 3.11: a 3.12 environment is the same mismatch.
    project = make_project(tmp_path, 'name = "p"\ncommand = "python train.py"\n')
    error = freeze_exception(project, fake_python(tmp_path, "3.12"))
    assert isinstance(error, ConfigError)
    assert error.key == "python"
    assert error.message.endswith(
        "python: the image gets Python 3.11, but the training environment "
        f"(--python-exe {tmp_path}/python3.12) runs Python 3.12"
    )
    assert error.hint == 'set python = "3.12", or give an environment of Python 3.11'


def test_a_pyproject_is_named_with_its_own_key(tmp_path):
    project = make_project(
        tmp_path,
        '[project]\nname = "p"\nversion = "0"\n\n[tool.reprobox]\n'
        'command = "python train.py"\npython = "3.10"\n',
        name="pyproject.toml",
    )
    error = freeze_exception(project, fake_python(tmp_path, "3.11"))
    assert isinstance(error, ConfigError)
    assert error.path == project / "pyproject.toml"
    assert error.key == "tool.reprobox.python"
    assert error.hint == (
        'set tool.reprobox.python = "3.11", or give an environment of Python 3.10'
    )


def test_packages_from_env_in_the_config_is_checked_as_the_flag_is(tmp_path):
    project = make_project(
        tmp_path,
        'name = "p"\ncommand = "python train.py"\npython = "3.12"\n\n'
        "[packages]\nfrom_env = true\n",
    )
    result = CliRunner().invoke(
        app, ["freeze", str(project), "--python-exe", fake_python(tmp_path, "3.11")]
    )
    assert isinstance(result.exception, ConfigError)
    assert "runs Python 3.11" in result.exception.message


def test_an_environment_of_the_same_python_goes_on_to_its_packages(tmp_path):
    project = make_project(
        tmp_path, 'name = "p"\ncommand = "python train.py"\npython = "3.12"\n'
    )
    python = fake_python(tmp_path, "3.12")
    error = freeze_exception(project, python)
    # Past the version check, the fake prints no package list.
    assert isinstance(error, InputError) and not isinstance(error, ConfigError)
    assert error.message == f"{python} printed no package list; is it a Python?"


def test_a_real_python_of_another_version_is_refused_in_one_line_exit_2(tmp_path):
    # The report's case: a real environment, the config one minor version up.
    ours = "{}.{}".format(*sys.version_info[:2])
    other = f"3.{sys.version_info.minor + 1}"
    project = make_project(
        tmp_path, f'name = "p"\ncommand = "python train.py"\npython = "{other}"\n'
    )
    python = sys.executable
    result = run_reprobox("freeze", str(project), "--from-env", "--python-exe", python)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.startswith(
        f"reprobox: error: {project / 'reprobox.toml'}: python: the image gets "
        f"Python {other}, but the training environment (--python-exe {python}) "
        f"runs Python {ours} "
    )
    assert result.stderr.endswith(
        f'(set python = "{ours}", or give an environment of Python {other})\n'
    )
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / ".reprobox").exists()


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_the_version_the_probe_read_is_returned(tmp_path, version):
    from reprobox.lock.environment import check_training_python

    major, minor = version.split(".")
    found = check_training_python(fake_python(tmp_path, version), "--python-exe x")
    assert found == (int(major), int(minor))
    assert check_training_python(sys.executable, "x") == sys.version_info[:2]
