"""Recover from a reprobox killed outright: close its records, remove its containers.

A run's reprobox holds an flock on `runs/.<run-id>.lock` for as long as it
lives. That lock, not the container's age or its owner label, is what tells a
run that is still starting or training in another process from one whose
reprobox is gone: the kernel frees the lock the moment the process dies,
while a killed process can linger as a zombie that still looks alive.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprobox.engine import (
    DEFAULT_ADDRESS,
    Engine,
    connect,
    engine_address,
    engine_key,
    remove_orphans,
    remove_run_containers,
)
from reprobox.errors import ReproboxError
from reprobox.run_folders import RUN_ID, close_abandoned_records

Note = Callable[[str], None]


def run_lock_held(runs_dir: Path, run_id: str) -> bool | None:
    """Say whether run_id's reprobox still holds its lock; None without a lock file."""
    if not RUN_ID.fullmatch(run_id):
        return None
    try:
        fd = os.open(runs_dir / f".{run_id}.lock", os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # releases the lock taken just to test it
    return False


def sweep_killed_runs(
    engine: Engine, runs_dir: Path, project: str | None, note: Note
) -> None:
    """Close the records of runs_dir whose reprobox is dead; remove their containers.

    Each closed run's container is removed at once, whatever its age, on the
    engine its record names. With a project, containers of that project on
    engine whose run is not recorded here are removed when their reprobox is
    gone too.
    """

    def remove_container_of(record: dict[str, Any]) -> None:
        _remove_closed_run(engine, record, note)

    def say_recovered(run_id: str) -> None:
        note(
            f"run {run_id}: its reprobox ended before its final record was in "
            "place (killed, or the disk was full); put that record in place"
        )

    for closed in close_abandoned_records(
        runs_dir, project, on_closed=remove_container_of, on_recovered=say_recovered
    ):
        note(
            f"marked run {closed} interrupted: the reprobox that ran it ended "
            "without closing its record (killed, or its disk was full)"
        )
    if project is not None:
        remove_dead_runs_containers(engine, runs_dir, project, note)


def remove_dead_runs_containers(
    engine: Engine, runs_dir: Path, project: str, note: Note, label: str = ""
) -> None:
    """Remove the project's containers on engine whose reprobox is gone.

    A run whose lock is in runs_dir is judged by that lock alone; one without
    (run from another runs folder) by the live process its owner label names.
    """
    for run_id in remove_orphans(
        engine, project, alive=lambda run_id: run_lock_held(runs_dir, run_id)
    ):
        note(f"{label}removed container of interrupted run {run_id}")


def _remove_closed_run(engine: Engine, record: dict[str, Any], note: Note) -> None:
    """Remove a closed run's container on the engine its record names."""
    run_id = record["run_id"]
    recorded = (record.get("engine") or {}).get("host")
    if not isinstance(recorded, str) or engine_key(
        DEFAULT_ADDRESS if recorded == "default" else recorded
    ) == engine_key(engine_address(engine)):
        # Here, or a record too damaged to say where: this engine is the guess.
        if remove_run_containers(engine, run_id):
            note(f"removed container of interrupted run {run_id}")
        return
    try:
        other = connect(DEFAULT_ADDRESS if recorded == "default" else recorded)
        removed = remove_run_containers(other, run_id)
    except ReproboxError as exc:
        note(f"could not reach {recorded} to remove run {run_id}'s container: {exc}")
        return
    if removed:
        note(f"{recorded}: removed container of interrupted run {run_id}")
