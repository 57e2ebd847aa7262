"""Data files that the image must hold instead.

Data files are mounted read-only at run time and left out of the image, so a
`data` entry that names the command's script, its module or the requirements
the lock is made from builds an image without them: the run
works here only through the mount, and push, export and verify ship an image
that cannot run.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from reprobox.errors import ConfigError

_PYTHON = re.compile(r"python(?:[0-9][0-9.]*)?")
_SHELLS = frozenset(("sh", "bash", "dash", "zsh", "ksh"))
# Python options that take the next word as their value.
_PYTHON_VALUED = frozenset(("-W", "-X", "-Q"))
# env's options that take the next word as their value.
_ENV_VALUED = frozenset(("-u", "--unset", "-C", "--chdir", "-S", "--split-string"))


# Programs that start a Python script given among their own options:
# `torchrun --nproc_per_node=2 train.py`, `accelerate launch train.py`.
_LAUNCHERS = frozenset(("torchrun", "accelerate", "deepspeed"))
_LAUNCHER_MODULES = frozenset(
    ("torch.distributed.run", "torch.distributed.launch", "accelerate.commands.launch")
)
# Words that end a shell's first command: the script is looked for before them.
_SHELL_OPERATORS = frozenset(("&&", "||", ";", "|", "&"))


def command_files(command: Sequence[str], depth: int = 0) -> list[str]:
    """Return the project paths the command's words say it runs.

    The script a Python or shell is given, a `python -m` module (as module.py
    or package/__main__.py), the program itself when it is a relative path,
    the script a launcher (torchrun, accelerate launch) starts, and those of
    the first command a `sh -c` string runs. Only what the words show: a
    script's own imports are not followed.
    """
    words = list(command)
    if words and posixpath.basename(words[0]) == "env":
        # env [-options] [NAME=value ...] program args: the program comes next.
        start = 1
        while start < len(words) and (
            words[start].startswith("-") or "=" in words[start]
        ):
            start += 2 if words[start] in _ENV_VALUED else 1
        words = words[start:]
    if not words:
        return []
    program, rest = words[0], words[1:]
    name = posixpath.basename(program)
    found: list[str] = []
    if _PYTHON.fullmatch(name):
        i = 0
        while i < len(rest):
            word = rest[i]
            module = rest[i + 1] if word == "-m" and i + 1 < len(rest) else None
            if word.startswith("-m") and len(word) > 2:
                module = word[2:]
            if module is not None and module in _LAUNCHER_MODULES:
                found += _launched_script(rest[i + 1 :])
                break
            if module is not None:
                base = module.replace(".", "/")
                found += [f"{base}.py", f"{base}/__main__.py"]
                break
            if word == "-c" or word.startswith("-c") or word == "-":
                break
            if word in _PYTHON_VALUED:
                i += 2
                continue
            if word.startswith("-"):
                i += 1
                continue
            found.append(word)
            break
    elif name in _SHELLS:
        options = [w for w in rest if w.startswith("-")]
        if not any(w.startswith("-") and "c" in w[1:] for w in options):
            found += [w for w in rest if not w.startswith("-")][:1]
        elif depth == 0:  # sh -c "python train.py": the string's first command
            string = next((w for w in rest if not w.startswith("-")), "")
            try:
                inner = shlex.split(string)
            except ValueError:
                inner = []
            ends = [i for i, w in enumerate(inner) if w in _SHELL_OPERATORS]
            found += command_files(inner[: ends[0]] if ends else inner, depth + 1)
    elif name in _LAUNCHERS:
        found += _launched_script(rest)
    elif "/" in program or "." in name:
        found.append(program)
    return [
        posixpath.normpath(path)
        for path in found
        if path and not posixpath.isabs(path) and not path.startswith("~")
    ]


def _launched_script(words: Sequence[str]) -> list[str]:
    """Return the first Python script among a launcher's words, if any."""
    return [w for w in words if w.endswith(".py") and not w.startswith("-")][:1]


def refuse_data_the_image_needs(
    config: Path,
    data: Sequence[str],
    command: Sequence[str],
    needed: dict[str, str],
) -> None:
    """Refuse a data entry that names a file the image must carry.

    needed maps other project files the image must hold (the requirements the
    lock is made from) to what they are; the command's script is found in its
    words. Data entries are files, so only the same path counts.
    """
    wanted = dict(needed)
    for path in command_files(command):
        wanted.setdefault(path, "the command's script")
    for entry in data:
        for path, what in wanted.items():
            if entry == path:
                raise ConfigError(
                    config,
                    "data",
                    f"{entry!r} is {what}; data files are mounted at run time and "
                    "left out of the image, so the image would not hold it",
                    f"remove {entry!r} from data: it goes into the image by itself",
                )
