"""reprobox's own small marker and lock files, read without trusting their names.

A marker, a lock and the folders that hold them are reprobox's to write, but
anyone can put something else at their names: a FIFO blocked a plain read
forever, a link to /dev/zero was read until memory ran out, and a folder of
markers that was a link had every file of the link's target swept as a
damaged marker. So each is looked at without following a link (lstat), read
without blocking and only when it is a regular file of bounded size, and
anything else is named in a refusal that says to move it away.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from reprobox.errors import InputError

# Far above any marker or lock copy reprobox writes, far below a memory problem.
MARKER_CAP = 1024 * 1024

_KINDS = (
    (stat.S_ISLNK, "a link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def odd_entry(path: Path, *, folder: bool = False) -> str | None:
    """Name what is at path when it is not what reprobox makes there, else None.

    Nothing there is fine (reprobox makes it); a link is never followed, so a
    link to a file or a folder is named as a link. With folder, a folder is
    what reprobox makes and a regular file is named instead.
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # missing, or its folder is: what uses it says so
        return None
    if stat.S_ISDIR(mode) if folder else stat.S_ISREG(mode):
        return None
    if folder and stat.S_ISREG(mode):
        return "a file"
    return kind_of_mode(mode)


def kind_of_mode(mode: int) -> str:
    """Name the kind of a file mode that is no regular file: "a FIFO (named
    pipe)", "a folder"...; "not a regular file" for any other."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def refuse_odd_entry(path: Path, kind: str, fix: str, *, folder: bool = False) -> None:
    """Refuse a marker or lock (with folder, a folder of them) that reprobox did
    not make: "PATH: KIND is a FIFO (named pipe), not a file reprobox wrote"."""
    what = odd_entry(path, folder=folder)
    if what is not None:
        raise odd_entry_error(path, kind, fix, what, folder=folder)


def odd_entry_error(
    path: Path, kind: str, fix: str, what: str | None = None, *, folder: bool = False
) -> InputError:
    """Return the refusal of refuse_odd_entry; what names the entry when known."""
    what = what or odd_entry(path, folder=folder) or "not a regular file"
    made = "a folder reprobox made" if folder else "a file reprobox wrote"
    return InputError(
        f"{path}: {kind} is {what}, not {made}", hint=f"move it away, then {fix}"
    )


def open_marker(path: Path, flags: int = os.O_RDONLY) -> int | None:
    """Open a marker without following a link or blocking on a FIFO; return
    its descriptor, or None when it is missing, no regular file, or unreadable."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:
        os.close(fd)
        return None
    return fd


def read_marker_fd(fd: int, cap: int = MARKER_CAP) -> bytes | None:
    """Return the bytes of the open marker fd; None when it is no regular file,
    holds more than cap bytes, or cannot be read."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.pread(fd, cap + 1, 0)
    except OSError:
        return None
    return data if len(data) <= cap else None


def read_marker(path: Path, cap: int = MARKER_CAP) -> bytes | None:
    """Return the bytes of the marker at path (see open_marker, read_marker_fd)."""
    fd = open_marker(path)
    if fd is None:
        return None
    try:
        return read_marker_fd(fd, cap)
    finally:
        os.close(fd)


def marker_folder_entries(folder: Path, kind: str, fix: str) -> list[Path]:
    """List a folder of markers, sorted; none when it is missing.

    Refused (InputError) when it is a link or no folder: a sweep that went on
    would read, and remove, the files of wherever it leads.
    """
    refuse_odd_entry(folder, kind, fix, folder=True)
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []
