"""One push or export of a project at a time, from its seal to what it records.

push and export both seal the build as `<tag>-sealed`, and push then names
the sealed copy REGISTRY/reprobox/PROJECT:TAG, pushes that name and records
its digest in manifest.json. Two of them at once each made a sealed copy and
moved the same tags: one copy was left with no tag, and a push could record
the id of its own copy beside the digest of the other, which the registry
tag named by the time it was pushed. So each holds an flock on
`.reprobox/.share.lock` from before it seals until it has recorded; a second
one waits for it, then finds the tags as the first left them. The kernel
frees the lock when its holder exits, killed or not, so none is ever stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from reprobox.errors import InputError
from reprobox.marker_files import odd_entry_error, refuse_odd_entry

LOCK_NAME = ".share.lock"
WAITING = "waiting for another push or export of this project to end..."


@contextlib.contextmanager
def one_share_at_a_time(
    state_dir: Path, on_wait: Callable[[str], None], *, required: bool = True
) -> Iterator[None]:
    """Hold the project's share lock for the block, waiting for it if need be.

    on_wait is told once, when another push or export holds it. Not required
    (freeze, whose own write then says what is wrong with the folder), a lock
    that cannot be opened leaves the block to run without it.
    """
    path = state_dir / LOCK_NAME
    # Named even where not required: no write of freeze's says what a link
    # or FIFO here is, and a FIFO opened and locked as if it were the lock.
    refuse_odd_entry(path, "share lock", "run the command again")
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if not required:
            yield
            return
        raise InputError(
            f"{path}: cannot open the lock that keeps pushes and exports of this "
            f"project apart: {exc.strerror or exc}",
            hint=f"make {state_dir} writable (and {path} a plain file)",
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # put there since the look
            raise odd_entry_error(path, "share lock", "run the command again")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(WAITING)
            fcntl.flock(fd, fcntl.LOCK_EX)  # a Ctrl-C here stops the wait
        yield
    finally:
        os.close(fd)
