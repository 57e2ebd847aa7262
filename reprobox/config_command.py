"""Check the config's command: the words a run starts, with no shell between.

The command runs as a list of words, never through a shell, so a string is
split as a shell would split it and then refused where a shell would have done
more: operators and expansions, a line break, a builtin as the program.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
from pathlib import Path
from typing import Any

from reprobox.config_values import string_list
from reprobox.errors import ConfigError

# What a shell would act on: the command runs without one, so each would
# reach the script as a plain argument (">", "out.txt", "&&", "$HOME").
_SHELL_EXPANSION = re.compile(r"\$(?:\(|\{|[A-Za-z_])|`")


# Words a shell runs itself, with no program behind them on PATH: the first
# word of a command run without a shell must be a program.
_SHELL_BUILTINS = frozenset(
    [
        ".",
        ":",
        "alias",
        "cd",
        "eval",
        "exec",
        "export",
        "for",
        "if",
        "set",
        "source",
        "ulimit",
        "umask",
        "unset",
        "while",
    ]
)


def _refuse_shell_syntax(path: Path, written: str) -> None:
    """Refuse a command string that only a shell would run as meant."""
    lexer = shlex.shlex(written, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return  # shlex.split named the unclosed quote already
    for word in words:
        operator = word and all(c in lexer.punctuation_chars for c in word)
        if operator or _SHELL_EXPANSION.search(word):
            raise ConfigError(
                path,
                "command",
                f"uses shell syntax ({word!r}), but the command runs without a "
                "shell, so it would reach the script as a plain argument",
                f"write command = {json.dumps(['sh', '-c', written])}, or let "
                "the script write its files under $REPROBOX_OUT",
            )


def _refuse_control_characters(path: Path, written: str) -> None:
    """Refuse a command string holding a line break or another control character.

    A shell ends a command at a line break; split without one, the words after
    it reach the script as arguments ("python train.py\nrm -rf /" runs
    train.py with three more). Other control characters and Unicode's line
    separators are invisible in the config and in logs, and split nothing.
    """
    for char in written:
        if char == "\t":
            continue  # a tab separates words, as a blank does
        if char in "\n\r":
            raise ConfigError(
                path,
                "command",
                f"holds a line break ({char!r}), where a shell would end the "
                "command, but it runs without a shell, so the words after it "
                "would reach the script as arguments",
                "write it on one line, or command = "
                f"{json.dumps(['sh', '-c', written])} to run each line",
            )
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise ConfigError(
                path,
                "command",
                f"holds an invisible control character ({char!r})",
                "remove it, or give the command as a list of its words",
            )


def checked_command(path: Path, table: dict[str, Any]) -> tuple[str, ...]:
    """Return the words of the config's command; refuse one that needs a shell."""
    if "command" not in table:
        raise ConfigError(
            path, "command", "is missing", 'add e.g. command = "python train.py"'
        )
    command = table["command"]
    if isinstance(command, str):
        _refuse_control_characters(path, command)
        try:
            command = shlex.split(command)
        except ValueError as exc:
            raise ConfigError(
                path,
                "command",
                f"cannot be split: {exc}",
                "close the quote, or give the command as a list",
            ) from None
        _refuse_shell_syntax(path, table["command"])
    command = string_list(path, "command", command)
    if any("\x00" in word for word in command):
        raise ConfigError(
            path,
            "command",
            "holds a NUL character, which no program can be given",
            "remove it",
        )
    if not command:
        raise ConfigError(
            path, "command", "is empty", 'e.g. command = "python train.py"'
        )
    if command[0] in _SHELL_BUILTINS:
        rest = command[1:]
        raise ConfigError(
            path,
            "command",
            f"starts with {command[0]!r}, a shell builtin, but the command runs "
            "without a shell, so no program of that name would be found",
            f"drop {command[0]!r}" + (f": command = {json.dumps(rest)}" if rest else "")
            if command[0] == "exec"
            else f"write command = {json.dumps(['sh', '-c', shlex.join(command)])}",
        )
    return command
