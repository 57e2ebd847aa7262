"""Write a one-command project and ask whether its command is refused."""

from __future__ import annotations

from pathlib import Path

from reprobox.command_checks import refuse_command_that_cannot_start
from reprobox.config import load_config
from reprobox.errors import ConfigError
from reprobox.image_files import project_files


def project(tmp_path: Path, command: str | list[str], files: dict[str, str]) -> Path:
    """Write reprobox.toml with command, and files (path to text) beside it."""
    # repr of a str or a list of them is TOML: a literal string, an array.
    (tmp_path / "reprobox.toml").write_text(f"command = {command!r}\n")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def refused(root: Path) -> ConfigError | None:
    """Return the error freeze and build give for root's command, else None."""
    cfg = load_config(root)
    try:
        refuse_command_that_cannot_start(cfg, project_files(cfg))
    except ConfigError as exc:
        return exc
    return None
