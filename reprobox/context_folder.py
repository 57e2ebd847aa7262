"""The folder a project's build context is copied into: the same path each time.

BuildKit keeps what a build sends it from a local folder in its build cache,
under a key made from the folder's path. Staged at a new temp path for every
build, a project left one more full copy of itself in the engine's cache per
build, never used again: a 200 MB project built ten times held 2 GB there,
and the test suite filled a 100 GB disk. Staged at one path per project, the
engine keeps one copy and is sent only the files that changed.

One reprobox at a time holds a project's folder (a lock on the folder
itself); a second build of the same project meanwhile stages in a folder of
its own, as before. A folder left by a reprobox killed outright is emptied by
the next build of that project, or removed by any later build once no one
holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from reprobox.proc import remove_stale_folders

CONTEXT_PREFIX = "reprobox-context-"  # + pid + "-" + random: one build's own
PROJECT_PREFIX = "reprobox-context-of-"  # + a key of the user and project path
_PROJECT_NAME = re.compile(rf"{re.escape(PROJECT_PREFIX)}[0-9a-f]{{16}}")


def project_folder(root: Path, folder: str | None = None) -> Path:
    """Return where root's build context is staged (not made here)."""
    key = f"{os.getuid()}:{root.resolve()}".encode("utf-8", "surrogateescape")
    name = PROJECT_PREFIX + hashlib.sha256(key).hexdigest()[:16]
    return Path(folder or tempfile.gettempdir()) / name


def _hold(path: Path, *, make: bool) -> int | None:
    """Lock path, a folder of this user's; return its descriptor, or None.

    None when another reprobox holds it, or when it is not a plain folder of
    this user's (in a shared /tmp anyone may make a folder of that name).
    A folder removed by its last holder after it was opened here is not the
    one at path any more: it is looked up again.
    """
    for _ in range(5):
        if make:
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if not make:
                return None
            continue
        except OSError:  # a link or a file by that name: not ours to use
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = os.fstat(fd)
            try:
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
                os.close(fd)
                continue
        except OSError:  # held by another reprobox
            os.close(fd)
            return None
        if held.st_uid != os.getuid():
            os.close(fd)
            return None
        if stat.S_IMODE(held.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
        return fd
    return None


def _empty(path: Path) -> None:
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


def _release(path: Path, fd: int) -> None:
    """Remove the held folder, then let it go (in that order: see _hold)."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    finally:
        os.close(fd)


def remove_stale_contexts(folder: str | None = None) -> list[str]:
    """Remove copies left by a reprobox killed during a build; return their names."""
    removed = remove_stale_folders(CONTEXT_PREFIX, folder)
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder or tempfile.gettempdir()):
            if not _PROJECT_NAME.fullmatch(entry.name):
                continue
            fd = _hold(Path(entry.path), make=False)
            if fd is not None:
                _release(Path(entry.path), fd)
                removed.append(entry.name)
    return sorted(removed)


@contextlib.contextmanager
def context_folder(root: Path) -> Iterator[Path]:
    """Yield an empty 0700 folder to stage root's build context in.

    It is root's own folder (the same path every build) unless another
    reprobox is building root right now; it is gone when the block ends.
    """
    path = project_folder(root)
    fd = _hold(path, make=True)
    if fd is None:
        own = f"{CONTEXT_PREFIX}{os.getpid()}-"
        with tempfile.TemporaryDirectory(prefix=own) as tmp:
            os.chmod(tmp, 0o700)
            yield Path(tmp)
        return
    try:
        _empty(path)  # what a killed build of this project left
        yield path
    finally:
        _release(path, fd)
