"""Find a single-value option given twice on a command line.

click keeps the last value of an option that is not `multiple`, so
`--seed 1 --seed 2` ran seed 2 without a word. The command line is read here
as click's parser reads it, driven by the command's own parameters, so every
option of every command is covered, today's and tomorrow's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RepeatedOption:
    """An option that takes one value, given twice, with the values it got."""

    name: str  # its long name where it has one, e.g. --output for -o
    first: str
    second: str


def takes_one_value(param: Any) -> bool:
    """Tell whether a click parameter is an option that keeps one value."""
    return (
        getattr(param, "param_type_name", "") == "option"
        and not param.is_flag
        and not param.count
        and not param.multiple
    )


def find_repeated_option(
    params: Sequence[Any], args: Sequence[str]
) -> RepeatedOption | None:
    """Return the first single-value option that args give twice, else None.

    Options that repeat by design (multiple, lists), flags and counts are not
    looked at. An option's value is the next word whatever it looks like, as
    click takes it; scanning stops at `--`, after which words are arguments.
    """
    by_name = {}
    for param in params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        for name in [*param.opts, *param.secondary_opts]:
            by_name[name] = param
    seen: dict[str, str] = {}
    words = list(args)
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            break
        found = _option_word(word, by_name)
        if found is None:
            continue
        param, value = found
        if value is None and not (param.is_flag or param.count):
            value = " ".join(words[index : index + param.nargs])
            index += param.nargs
        if not takes_one_value(param):
            continue
        if param.name in seen:
            return RepeatedOption(_long_name(param), seen[param.name], value or "")
        seen[param.name] = value or ""
    return None


def _option_word(word: str, by_name: dict) -> tuple[Any, str | None] | None:
    """Return the option a word names and the value written into it, if any.

    `--name=value` and `-xVALUE` carry their value; `--name` and `-x` leave it
    to the next word. A word that names no option gives None.
    """
    if not word.startswith("-") or word == "-":
        return None
    if word.startswith("--"):
        name, sep, value = word.partition("=")
        param = by_name.get(name)
        return None if param is None else (param, value if sep else None)
    if word in by_name:
        return by_name[word], None
    param = by_name.get(word[:2])
    if param is None or param.is_flag or param.count:
        return None  # flags run together (-qv) carry no value
    return param, word[2:]


def _long_name(param: Any) -> str:
    """Name an option by its longest spelling: --output rather than -o."""
    return max(param.opts, key=len)
