"""A bundle on disk: the partial file export writes first, and telling a bundle.

export streams a bundle into a hidden partial file beside its output and
holds an flock on it while it writes. The kernel frees that lock the moment
the writer dies, kill -9 included, so a partial whose lock is free is one
nobody will finish: any later export into the same folder removes it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
import tarfile
from pathlib import Path

BUNDLE_INDEX = "reprobox-bundle.json"
# The members export writes; import takes no other (each is unpacked by name).
BUNDLE_MEMBERS = frozenset(
    {
        "image.tar",
        "Dockerfile",
        "manifest.json",
        "requirements.lock",
        "reference-record.json",
    }
)
PARTIAL_SUFFIX = ".reprobox-partial"
# What reprobox before PARTIAL_SUFFIX named them: taken only when they hold an
# export's start, since other tools write ".NAME.partial" files too.
_OLD_PARTIAL_SUFFIX = ".partial"


def partial_path(out: Path) -> Path:
    """Return the hidden file an export of out writes first, beside it.

    ".NAME.reprobox-partial" as long as that fits a file name (255 bytes); for
    a long NAME, its start and a digest of the whole, so any name a user may
    give has a partial file, and the same name always the same one.
    """
    name = f".{out.name}{PARTIAL_SUFFIX}"
    if len(os.fsencode(name)) <= 255:
        return out.with_name(name)
    digest = hashlib.sha256(os.fsencode(out.name)).hexdigest()[:16]
    start = os.fsencode(out.name)[:200].decode("utf-8", "ignore")
    return out.with_name(f".{start}.{digest}{PARTIAL_SUFFIX}")


def open_locked_partial(partial: Path) -> int | None:
    """Open partial for writing with its flock held; None if a live export has it.

    A sweep may remove the file between our open and our lock: the lock is
    then on a file no longer at that path, so it is opened again.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        fd = os.open(partial, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _is_at(fd, partial):
            return fd
        os.close(fd)


def _is_at(fd: int, path: Path) -> bool:
    """Tell whether the open file fd is still the file at path."""
    try:
        here = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def sweep_stale_partials(folder: Path) -> list[Path]:
    """Remove the partial files of exports in folder whose writer is gone.

    A partial counts only by its name and its start (a tar whose first member
    is image.tar, as export writes, or an empty one of reprobox's own name): a
    user's file is never taken for one. One whose flock is held is a live
    export's and stays.
    """
    removed = []
    try:
        names = [n for n in os.listdir(folder) if _looks_partial(n)]
    except OSError:
        return removed
    for name in sorted(names):
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        may_be_empty = name.endswith(PARTIAL_SUFFIX)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _is_at(fd, path) and _starts_as_export(fd, may_be_empty):
                os.unlink(path)  # with the lock held: no export can take it now
                removed.append(path)
        except OSError:
            pass  # locked by a live export, or gone already
        finally:
            os.close(fd)
    return removed


def _looks_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith((PARTIAL_SUFFIX, _OLD_PARTIAL_SUFFIX))


def _starts_as_export(fd: int, may_be_empty: bool) -> bool:
    """Tell whether fd is a regular file that starts with image.tar (or is empty)."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return False
    if info.st_size == 0:
        return may_be_empty
    block = os.pread(fd, tarfile.BLOCKSIZE, 0)
    try:
        header = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
    except (tarfile.TarError, ValueError):
        return False
    return header.name == "image.tar"


def is_bundle_file(path: Path) -> bool:
    """Tell whether path is, whole, a bundle as export writes it.

    Every member must be one a bundle has, once, as a plain file; image.tar
    and the index must be there, and the index must list exactly the others.
    A tar that merely starts like a bundle is not one: its other members are
    someone's files.
    """
    most = len(BUNDLE_MEMBERS) + 1
    try:
        with tarfile.open(path, "r:") as tar:
            members = []
            while len(members) <= most:
                member = tar.next()
                if member is None:
                    break
                members.append(member)
            names = [member.name for member in members]
            if (
                len(names) > most
                or len(set(names)) != len(names)
                or not set(names) <= BUNDLE_MEMBERS | {BUNDLE_INDEX}
                or not {"image.tar", BUNDLE_INDEX} <= set(names)
                or not all(member.isreg() for member in members)
            ):
                return False
            index = json.loads(tar.extractfile(BUNDLE_INDEX).read())
    except (OSError, tarfile.TarError, ValueError, RecursionError, AttributeError):
        return False
    files = index.get("files") if isinstance(index, dict) else None
    return isinstance(files, dict) and set(files) == set(names) - {BUNDLE_INDEX}
