"""Read the files a command runs from its words.

The command's words name the scripts it runs (through python, a shell, a
launcher such as torchrun, or wrappers unwrap_command sees through); one of
them missing from the project would only fail the run, in the container,
after a build. command_checks refuses such a command; data_checks refuses a
`data` entry naming one of these files.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from typing import NamedTuple

from reprobox.command_wrappers import unwrap_command, unwrap_in_folder
from reprobox.image_paths import walk_from_workdir

_PYTHON = re.compile(r"python(?:[0-9][0-9.]*)?")
_SHELLS = frozenset(("sh", "bash", "dash", "zsh", "ksh"))
# Python's short options that take a value, attached (-Wignore) or as the next
# word; -c and -m end its options.
_PYTHON_VALUED = frozenset("cmWXQ")
_PYTHON_LONG_VALUED = frozenset(("--check-hash-based-pycs",))
# A shell's options that take the next word as their value (-o pipefail).
_SHELL_VALUED = frozenset("oO")
_SHELL_LONG_VALUED = frozenset(("--rcfile", "--init-file"))

# Programs that start a Python script given among their own options:
# `torchrun --nproc_per_node=2 train.py`, `accelerate launch train.py`.
_LAUNCHERS = frozenset(("torchrun", "accelerate", "deepspeed"))
_LAUNCHER_MODULES = frozenset(
    ("torch.distributed.run", "torch.distributed.launch", "accelerate.commands.launch")
)
# Words that end a shell's first command: the script is looked for before them.
_SHELL_OPERATORS = frozenset(("&&", "||", ";", "|", "&"))
# A word a shell would expand (a glob, $NAME, `...`), or that the list form
# passes as is: what file it names is not known here.
_EXPANDED = re.compile(r"[*?\[\]{}$`]")

# (path, by_path): by_path is False for a module's candidate files and for a
# program without a slash, which are looked for elsewhere too (sys.path, PATH).
_Found = list[tuple[str, bool]]


class ScriptPath(NamedTuple):
    """A path the command runs: written is the word as the command writes it
    (/app/sub/../train.py); rel the project path as written from where it
    enters /app (sub/../train.py), which the system walks part by part; project
    its tidied form (train.py); detour the folder outside /app it goes through
    before it enters /app (/tmp in /tmp/../app/x.py), whose parts reprobox
    cannot see, else ""; by_path whether it must be a script in the project."""

    written: str
    rel: str
    project: str
    by_path: bool
    detour: str = ""


def command_files(command: Sequence[str]) -> list[str]:
    """Return the project paths the command's words say it runs.

    The script a Python or shell is given, a `python -m` module (as module.py
    or package/__main__.py), the program itself when it is a relative path,
    the script a launcher (torchrun, accelerate launch) starts, and those of
    the first command a `sh -c` string runs, each also behind wrappers such as
    env, nohup or timeout (none when a wrapper's options are not known). Only
    what the words show: a script's own imports are not followed.
    """
    return [found.project for found in command_paths(command) if not found.detour]


def command_scripts(command: Sequence[str]) -> list[str]:
    """Return the project paths the command runs by their path alone.

    These must be in the project: not a module (found on sys.path), not a
    program named without a slash (found on PATH), not a word a shell expands.
    """
    return [
        found.project
        for found in command_paths(command)
        if found.by_path and not found.detour
    ]


def command_paths(command: Sequence[str]) -> list[ScriptPath]:
    """Return each path the command runs in the project, as its words write it.

    by_path is True for a script run by its path alone: not a module (found on
    sys.path), not a program named without a slash (found on PATH), not a word
    a shell expands. An absolute path counts where it walks into /app, the
    image's workdir; one that ends outside it names a file of the image.
    """
    found = []
    for word, by_path in _written_paths(command):
        if word.startswith("~"):
            continue
        by_path = by_path and not _EXPANDED.search(word)
        walk = walk_from_workdir(word)
        if walk.detour:
            found.append(ScriptPath(word, "", "", by_path, walk.detour))
        elif walk.project is not None:
            found.append(ScriptPath(word, walk.rel, walk.project, by_path))
        elif not word.startswith("/"):
            # ../train.py: out of the project, which missing_script tells.
            found.append(ScriptPath(word, word, posixpath.normpath(word), by_path))
    return found


def _written_paths(command: Sequence[str], depth: int = 0) -> _Found:
    """Return the paths the command runs as its words write them.

    Normalising is the caller's: "train.py/" and "x/../train.py" normalise to
    train.py, but the system resolves them word by word and finds no file.
    """
    # env, nohup, timeout 1h ...: the program they run comes after their words,
    # in the folder `env -C` moves to, if any.
    unwrapped = unwrap_in_folder(command)
    if unwrapped is None or not unwrapped[0]:
        return []
    words, folder = unwrapped
    program, rest = words[0], words[1:]
    name = posixpath.basename(program)
    found: _Found = []
    if _PYTHON.fullmatch(name):
        found = _python_paths(rest)
    elif name in _SHELLS:
        found = _shell_paths(rest, depth)
    elif name in _LAUNCHERS:
        found = _launched_script(rest)
    elif "/" in program or "." in name:
        found = [(program, "/" in program)]
    moved = bool(folder) and posixpath.normpath(folder) != "."
    if moved and not (found and found[0][0] == program and "/" not in program):
        # A relative path is read from the folder moved to: relative itself
        # (sub/train.py, checked in the project) or absolute (/tmp/train.py,
        # a file of the image, as an absolute path is anyway). A program
        # named without a slash is looked for on PATH, wherever it runs.
        found = [(posixpath.join(folder, path), by_path) for path, by_path in found]
    return [(path, by_path) for path, by_path in found if path]


def python_flag_without_value(command: Sequence[str]) -> str | None:
    """Return the -m, -c or other valued option a Python command ends on with
    no value after it (`python -u -m`), which Python refuses to start on."""
    words = unwrap_command(command)
    if not words or not _PYTHON.fullmatch(posixpath.basename(words[0])):
        return None
    return _python_start(words[1:]).unvalued


class _PythonStart(NamedTuple):
    """What Python's arguments start: kind is "script", "module", "code",
    "stdin" or "" (nothing); value is the script or module; after are the
    words that follow it; unvalued is the option left without its value."""

    kind: str = ""
    value: str = ""
    after: Sequence[str] = ()
    unvalued: str | None = None


def _python_start(words: Sequence[str]) -> _PythonStart:
    """Walk Python's options as Python does, up to what it runs."""
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-":  # the script comes on stdin
            return _PythonStart("stdin")
        if word == "--":
            rest = words[i + 1 :]
            return _PythonStart("script", rest[0], rest[1:]) if rest else _PythonStart()
        if word.startswith("--"):
            if word in _PYTHON_LONG_VALUED:
                if i + 1 == len(words):
                    return _PythonStart(unvalued=word)
                i += 2
            else:
                i += 1
            continue
        if not word.startswith("-"):
            return _PythonStart("script", word, words[i + 1 :])
        flags = word[1:]
        at = next((n for n, f in enumerate(flags) if f in _PYTHON_VALUED), None)
        if at is None:  # switches only: -u, -OO, -uB
            i += 1
            continue
        attached = flags[at + 1 :]
        if not attached and i + 1 == len(words):
            return _PythonStart(unvalued=f"-{flags[at]}")
        value = attached or words[i + 1]
        after = words[i + (1 if attached else 2) :]
        if flags[at] == "c":
            return _PythonStart("code", value, after)
        if flags[at] == "m":
            return _PythonStart("module", value, after)
        i += 1 if attached else 2  # -Wignore, -X dev: the options go on
    return _PythonStart()


def _python_paths(words: Sequence[str]) -> _Found:
    """Return the script or module Python's arguments name."""
    start = _python_start(words)
    if start.kind == "script":
        return [(start.value, True)]
    if start.kind != "module":
        return []
    if start.value in _LAUNCHER_MODULES:
        return _launched_script(start.after)
    base = start.value.replace(".", "/")
    return [(f"{base}.py", False), (f"{base}/__main__.py", False)]


def _shell_paths(words: Sequence[str], depth: int) -> _Found:
    """Return the script a shell's arguments name, or a -c string's first one."""
    reads_string = reads_stdin = False
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-", "--"):
            i += 1
            break
        if word.startswith("--"):
            i += 2 if word in _SHELL_LONG_VALUED else 1
            continue
        if not word.startswith(("-", "+")) or len(word) == 1:
            break
        flags = word[1:]
        reads_string |= word.startswith("-") and "c" in flags
        reads_stdin |= word.startswith("-") and "s" in flags
        i += 2 if any(f in _SHELL_VALUED for f in flags) else 1
    first = words[i] if i < len(words) else None
    if first is None or reads_stdin:
        return []
    if not reads_string:
        return [(first, True)]
    if depth > 0:
        return []
    # sh -c "python train.py": the string's first command.
    try:
        inner = shlex.split(first)
    except ValueError:
        return []
    ends = [n for n, w in enumerate(inner) if w in _SHELL_OPERATORS]
    return _written_paths(inner[: ends[0]] if ends else inner, depth + 1)


def _launched_script(words: Sequence[str]) -> _Found:
    """Return the first Python script among a launcher's words, if any."""
    for word in words:
        if word in ("-m", "--module"):  # a module, found on sys.path
            return []
        if word.endswith(".py") and not word.startswith("-"):
            return [(word, True)]
    return []
