"""The files the command runs, and data files that the image must hold instead.

The command's words name the scripts it runs; one of them missing from the
project would only fail the run, in the container, after a build. Data files
are mounted read-only at run time and left out of the image, so a `data` entry
that names the command's script, its module or the requirements the lock is
made from builds an image without them: the run works here only through the
mount, and push, export and verify ship an image that cannot run.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from reprobox.command_wrappers import unwrap_command
from reprobox.errors import ConfigError

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

# The image's workdir, a folder of the root: a path into it names a project file.
_WORKDIR = "app"

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
        walk = _walk(word)
        if walk.detour:
            found.append(ScriptPath(word, "", "", by_path, walk.detour))
        elif walk.project is not None:
            found.append(ScriptPath(word, walk.rel, walk.project, by_path))
        elif not word.startswith("/"):
            # ../train.py: out of the project, which missing_script tells.
            found.append(ScriptPath(word, word, posixpath.normpath(word), by_path))
    return found


class _Walk(NamedTuple):
    """Where a path goes from /app (a relative one) or / (an absolute one):
    rel is the project path as written from where it enters /app; project its
    tidied form, None where the path ends outside /app; detour the folder
    outside /app it goes through before it enters it."""

    rel: str = ""
    project: str | None = None
    detour: str = ""


def _walk(word: str) -> _Walk:
    """Follow word part by part as the system would, from /app or from /.

    Only the parts written: a link on the way is followed by reaches_in_image,
    which sees the project's files. At / a ".." stays at /, and "app" enters
    /app again; any other folder there is one of the base image's.
    """
    parts = word.split("/")
    where = "root" if word.startswith("/") else "app"
    entered = 0 if where == "app" else None  # the part the walk enters /app at
    inside: list[str] = []  # the folders under /app it is in
    depth = 0  # how deep it is in a folder outside /app
    outside = detour = ""
    for n, part in enumerate(parts):
        if part in ("", "."):
            continue
        if where == "app":
            if part != "..":
                inside.append(part)
            elif inside:
                inside.pop()
            else:
                where = "root"
        elif where == "root":
            if part == _WORKDIR:
                where, detour = "app", outside
                entered = n + 1 if entered is None else entered
            elif part != "..":
                where, depth, outside = "outside", 1, outside or f"/{part}"
        elif part == "..":
            depth -= 1
            where = "root" if depth == 0 else where
        else:
            depth += 1
    if where != "app" or entered is None:
        return _Walk()
    if detour:
        return _Walk(detour=detour)
    rel = "/".join(parts[entered:]).lstrip("/") or "."
    return _Walk(rel, "/".join(inside) or ".")


def _written_paths(command: Sequence[str], depth: int = 0) -> _Found:
    """Return the paths the command runs as its words write them.

    Normalising is the caller's: "train.py/" and "x/../train.py" normalise to
    train.py, but the system resolves them word by word and finds no file.
    """
    # env, nohup, timeout 1h ...: the program they run comes after their words.
    words = unwrap_command(command)
    if not words:
        return []
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


def reaches_in_image(root: Path, written: str, kept: set[str]) -> str | None:
    """Follow written through the image's files as the system would; return
    the project path it ends at, or None where it ends at no file.

    kept holds the project paths that go into the image: files and links
    (links are copied as links, pointing where they resolve). A folder the
    image has no file under (empty, or left out) is not there, so a path
    through it ("sub/../train.py") ends at nothing; a file followed by a
    slash ("train.py/") too. A folder holding __main__.py is a script.
    """
    folders = {""}
    for rel in kept:
        parts = rel.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    queue = written.split("/")
    here: list[str] = []
    hops = 0
    while queue:
        part = queue.pop(0)
        if part in ("", "."):
            if here and "/".join(here) not in folders:
                return None  # "train.py/" or "train.py/.": a file is no folder
            continue
        if part == ".." and not here:
            # /app/.. is /, whose own ".." is / again: the walk comes back into
            # the project only through "app" (../app/train.py).
            while queue and queue[0] in ("", ".", ".."):
                queue.pop(0)
            if not queue or queue.pop(0) != _WORKDIR:
                return None  # out of the project
            continue
        if part == "..":
            if "/".join(here) not in folders:
                return None  # "train.py/.."
            here.pop()
            continue
        path = "/".join([*here, part])
        if path in kept and (root / path).is_symlink():
            hops += 1
            try:
                target = (root / path).resolve().relative_to(root.resolve())
            except (OSError, RuntimeError, ValueError):
                return None
            if hops > 40:
                return None
            here = []
            queue = [p for p in target.as_posix().split("/") if p != "."] + queue
            continue
        if path in folders or path in kept:
            here.append(part)
            continue
        return None
    end = "/".join(here)
    if end in kept:
        return end
    main = f"{end}/__main__.py" if end else "__main__.py"
    return main if end in folders and main in kept else None


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


def missing_script(root: Path, written: str) -> str | None:
    """Tell what the project has at a script path, written from the project
    folder as the command writes it, if not a script.

    None when the path names a file, or a folder Python can run (one holding
    __main__.py); else "nothing", "a folder", "a broken link", "outside" for a
    path that leads out of the project, or "not as written" for a file the
    words reach only once normalised ("train.py/").
    """
    walk = _walk(written)
    if walk.project is None:
        return "outside"
    full = root / walk.project
    # os.path, not Path: Path drops a trailing slash as normpath does. The
    # project folder is not /: ../app/train.py is read from where it comes back.
    as_written = os.path.join(root, _back_in(written))
    if os.path.isfile(as_written) or os.path.isfile(
        os.path.join(as_written, "__main__.py")
    ):
        return None
    if full.is_file() or (full / "__main__.py").is_file():
        return "not as written"
    if full.is_symlink() and not full.exists():
        return "a broken link"
    return "a folder" if full.is_dir() else "nothing"


def _back_in(rel: str) -> str:
    """Return rel with each ".." that leaves the project for / and the "app"
    that comes back from there written as "." (../app/x.py: ./x.py)."""
    parts = rel.split("/")
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(parts):
        part = parts[i]
        i += 1
        if part == ".." and depth == 0:
            while parts[i] in ("", ".", ".."):  # _walk ends it in /app
                i += 1
            i += 1
            part = "."
        elif part not in ("", "."):
            depth += -1 if part == ".." else 1
        out.append(part)
    return "/".join(out)


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
