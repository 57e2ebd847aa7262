"""Check the variables a config gives the run: its [env] table and pass_env.

[env] fixes values in the image; pass_env names variables taken from the
shell at freeze. Names must be variable names that reprobox does not reserve,
a name may sit in only one of the two, and values must reach the image as
written (one line, no float whose spelling TOML loses).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reprobox.config_values import string_list, unique_items
from reprobox.errors import ConfigError
from reprobox.run_env import reserved_why
from reprobox.secret_shapes import shown_token, token_in_name

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def checked_env(
    path: Path, table: dict[str, Any]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Return the checked [env] table and pass_env list of the config."""
    env = {}
    for key, value in sorted(table.get("env", {}).items()):
        if not ENV_NAME.fullmatch(key):
            raise ConfigError(
                path,
                f"env.{_shown_name(key)}",
                "is not a valid variable name",
                "use letters, digits and '_'",
            )
        why = reserved_why(key)
        if why is not None:
            raise ConfigError(path, f"env.{key}", why, "remove it")
        env[key] = _check_env_value(path, f"env.{key}", value)
    pass_env = string_list(path, "pass_env", table.get("pass_env", []))
    for key in pass_env:
        if not ENV_NAME.fullmatch(key):
            raise ConfigError(
                path,
                "pass_env",
                f"{_shown_name(key)!r} is not a variable name",
                "use letters, digits and '_', not starting with a digit",
            )
        if key in env:
            # Which would win is not for the reader of the config to guess.
            raise ConfigError(
                path,
                "pass_env",
                f"names {key}, which [env] sets too",
                f"keep {key} in one: [env] fixes its value, pass_env takes this "
                "shell's at freeze",
            )
    unique_items(path, "pass_env", pass_env)
    return env, pass_env


def _check_env_value(path: Path, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(
            path, key, "must be a string or an integer", 'write it quoted, e.g. "1"'
        )
    if isinstance(value, float):
        # TOML parsers keep a float's value, not its spelling: 1.5e3 would
        # reach the image as 1500.0 and 1e-7 as 1e-07.
        name = key.rpartition(".")[2]
        raise ConfigError(
            path,
            key,
            f"is a float ({value!r}), whose spelling TOML does not keep",
            f"write it as a string, spelt as the program should read it, "
            f'e.g. {name} = "{value!r}"',
        )
    text = str(value)
    if any(ch in text for ch in "\n\r\x00"):
        raise ConfigError(
            path,
            key,
            "contains a line break or NUL",
            "environment values must be one line",
        )
    if len(text) > 4096:
        raise ConfigError(
            path,
            key,
            "is longer than 4096 characters",
            "put long settings in a file and name the file instead",
        )
    return text


def _shown_name(name: str) -> str:
    """Return a variable name as an error shows it: shortened if it is a token."""
    return shown_token(name) if token_in_name(name) else name
