"""A command whose script the image would not hold is refused at freeze and build."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.build import project_files, refuse_command_left_out
from reprobox.config import load_config
from reprobox.errors import ConfigError


def project(tmp_path: Path, command: str | list[str], files: dict[str, str]) -> Path:
    # repr of a str or a list of them is TOML: a literal string, an array.
    (tmp_path / "reprobox.toml").write_text(f"command = {command!r}\n")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def refused(root: Path) -> ConfigError | None:
    cfg = load_config(root)
    try:
        refuse_command_left_out(cfg, project_files(cfg))
    except ConfigError as exc:
        return exc
    return None


def test_a_script_reproboxignore_leaves_out_is_refused_naming_the_file(tmp_path):
    # bv 2: freeze and build took it; the run failed, exit 1, "can't open file".
    root = project(
        tmp_path,
        "python train.py",
        {"train.py": "print(1)\n", ".reproboxignore": "*.py\n"},
    )
    error = refused(root)
    assert error is not None
    assert error.message == (
        f"{root / 'reprobox.toml'}: command: runs 'train.py', which is not copied "
        "into the image (.reproboxignore leaves it out), so the run could not "
        "start it"
    )
    assert error.hint == "remove the .reproboxignore line that matches it"


@pytest.mark.parametrize(
    "command",
    [
        # bw 3: the list form README recommends, and launchers.
        ["sh", "-c", "python train.py"],
        "accelerate launch train.py",
        "torchrun --nproc_per_node=1 train.py",
    ],
)
def test_a_script_started_through_a_shell_or_launcher_is_found(tmp_path, command):
    files = {"train.py": "print(1)\n", ".reproboxignore": "train.py\n"}
    error = refused(project(tmp_path, command, files))
    assert error is not None and "runs 'train.py'" in error.message


def test_a_module_whose_folder_is_left_out_is_refused(tmp_path):
    root = project(
        tmp_path,
        "python -m pkg.cli --epochs 3",
        {"pkg/cli.py": "print(1)\n", ".reproboxignore": "pkg/\n"},
    )
    error = refused(root)
    assert error is not None and "runs 'pkg/cli.py'" in error.message


@pytest.mark.parametrize(
    ("command", "files"),
    [
        ("python train.py", {"train.py": "print(1)\n", ".reproboxignore": "data/\n"}),
        # A negation puts it back, as git reads it.
        (
            "python train.py",
            {"train.py": "x\n", ".reproboxignore": "*.py\n!train.py\n"},
        ),
        # Not in the project at all: an installed program, or a script made
        # elsewhere; nothing here says the image lacks what it needs.
        ("python -m pkg.cli", {".reproboxignore": "pkg/\n"}),
        ("python -c 'print(1)'", {}),
        ("bash run.sh", {"run.sh": "echo hi\n"}),
    ],
)
def test_a_command_the_image_holds_is_taken(tmp_path, command, files):
    assert refused(project(tmp_path, command, files)) is None
