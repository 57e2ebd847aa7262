"""Find a project's config file and read its reprobox table.

A project folder holds `reprobox.toml`, or a `pyproject.toml` with a
`[tool.reprobox]` table, never both. A file that cannot be read, decoded or
parsed is a ConfigError naming it; checking the keys inside the table is
config.py's work.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from reprobox.errors import ConfigError
from reprobox.number_options import TOO_SMALL, reads_as_zero

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_NAME = "reprobox.toml"


def find_config(project: Path) -> tuple[Path, dict[str, Any]]:
    """Return the config file of a project folder and its raw reprobox table."""
    project = Path(project)
    if not project.is_dir():
        what = "is not a folder" if os.path.lexists(project) else "does not exist"
        raise ConfigError(project, None, what, "give a project folder")
    toml_path = project / CONFIG_NAME
    if toml_path.is_symlink() and not toml_path.exists():
        raise ConfigError(
            toml_path,
            None,
            f"is a symbolic link to {os.readlink(toml_path)}, which does not exist",
            f"point it at the project's config, or make {CONFIG_NAME} a file",
        )
    if toml_path.exists() and not toml_path.is_file():
        kind = "a folder" if toml_path.is_dir() else "not a regular file"
        raise ConfigError(
            toml_path,
            None,
            f"is {kind}, so reprobox cannot read it as the project's config",
            f"move it away, then write {CONFIG_NAME} as a TOML file",
        )
    if toml_path.is_file():
        pyproject = project / "pyproject.toml"
        if pyproject.is_file():
            tool = _read_toml(pyproject).get("tool", {})
            if isinstance(tool, dict) and "reprobox" in tool:
                raise ConfigError(
                    pyproject,
                    "tool.reprobox",
                    f"is there as well as {CONFIG_NAME}; reprobox would read only one",
                    f"keep one: delete {CONFIG_NAME} or the [tool.reprobox] table",
                )
        return toml_path, _read_toml(toml_path)
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(
                pyproject,
                "tool",
                "is not a table",
                "write tool settings as [tool.NAME] sections",
            )
        table = tool.get("reprobox")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(
                    pyproject,
                    "tool.reprobox",
                    "is not a table",
                    "write it as a [tool.reprobox] section",
                )
            return pyproject, table
    raise ConfigError(
        project,
        None,
        f"no {CONFIG_NAME} and no [tool.reprobox] in pyproject.toml",
        f'create {CONFIG_NAME} with at least: command = "python train.py"',
    )


def is_project_folder(folder: Path) -> bool:
    """Tell whether folder holds reprobox.toml or a [tool.reprobox] table.

    The same two places find_config reads, without its errors: a pyproject
    that cannot be read or parsed does not make a folder a project.
    """
    if (folder / CONFIG_NAME).is_file():
        return True
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        tool = _read_toml(pyproject).get("tool", {})
    except ConfigError:
        return False
    return isinstance(tool, dict) and "reprobox" in tool


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot be read: {exc.strerror}") from None
    try:
        # Some editors start a file with a byte-order mark; TOML has no use for it.
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ConfigError(path, None, "is not UTF-8 text", "save it as UTF-8") from None
    if not text.strip():
        raise ConfigError(
            path, None, "is empty", 'add at least: command = "python train.py"'
        )
    try:
        data = tomllib.loads(text, parse_float=_TinyFloat.read)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            path, None, f"is not valid TOML: {exc}", "fix the syntax at that line"
        ) from None
    _refuse_tiny_floats(path, data, "")
    return data


class _TinyFloat(float):
    """A TOML float written nonzero that reads as 0 (1e-400), with its text."""

    text: str

    @classmethod
    def read(cls, text: str) -> float:
        digits = text.replace("_", "")
        number = float(digits)
        if not reads_as_zero(digits, number):
            return number
        tiny = cls(number)
        tiny.text = text
        return tiny

    def __repr__(self) -> str:
        # A key's own check that quotes it names what the user wrote.
        return self.text


# And a type check names it as what it is to the user: a float.
_TinyFloat.__name__ = "float"


# The keys that take a float, and the fix for one too close to 0 to hold.
# Anywhere else a float is refused by the key's own check (a seed is an
# integer, a variable a string), which names the fix that suits it; here
# 1e-400 would pass as 0 (rel = 1e-400 became an exact tolerance).
_FLOAT_KEYS = (
    (
        re.compile(r"metrics\.tolerances\.[^.]+\.(?:abs|rel)"),
        "write 0 for an exact bound, or a number of at least 5e-324",
    ),
    (re.compile(r"run\.cpus"), "give 0.01 or more, e.g. cpus = 1"),
)


def _refuse_tiny_floats(path: Path, value: object, key: str) -> None:
    """Refuse a float too close to 0 to hold where a key takes a float
    (metrics.tolerances.x = { rel = 1e-400 } was read as an exact tolerance)."""
    if isinstance(value, _TinyFloat):
        bare = key.removeprefix("tool.reprobox.")
        for pattern, fix in _FLOAT_KEYS:
            if pattern.fullmatch(bare):
                raise ConfigError(path, key, f"{value.text} {TOO_SMALL}", fix)
        return
    items = value.items() if isinstance(value, dict) else ()
    for name, inner in items:
        _refuse_tiny_floats(path, inner, f"{key}.{name}" if key else name)
    for index, inner in enumerate(value if isinstance(value, list) else ()):
        _refuse_tiny_floats(path, inner, f"{key}[{index}]")
