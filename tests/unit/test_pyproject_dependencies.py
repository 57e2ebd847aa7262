"""A pyproject-only project: its [project].dependencies are what gets locked."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox import freeze as freeze_module
from reprobox.build import check_frozen_inputs
from reprobox.config import load_config
from reprobox.errors import InputError, LockError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.lock import LockResult

PYPROJECT = """\
[project]
name = "tiny"
version = "0.1"
dependencies = [
    "six==1.17.0",
    "numpy>=1.26; python_version >= '3.9'",
]

[tool.reprobox]
command = "python train.py"
base_image = "reg.example:5000/base:1"
"""


def pyproject_project(tmp_path: Path, text: str = PYPROJECT) -> Path:
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / "train.py").write_text("print(1)\n")
    return tmp_path


@pytest.fixture
def seen_lines(monkeypatch):
    seen: list[list[str]] = []

    def resolve(lines, **kwargs):
        seen.append(list(lines))
        return LockResult(
            text="six==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n",
            pins={"six": "1.17.0"},
            warnings=(),
            needs_git=False,
            resolver="fake 1",
            vcs_requirements=(),
        )

    monkeypatch.setattr(freeze_module, "resolve_lock", resolve)
    return seen


def test_project_dependencies_are_the_requirements(tmp_path, seen_lines):
    cfg = load_config(pyproject_project(tmp_path))
    assert cfg.requirements == "pyproject.toml"

    result = freeze_project(cfg, environ={})

    assert seen_lines[-1] == ['numpy>=1.26; python_version >= "3.9"', "six==1.17.0"]
    assert result.manifest["packages"]["source"] == "requirements"
    assert result.manifest["requirements_sha256"]


def test_a_requirements_file_still_wins_over_project_dependencies(tmp_path):
    pyproject_project(tmp_path)
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    assert load_config(tmp_path).requirements == "requirements.txt"


def test_editing_the_dependencies_after_freeze_is_refused_but_not_other_tables(
    tmp_path, seen_lines
):
    cfg = load_config(pyproject_project(tmp_path))
    write_frozen(cfg, freeze_project(cfg, environ={}))
    path = tmp_path / "pyproject.toml"

    path.write_text(PYPROJECT.replace('version = "0.1"', 'version = "0.2"'))
    check_frozen_inputs(load_config(tmp_path))  # not a dependency: still fine

    path.write_text(PYPROJECT.replace("six==1.17.0", "six==1.16.0"))
    with pytest.raises(
        InputError,
        match=r"pyproject.toml: its \[project\].dependencies changed since freeze",
    ):
        check_frozen_inputs(load_config(tmp_path))


@pytest.mark.parametrize(
    ("project_table", "message"),
    [
        ('dynamic = ["dependencies"]', "project.dependencies is dynamic"),
        ('dependencies = "six"', "project.dependencies must be a list of strings"),
        ("dependencies = [1]", "project.dependencies must be a list of strings"),
        ('dependencies = ["six=="]', r"project.dependencies\[0\]: not a valid"),
        ('dependencies = ["./wheels/six.whl"]', "is a local path"),
    ],
)
def test_bad_dependencies_name_the_file_and_field(
    tmp_path, seen_lines, project_table, message
):
    text = f'[project]\nname = "tiny"\n{project_table}\n\n[tool.reprobox]\n'
    text += 'command = "python train.py"\n'
    cfg = load_config(pyproject_project(tmp_path, text))
    assert cfg.requirements == "pyproject.toml"
    with pytest.raises((InputError, LockError), match=message) as caught:
        freeze_project(cfg, environ={})
    assert str(tmp_path / "pyproject.toml") in caught.value.message


def test_a_project_table_without_dependencies_is_not_taken_for_requirements(tmp_path):
    text = '[project]\nname = "tiny"\n\n[tool.reprobox]\ncommand = "python t.py"\n'
    assert load_config(pyproject_project(tmp_path, text)).requirements is None


def test_removing_the_default_requirements_file_after_freeze_is_refused(
    tmp_path, seen_lines
):
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("print(1)\n")
    cfg = load_config(tmp_path)
    write_frozen(cfg, freeze_project(cfg, environ={}))

    (tmp_path / "requirements.txt").unlink()
    with pytest.raises(InputError) as caught:
        check_frozen_inputs(load_config(tmp_path))
    assert caught.value.message == (
        f"{tmp_path}: the requirements file locked at freeze is gone"
    )
