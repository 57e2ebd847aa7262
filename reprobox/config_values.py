"""Checks of config values shared by every section of the config.

Each key is looked up in its section's table of accepted types (check_keys),
and lists of names are checked item by item (string_list, unique_items); a
fault is a ConfigError naming the file, the key and what to write instead.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from reprobox.errors import ConfigError


def check_keys(path: Path, prefix: str, table: dict, spec: dict) -> None:
    """Refuse a key of table that spec does not know, or a value of a wrong type.

    spec maps each key to (the types accepted, what to write instead); prefix
    is the section the keys sit in ("packages."), as the error names them.
    """
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if key not in spec:
            close = difflib.get_close_matches(key, list(spec), n=1)
            fix = (
                f"did you mean {prefix}{close[0]}?"
                if close
                else ("known keys: " + ", ".join(sorted(spec)))
            )
            raise ConfigError(path, dotted, "unknown key", fix)
        types, expected = spec[key]
        if isinstance(value, bool) and bool not in _as_tuple(types):
            raise ConfigError(
                path, dotted, "has the wrong type (bool)", f"use {expected}"
            )
        if not isinstance(value, types):
            kind = type(value).__name__
            raise ConfigError(
                path, dotted, f"has the wrong type ({kind})", f"use {expected}"
            )


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def string_list(path: Path, key: str, values: list) -> tuple[str, ...]:
    """Return values as a tuple; refuse an item that is no non-empty string."""
    for item in values:
        if not isinstance(item, str) or not item:
            raise ConfigError(
                path,
                key,
                f"must hold only non-empty strings, not {item!r}",
                'write each item as a quoted string, e.g. ["a", "b"]',
            )
    return tuple(values)


def unique_items(path: Path, key: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse a list that names one item twice."""
    for i, item in enumerate(values):
        if item in values[:i]:
            raise ConfigError(path, key, f"names {item!r} twice", "list each name once")
    return values
