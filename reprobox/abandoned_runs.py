"""Close the records of runs whose reprobox is gone (killed, or its disk full).

A run's reprobox holds its lock (run_folders.hold_run_lock) for as long as it
lives and keeps a copy of its newest record in it; the next command takes
the locks nobody holds, and closes each such run's record from that copy as
interrupted, with all its container printed as its log where the caller can
save it. Lock files that are no regular file are never reprobox's: they are
said and left, with their runs.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprobox import __version__
from reprobox.container_files import log_tail, read_json
from reprobox.errors import ReproboxError
from reprobox.marker_files import odd_entry
from reprobox.run_folders import (
    LOG_NAME,
    RECORD_SCHEMA_VERSION,
    RUN_ID,
    host_copy,
    iso_time,
    run_lock_path,
    sweep_temps,
    taken_from_the_dead,
    write_record,
)
from reprobox.run_owner import give_back

# Why a closed record's reprobox never closed it, as the record and the
# closing command's note both say it.
KILLED = " (killed, or its disk was full)"
LOCK_GONE = (
    ", and its lock file is gone (removed by hand, or the run folder was copied here)"
)


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
                    f"record{KILLED}; closed by {closer}",
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
        lock = run_lock_path(runs_dir, run_id)
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
            "the reprobox process running it ended without closing its "
            f"record{LOCK_GONE}; closed by {closer}",
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
    # When its container stopped, where the engine said (save_left_output);
    # else now, when it is closed.
    record["finished_at"] = record.get("finished_at") or iso_time(time.time())
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
            if not run_lock_path(runs_dir, run_id).exists():
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
