"""Run folders and their records: ids, folders, liveness locks, and closing
the records of runs whose reprobox was killed.

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
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reprobox import __version__
from reprobox.atomic import atomic_write_json, dump_json, make_held_file
from reprobox.container_files import MAX_CONTAINER_JSON, log_tail, read_json
from reprobox.errors import (
    InputError,
    ReproboxError,
)
from reprobox.marker_files import odd_entry
from reprobox.run_owner import give_back
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


def _lock_path(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / f".{run_id}.lock"


def hold_run_lock(runs_dir: Path, run_id: str) -> int:
    """Take the lock that says run_id's reprobox is alive; return its descriptor.

    The lock file is made and locked under a name no closer looks at, then
    renamed into place: a concurrent `reprobox run` tidying killed runs can
    never find it unlocked and close this brand-new run as abandoned.
    """
    final = _lock_path(runs_dir, run_id)
    temp = final.with_name(f"{final.name}.{os.getpid()}.new")
    return make_held_file(final, temp, 0o644)


def release_run_lock(runs_dir: Path, run_id: str, fd: int) -> None:
    """Drop the lock of a run whose record is final."""
    with contextlib.suppress(OSError):
        _lock_path(runs_dir, run_id).unlink()
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
        fd = os.open(_lock_path(runs_dir, run_id), flags)
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


def close_abandoned_records(
    runs_dir: Path,
    project: str | None = None,
    on_closed: Callable[[dict[str, Any]], None] | None = None,
    on_recovered: Callable[[str], None] | None = None,
    save_log: Callable[[dict[str, Any], Path], str | None] | None = None,
    closer: str = "a later reprobox command",
    on_odd_lock: Callable[[Path, str], None] | None = None,
    save_lockless_log: Callable[[dict[str, Any], Path], str | None] | None = None,
) -> list[str]:
    """Mark records left "running" by a reprobox that is gone; return their ids.

    A lock file whose name is not a run id, or whose copy names another
    project, is left alone. A "running" record of this project with no lock
    file at all is closed too (see _close_lockless_records), but its
    container is left to the owner-label sweep: no lock says its reprobox is
    gone. save_lockless_log saves such a container's output as the run's log
    where its owner label says its reprobox is gone.
    A run killed as it wrote its final record gets that record, from
    the host copy, told through on_recovered; one killed before anything ran
    (an empty folder) is removed, not recorded.

    save_log(record, run_dir), before a record is closed, writes the run's
    whole output (which its reprobox did not live to read) as its log and
    returns the log's tail; None leaves the log as the dead reprobox wrote it.
    closer names the commands that close such records, in the closed record.

    A lock that is no regular file (a folder, a link, a FIFO, a socket, a
    device) is none of reprobox's: never opened, followed or removed, and its
    run's record is left as it is; on_odd_lock(path, what) hears of each.
    """
    closed: list[str] = []
    if not runs_dir.is_dir():
        return closed
    _sweep_unrenamed_locks(runs_dir)
    for lock in sorted(runs_dir.glob(".*.lock")):
        run_id = lock.name[1 : -len(".lock")]
        if not RUN_ID.fullmatch(run_id):
            continue
        what = odd_entry(lock)
        if what is not None:
            if on_odd_lock is not None:
                on_odd_lock(lock, what)
            continue
        run_dir = runs_dir / run_id
        record_path = run_dir / "record.json"
        with taken_from_the_dead(lock) as fd:
            if fd is None:
                continue  # its reprobox is alive
            record = host_copy(fd)
            if record is not None and (
                record.get("run_id") != run_id
                or (project is not None and record.get("project") != project)
            ):
                continue  # not this project's run: not ours to close
            if _nothing_ran(run_dir):
                # Killed between taking the lock and writing any record.
                _remove_empty_dir(run_dir)
                with contextlib.suppress(OSError):
                    lock.unlink()
                continue
            empty_copy = record is None and os.fstat(fd).st_size == 0
            if record is None:
                # An older reprobox kept its copy after the record: a record
                # written in full but never renamed into place still says it all.
                record = _leftover_record(run_dir, run_id, project)
            if record is None and not (run_dir / LOG_NAME).exists():
                # Killed before it kept a copy, so before any container
                # started: record.json is still the one reprobox wrote.
                record = read_json(record_path) or None
            if record is None and run_dir.is_dir():
                record = _unknown_record(run_id, project, damaged=not empty_copy)
            if record is not None and record.get("status") != "running":
                if read_json(record_path).get("status") != record["status"]:
                    # Killed while renaming its final record into place.
                    try:
                        write_record(record_path, record)
                    except OSError:
                        continue
                    if on_recovered is not None:
                        on_recovered(run_id)
                sweep_temps(run_dir)
            elif record is not None:
                tail = save_log(record, run_dir) if save_log is not None else None
                if not _closed_as_interrupted(
                    record,
                    run_dir,
                    "the reprobox process running it ended without closing its "
                    f"record (killed, or its disk was full); closed by {closer}",
                    tail,
                ):
                    continue
                closed.append(run_id)
                if on_closed is not None:
                    on_closed(record)
            with contextlib.suppress(OSError):
                lock.unlink()
    closed += _close_lockless_records(runs_dir, project, closer, save_lockless_log)
    return closed


def _close_lockless_records(
    runs_dir: Path,
    project: str | None,
    closer: str,
    save_log: Callable[[dict[str, Any], Path], str | None] | None = None,
) -> list[str]:
    """Close the "running" records that have no lock file at all; return their ids.

    A run takes its lock before it writes any record and drops it only once
    record.json no longer says running, so a running record without a lock
    is of a reprobox that is gone (its lock removed by hand, the folder
    copied here, or a reprobox from before locks). Read, lock looked for,
    then read again: a run that ended in between has its final record.
    save_log(record, run_dir) saves its container's output as its log, as
    for a run whose lock is free, where the container's owner label says its
    reprobox is gone (nothing else here tells): the owner-label sweep that
    removes that container next had lost the output of a run whose odd lock
    was moved away.
    """
    closed: list[str] = []
    try:
        with os.scandir(runs_dir) as entries:
            names = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return closed
    for run_id in names:
        lock = _lock_path(runs_dir, run_id)
        record_path = runs_dir / run_id / "record.json"
        if not RUN_ID.fullmatch(run_id) or os.path.lexists(lock):
            continue
        if not _lockless_running(record_path, run_id, project):
            continue
        if os.path.lexists(lock):
            continue
        record = read_json(record_path)
        if not _lockless_running(record_path, run_id, project, record):
            continue
        tail = save_log(record, runs_dir / run_id) if save_log is not None else None
        if _closed_as_interrupted(
            record,
            runs_dir / run_id,
            "the reprobox process running it ended without closing its record, "
            "and its lock file is gone (removed by hand, or the run folder was "
            f"copied here); closed by {closer}",
            tail,
        ):
            closed.append(run_id)
    return closed


def _closed_as_interrupted(
    record: dict[str, Any], run_dir: Path, message: str, tail: Any = None
) -> bool:
    """Close a record its reprobox left running as interrupted, with message
    and the log's tail (tail, where the caller has it already); give the run
    folder back and sweep its temp files. Return whether it was written."""
    give_back(run_dir)
    record["status"] = "interrupted"
    record["finished_at"] = iso_time(time.time())
    record["error"] = {
        "message": message,
        "log_tail": log_tail(run_dir / LOG_NAME) if tail is None else tail,
    }
    try:
        write_record(run_dir / "record.json", record)
    except OSError:
        return False
    sweep_temps(run_dir)
    return True


def _lockless_running(
    record_path: Path,
    run_id: str,
    project: str | None,
    record: dict[str, Any] | None = None,
) -> bool:
    """Tell a record of run_id, and of project, that says it is running."""
    record = read_json(record_path) if record is None else record
    return (
        record.get("status") == "running"
        and record.get("run_id") == run_id
        and (project is None or record.get("project") == project)
    )


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


def _sweep_unrenamed_locks(runs_dir: Path) -> None:
    """Remove lock files a killed reprobox made but never renamed into place.

    Such a run got no further than its empty folder, removed with it.
    """
    for temp in runs_dir.glob(".*.lock.*.new"):
        run_id = temp.name[1:].split(".lock.", 1)[0]
        if not RUN_ID.fullmatch(run_id):
            continue
        with taken_from_the_dead(temp) as fd:
            if fd is None:
                continue  # its reprobox is taking the lock right now
            if not _lock_path(runs_dir, run_id).exists():
                _remove_empty_dir(runs_dir / run_id)
            with contextlib.suppress(OSError):
                temp.unlink()


def _nothing_ran(run_dir: Path) -> bool:
    """Tell a run folder that holds nothing at all, or no folder."""
    try:
        return not any(os.scandir(run_dir))
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _remove_empty_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


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


def _leftover_record(
    run_dir: Path, run_id: str, project: str | None
) -> dict[str, Any] | None:
    """Return a complete start record of run_id left in a temp file, if any.

    Read through the record loader compare uses, so a partial or damaged temp
    is never taken; only one of this run and this project counts. Only a
    "running" record is taken: the folder is the container's to write, so a
    verdict found there is no proof; the run is closed as interrupted.
    """
    from reprobox.compare.records import read_record

    found: list[dict[str, Any]] = []
    for temp in sorted(run_dir.glob(".record.json.*.tmp")):
        try:
            data = read_record(temp).data
        except ReproboxError:
            continue
        if data.get("run_id") != run_id or data.get("status") != "running":
            continue
        if project is not None and data.get("project") != project:
            continue
        found.append(data)
    return found[0] if found else None


def _unknown_record(
    run_id: str, project: str | None, *, damaged: bool = True
) -> dict[str, Any]:
    """Return a record for a killed run whose own copy is lost: id and project."""
    return {
        "schema_version": RECORD_SCHEMA_VERSION,
        "reprobox_version": __version__,
        "run_id": run_id,
        "status": "running",
        "exit_code": None,
        "started_at": None,
        "finished_at": None,
        "project": project,
        "metrics": {},
        "history": [],
        "warnings": [
            (
                "the host-side copy of this record was damaged"
                if damaged
                else "reprobox was killed before it kept a copy of this record"
            )
            + "; only its id and project are known"
        ],
        "error": None,
    }


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
