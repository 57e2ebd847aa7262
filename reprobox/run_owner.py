"""Who owns a run's files: the user the training runs as, the data it must be
able to read, and handing the run folder back to the owner of runs/ after.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
from collections.abc import Sequence
from pathlib import Path

from reprobox.container_files import UNTRUSTED_OPEN
from reprobox.errors import (
    InputError,
)

CONTAINER_UID = 1000  # the image's training user


def container_user() -> tuple[int, int]:
    """Return the uid and gid the training runs as.

    Run by root, reprobox trains as the image's uid 1000; run by anyone else,
    as that user, so the run folder it gives back is theirs.
    """
    if os.geteuid() == 0:
        return CONTAINER_UID, CONTAINER_UID
    return os.getuid(), os.getgid()


def check_data_readable(root: Path, data: Sequence[str]) -> None:
    """Refuse data files the training user could not read through their mount.

    Each file is mounted on its own, so only its own mode and owner count; a
    file kept private (umask 077) would pass every check and then fail in the
    script with PermissionError.
    """
    uid, gid = container_user()
    for rel in data:
        path = root / rel
        try:
            st = path.stat()
        except OSError:
            continue  # a missing file is named by the data check
        if st.st_uid == uid:
            readable = st.st_mode & stat.S_IRUSR
        elif st.st_gid == gid:
            readable = st.st_mode & stat.S_IRGRP
        else:
            readable = st.st_mode & stat.S_IROTH
        if not readable:
            raise InputError(
                f"{path}: data file is not readable by the training user "
                f"(uid {uid}): mode {stat.S_IMODE(st.st_mode):04o}, owner uid "
                f"{st.st_uid}",
                hint=f"make it readable, e.g. chmod a+r {shlex.quote(str(path))}; "
                "it is mounted read-only, so the container cannot change it",
            )


# How deep give_back goes: one open descriptor per level. Deeper than this
# (a script can nest folders thousands deep) stays with uid 1000, said once.
GIVE_BACK_DEPTH = 256


def give_back(run_dir: Path) -> list[str]:
    """Hand a run folder the container wrote back to the owner of runs/.

    As root, reprobox lends the folder to the container's uid (1000) so the
    non-root training process can write there; once it is done, the files
    belong to whoever owns the project's runs folder again, readable by them
    and their group like the rest of the project. Returns warnings.

    The container may have left anything there: links are never followed
    (every step is relative to an open folder descriptor, opened with
    O_NOFOLLOW), the walk keeps its own stack (no recursion limit, no path
    length limit), and only plain files and folders get their modes changed.
    """
    if os.geteuid() != 0:
        return []
    try:
        owner = run_dir.parent.stat()
    except OSError:
        return []
    uid, gid = owner.st_uid, owner.st_gid
    dir_flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        top = os.open(run_dir, dir_flags)
    except OSError:
        return []
    _give_back_fd(top, uid, gid, 0o755)
    too_deep = False
    stack = [(top, iter(_names(top)))]
    while stack:
        fd, names = stack[-1]
        name = next(names, None)
        if name is None:
            os.close(fd)
            stack.pop()
            continue
        try:
            child = os.open(name, dir_flags, dir_fd=fd)
        except OSError:
            _give_back_entry(fd, name, uid, gid)  # not a folder (or a link)
            continue
        _give_back_fd(child, uid, gid, 0o755)
        if len(stack) >= GIVE_BACK_DEPTH:
            os.close(child)
            too_deep = True
            continue
        stack.append((child, iter(_names(child))))
    if too_deep:
        return [
            f"folders deeper than {GIVE_BACK_DEPTH} levels in the run folder stay "
            "owned by the container's uid 1000"
        ]
    return []


def _names(fd: int) -> list[str]:
    try:
        return sorted(os.listdir(fd))
    except OSError:
        return []


def _give_back_entry(dir_fd: int, name: str, uid: int, gid: int) -> None:
    try:
        fd = os.open(name, UNTRUSTED_OPEN, dir_fd=dir_fd)
    except OSError:
        # A link (or gone): lchown changes the link itself, never its target.
        with contextlib.suppress(OSError, NotImplementedError):
            os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
        return
    try:
        _give_back_fd(fd, uid, gid, 0o644)
    finally:
        os.close(fd)


def _give_back_fd(fd: int, uid: int, gid: int, wanted: int) -> None:
    """Chown an open file or folder; make a plain one readable (wanted bits)."""
    with contextlib.suppress(OSError):
        st = os.fstat(fd)
        os.fchown(fd, uid, gid)
        if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
            # No setuid bits, and no one else may write what the container made.
            os.fchmod(fd, (st.st_mode & 0o755) | wanted)
