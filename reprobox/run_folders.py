"""Run folders and their records: ids, folders, liveness locks, the host
copy of a run's record, and writing records (abandoned_runs.py closes the
records of runs whose reprobox was killed).

Each run holds an flock on runs/.<run-id>.lock while it lives, and keeps a
copy of its newest record in that file, where the container cannot reach; the
kernel drops the lock when the process dies, however it dies, so the next
command can tell a live run from a dead one and close the dead one's record
from the copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets as _random
import shutil
import stat
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reprobox.atomic import atomic_write_json, dump_json, make_held_file
from reprobox.container_files import MAX_CONTAINER_JSON
from reprobox.errors import (
    InputError,
)
from reprobox.marker_files import odd_entry
from reprobox.seals import (
    RECORD_DIGEST_FIELD,
    SEALED_RECORD_VERSION,
    loads_strict,
    record_digest,
)

LOG_NAME = "container.log"
RECORD_SCHEMA_VERSION = SEALED_RECORD_VERSION  # 2: records carry record_sha256


def new_run_id(now: datetime | None = None) -> str:
    """Return a sortable, unique run id: UTC time plus 6 random hex digits."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + _random.token_hex(3)


def iso_time(ts: float) -> str:
    # Microseconds: runs of a sweep or a repeat often start within one second, and
    # compare's "earliest run" must then still be the one that started first.
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="microseconds")


def make_run_dir(runs_dir: Path) -> tuple[str, Path]:
    """Create a fresh run folder; never reuse one another run made."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = new_run_id()
        path = runs_dir / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return run_id, path


def run_lock_path(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / f".{run_id}.lock"


def hold_run_lock(runs_dir: Path, run_id: str) -> int:
    """Take the lock that says run_id's reprobox is alive; return its descriptor.

    The lock file is made and locked under a name no closer looks at, then
    renamed into place: a concurrent `reprobox run` tidying killed runs can
    never find it unlocked and close this brand-new run as abandoned.
    """
    final = run_lock_path(runs_dir, run_id)
    temp = final.with_name(f"{final.name}.{os.getpid()}.new")
    return make_held_file(final, temp, 0o644)


def release_run_lock(runs_dir: Path, run_id: str, fd: int) -> None:
    """Drop the lock of a run whose record is final."""
    with contextlib.suppress(OSError):
        run_lock_path(runs_dir, run_id).unlink()
    with contextlib.suppress(OSError):
        os.close(fd)


def keep_host_copy(
    runs_dir: Path, run_id: str, record: dict[str, Any], reserve: int = 0
) -> bool:
    """Write the run's record into its lock file, where the container cannot reach.

    The run folder is the container's to write, so after a SIGKILL its
    record.json may say anything (succeeded, another project). The lock file
    lives in runs/, which is not mounted: the record is closed from this copy.
    Written in place, since the flock belongs to this very file, and before
    each write of record.json, so a reprobox killed mid-rename (or stopped by a
    full disk) leaves the newest record here. Return whether it was written.

    The file never shrinks (the copy is padded with blanks, which JSON reads
    past) and the first write may reserve up to reserve bytes: the space a
    run holds from its start is still there for its last record when the
    disk fills up meanwhile.
    """
    data = dump_json(sealed_record(record)).encode("utf-8")
    try:
        # A FIFO put in its place blocked the run's end for ever, with no reader.
        flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK
        fd = os.open(run_lock_path(runs_dir, run_id), flags)
    except OSError:
        return False
    try:
        size = max(len(data), os.fstat(fd).st_size)
        # Space first: on a full disk the copy already there stays whole. As
        # much of the reserve as the disk has, halving down to what is needed.
        wanted = max(size, reserve)
        while True:
            try:
                os.posix_fallocate(fd, 0, wanted)
                break
            except OSError:
                if wanted <= size:
                    raise
                wanted = max(size, wanted // 2)
        os.pwrite(fd, data + b" " * (wanted - len(data)), 0)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


# What a run's first host copy holds back for its last (machine facts, metrics
# and the log's tail), so that a disk that fills up mid-run cannot refuse it.
HOST_COPY_RESERVE = 16 * 1024


RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def run_lock_state(runs_dir: Path, run_id: str) -> str:
    """Say what run_id's lock tells of its reprobox: "held" (alive), "free"
    (gone), "missing" (no lock file), or what is at its name when that is
    no regular file reprobox wrote ("a FIFO (named pipe)", "a link"...)."""
    lock = run_lock_path(runs_dir, run_id)
    what = odd_entry(lock)
    if what is not None:
        return what
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "not a file reprobox can open"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return "held"
    finally:
        os.close(fd)  # releases the lock taken just to test it
    return "free"


@contextlib.contextmanager
def taken_from_the_dead(path: Path) -> Iterator[int | None]:
    """Yield path open and locked when no live reprobox holds it, else None.

    A run's lock is held by its reprobox for its whole life, so taking it
    says that reprobox is gone; it stays taken (and the file open) for the
    block, so no other reprobox sweeps the same run meanwhile. Anything but a
    regular file yields None too: reprobox never made it, and a FIFO or a
    device opened for writing could block, or be written to.
    """
    if odd_entry(path) is not None:  # looked at before any open: a device's
        yield None  # open alone can act (a tape rewinds, a tty is taken)
        return
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except OSError:
        yield None
        return
    try:
        if not _regular(fd):
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)


def _regular(fd: int) -> bool:
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


# Temp files left in a run folder by a writer killed before its rename:
# reprobox's own record and a killed run's log, and the start-up hook's capture.
_TEMP_PREFIXES = (".record.json.", ".capture.", f".{LOG_NAME}.")


def sweep_temps(run_dir: Path) -> None:
    """Remove the temp files of a run that is over (unlinking follows no link)."""
    try:
        names = [entry.name for entry in os.scandir(run_dir) if not entry.is_dir()]
    except OSError:
        return
    for name in names:
        if name.startswith(_TEMP_PREFIXES):
            with contextlib.suppress(OSError):
                os.unlink(run_dir / name)


def host_copy(fd: int) -> dict[str, Any] | None:
    try:
        raw = os.pread(fd, MAX_CONTAINER_JSON, 0)
        data = loads_strict(raw.decode("utf-8"), "the run's lock file")
    except (OSError, ValueError, RecursionError, InputError):
        return None
    return data if isinstance(data, dict) and data.get("run_id") else None


def sealed_record(record: dict[str, Any]) -> dict[str, Any]:
    """Put the digest of the record's content into it (in place) and return it.

    In place, so that the record a run returns is the one on disk, digest and
    all; every write seals anew, since the record changes as the run goes.
    """
    record.pop(RECORD_DIGEST_FIELD, None)
    record[RECORD_DIGEST_FIELD] = record_digest(record)
    return record


def write_record(record_path: Path, record: dict[str, Any]) -> None:
    """Write the record, taking its name back from whatever the container put there.

    The run folder is the container's to write, so a script can replace
    record.json with a folder or a link; the record is reprobox's, and wins.
    """
    with contextlib.suppress(FileNotFoundError):
        if record_path.is_symlink() or not record_path.is_file():
            if record_path.is_dir() and not record_path.is_symlink():
                shutil.rmtree(record_path)
            else:
                record_path.unlink()
    # Every write seals the record anew: readers refuse one edited since.
    atomic_write_json(record_path, sealed_record(record))
    if os.geteuid() == 0:  # the record, too, belongs to the owner of runs/
        with contextlib.suppress(OSError):
            owner = record_path.parent.parent.stat()
            os.chown(record_path, owner.st_uid, owner.st_gid, follow_symlinks=False)
