"""Programs that run the command given after their own words, and their options.

`nohup python train.py`, `timeout -s INT 1h python train.py`: the script is
the wrapped command's, so the wrapper and its options are skipped, each option
read as the tool's own parser (getopt, stopping at the first operand) reads
it. An option not listed here makes the reading give up rather than guess:
it may take a value, or mean that no command follows (`taskset -p PID`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_SWITCH, _VALUE, _OPTIONAL = "switch", "value", "optional"
_ASSIGNMENT = re.compile(r"[^=]+=")


@dataclass(frozen=True)
class _Wrapper:
    """How one wrapper's words read before the command it runs."""

    short: dict[str, str] = field(default_factory=dict)  # letter: kind
    long: dict[str, str] = field(default_factory=dict)  # name: kind
    operands: tuple[re.Pattern[str], ...] = ()  # words before the command
    assignments: bool = False  # env: NAME=value words before the command
    numeric_option: bool = False  # nice's old `-10`
    chdir: tuple[str, str] = ()  # env's -C/--chdir: the option that moves it


def _wrapper(*specs: tuple[str, str | None, str], **rest) -> _Wrapper:
    """Make a wrapper from (letter, long name, kind) triples; "" or None: none."""
    short = {letter: kind for letter, _, kind in specs if letter}
    long = {name: kind for _, name, kind in specs if name}
    return _Wrapper(short, long, **rest)


_ANY = re.compile(r".+")
_WRAPPERS: dict[str, _Wrapper] = {
    "nohup": _wrapper(),
    "setsid": _wrapper(
        ("c", "ctty", _SWITCH), ("f", "fork", _SWITCH), ("w", "wait", _SWITCH)
    ),
    "env": _wrapper(
        ("i", "ignore-environment", _SWITCH),
        ("0", "null", _SWITCH),
        ("v", "debug", _SWITCH),
        ("u", "unset", _VALUE),
        ("C", "chdir", _VALUE),
        ("", "block-signal", _OPTIONAL),
        ("", "default-signal", _OPTIONAL),
        ("", "ignore-signal", _OPTIONAL),
        assignments=True,
        chdir=("C", "chdir"),
    ),
    "timeout": _wrapper(
        ("f", "foreground", _SWITCH),
        ("p", "preserve-status", _SWITCH),
        ("v", "verbose", _SWITCH),
        ("k", "kill-after", _VALUE),
        ("s", "signal", _VALUE),
        operands=(_ANY,),  # the duration
    ),
    "stdbuf": _wrapper(
        ("i", "input", _VALUE), ("o", "output", _VALUE), ("e", "error", _VALUE)
    ),
    # GNU time; a shell's `time` keyword takes -p alone.
    "time": _wrapper(
        ("a", "append", _SWITCH),
        ("p", "portability", _SWITCH),
        ("q", "quiet", _SWITCH),
        ("v", "verbose", _SWITCH),
        ("f", "format", _VALUE),
        ("o", "output", _VALUE),
    ),
    "nice": _wrapper(("n", "adjustment", _VALUE), numeric_option=True),
    # -p, -P and -u act on running processes: no command follows.
    "ionice": _wrapper(
        ("c", "class", _VALUE), ("n", "classdata", _VALUE), ("t", "ignore", _SWITCH)
    ),
    "taskset": _wrapper(
        ("a", "all-tasks", _SWITCH),
        ("c", "cpu-list", _SWITCH),
        operands=(_ANY,),  # the mask or CPU list
    ),
    # A priority that is not a number: a newer chrt may let it out; give up.
    "chrt": _wrapper(
        ("b", "batch", _SWITCH),
        ("d", "deadline", _SWITCH),
        ("f", "fifo", _SWITCH),
        ("i", "idle", _SWITCH),
        ("o", "other", _SWITCH),
        ("r", "rr", _SWITCH),
        ("R", "reset-on-fork", _SWITCH),
        ("v", "verbose", _SWITCH),
        ("T", "sched-runtime", _VALUE),
        ("P", "sched-period", _VALUE),
        ("D", "sched-deadline", _VALUE),
        operands=(re.compile(r"[0-9]+"),),
    ),
    "numactl": _wrapper(
        ("a", "all", _SWITCH),
        ("l", "localalloc", _SWITCH),
        ("i", "interleave", _VALUE),
        ("w", "weighted-interleave", _VALUE),
        ("p", "preferred", _VALUE),
        ("P", "preferred-many", _VALUE),
        ("m", "membind", _VALUE),
        ("N", "cpunodebind", _VALUE),
        ("C", "physcpubind", _VALUE),
    ),
    "xvfb-run": _wrapper(
        ("a", "auto-servernum", _SWITCH),
        ("d", "auto-display", _SWITCH),
        ("l", "listen-tcp", _SWITCH),
        ("e", "error-file", _VALUE),
        ("f", "auth-file", _VALUE),
        ("n", "server-num", _VALUE),
        ("p", "xauth-protocol", _VALUE),
        ("s", "server-args", _VALUE),
        ("w", "wait", _VALUE),
    ),
    # The shell builtin, as bash reads it; a list form has no such program, but
    # a `sh -c` string does.
    "exec": _wrapper(("c", None, _SWITCH), ("l", None, _SWITCH), ("a", None, _VALUE)),
}


def unwrap_command(words: Sequence[str]) -> list[str] | None:
    """Return the command the wrappers at the start of words run, or None.

    None: a wrapper's words did not read as known options, so what it runs
    is not known here.
    """
    unwrapped = unwrap_in_folder(words)
    return None if unwrapped is None else unwrapped[0]


def unwrap_in_folder(words: Sequence[str]) -> tuple[list[str], str] | None:
    """Return the command the wrappers run and the folder they run it in, or
    None as unwrap_command.

    The folder is "" where no wrapper moves (the image's workdir), else the
    one `env -C DIR` moves to, joined to those before it: the command's
    relative paths are read from there (brk r48 BP 1: `env -C /tmp python
    train.py` was checked as train.py in the project).
    """
    rest, folder = list(words), ""
    while rest and posixpath.basename(rest[0]) in _WRAPPERS:
        moved: list[str] = []
        after = _skip_wrapper(_WRAPPERS[posixpath.basename(rest[0])], rest[1:], moved)
        if after is None:
            return None
        for target in moved:  # env -C a -C b moves to a, then to a/b
            folder = posixpath.join(folder, target) if folder else target
        rest = after
    return rest, folder


def _skip_wrapper(
    wrapper: _Wrapper, words: list[str], moved: list[str] | None = None
) -> list[str] | None:
    """Return the words after the wrapper's options and operands, or None;
    add to moved the folders its chdir option names."""
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            i += 1
            break
        if word == "-" and wrapper.assignments:  # env's old spelling of -i
            i += 1
            continue
        if not word.startswith("-") or word == "-":
            break
        if wrapper.numeric_option and word[1:].isdigit():
            i += 1
            continue
        used = _option_words(wrapper, word, words[i + 1 : i + 2])
        if used is None:
            return None
        target = _chdir_target(wrapper, word, words[i + 1 : i + 2])
        if target is not None and moved is not None:
            moved.append(target)
        i += used
    if wrapper.assignments:
        while i < len(words) and _ASSIGNMENT.match(words[i]):
            i += 1
    for operand in wrapper.operands:
        if i >= len(words) or not operand.fullmatch(words[i]):
            return None
        i += 1
    return words[i:]


def _chdir_target(wrapper: _Wrapper, word: str, following: list[str]) -> str | None:
    """Return the folder an option word (already read as valid) moves to."""
    if not wrapper.chdir:
        return None
    letter, name = wrapper.chdir
    if word.startswith("--"):
        given, equals, value = word[2:].partition("=")
        if given != name:
            return None
        return value if equals else following[0]
    for at, flag in enumerate(word[1:], start=1):
        if flag == letter:
            return word[at + 1 :] or following[0]
        if wrapper.short.get(flag) == _VALUE:
            return None  # another option's value holds the rest
    return None


def _option_words(wrapper: _Wrapper, word: str, following: list[str]) -> int | None:
    """Return how many words the option word takes (with its value), or None."""
    if word.startswith("--"):
        name, equals, _ = word[2:].partition("=")
        kind = wrapper.long.get(name)
        if kind is None or (equals and kind == _SWITCH):
            return None
        if kind == _VALUE and not equals:
            return 2 if following else None
        return 1
    for at, letter in enumerate(word[1:], start=1):
        kind = wrapper.short.get(letter)
        if kind is None:
            return None
        if kind == _VALUE:
            if at + 1 < len(word):  # attached: -oL, -N0
                return 1
            return 2 if following else None
    return 1
