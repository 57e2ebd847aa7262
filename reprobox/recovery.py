"""Recover from a reprobox killed outright: close its records, remove its containers.

A run's reprobox holds an flock on `runs/.<run-id>.lock` for as long as it
lives. That lock, not the container's age or its owner label, is what tells a
run that is still starting or training in another process from one whose
reprobox is gone: the kernel frees the lock the moment the process dies,
while a killed process can linger as a zombie that still looks alive.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reprobox.abandoned_runs import KILLED, LOCK_GONE, close_abandoned_records
from reprobox.container_files import (
    capture_without_tokens,
    machine_from_capture,
    metrics_from,
    read_json,
    read_script_metrics,
    sane_capture,
    tail_text,
)
from reprobox.engine import (
    DEFAULT_ADDRESS,
    Engine,
    connect,
    engine_address,
    engine_key,
    remove_orphans,
    remove_run_containers,
    stopped_run_output,
)
from reprobox.errors import ReproboxError
from reprobox.output_stream import ContainerOutput
from reprobox.run_folders import LOG_NAME, RUN_ID, iso_time, run_lock_state
from reprobox.secret_masking import hidden_in, without_hidden_names

Note = Callable[[str], None]


def run_lock_held(runs_dir: Path, run_id: str) -> bool | None:
    """Say whether run_id's reprobox still holds its lock; None without a lock
    file.

    True too while something reprobox never made is at the lock's name: that
    run's record is left as it is (odd_lock_warning), and so is its container,
    whose output the record's closing saves into the run's log once the lock
    is moved away. Removed now, that output and exit code were lost for good.
    """
    if not RUN_ID.fullmatch(run_id):
        return None
    state = run_lock_state(runs_dir, run_id)
    if state == "missing":
        return None
    return state != "free"


def sweep_killed_runs(
    engine: Engine,
    runs_dir: Path,
    project: str | None,
    note: Note,
    warn: Note | None = None,
) -> None:
    """Close the records of runs_dir whose reprobox is dead; remove their containers.

    Each closed run's container, on the engine its record names, is stopped
    and all it printed written into the run's log (save_left_output), then
    removed at once, whatever its age. With a project, containers of that
    project on engine whose run is not recorded here are removed when their
    reprobox is gone too. A run lock that is no regular file is said through
    warn (note without it), and its run left as it is.
    """
    engines = _RecordEngines(engine)

    def save_log(
        record: dict[str, Any], run_dir: Path, owner_gone: bool = False
    ) -> str | None:
        where = engines.of(record)
        if isinstance(where, ReproboxError):
            return None
        return save_left_output(where, record, run_dir, owner_gone=owner_gone)

    lockless: set[str] = set()

    def save_lockless_log(record: dict[str, Any], run_dir: Path) -> str | None:
        lockless.add(record["run_id"])
        return save_log(record, run_dir, owner_gone=True)

    def remove_container_of(record: dict[str, Any]) -> None:
        _remove_closed_run(engines, record, note)

    def say_recovered(run_id: str) -> None:
        note(
            f"run {run_id}: its reprobox ended before its final record was in "
            "place (killed, or the disk was full); put that record in place"
        )

    # The project's runs are closed by run, build and push (tidy_killed_runs);
    # a verify runs folder, by verify.
    closer = (
        "a later `reprobox run`, `build` or `push`"
        if project is not None
        else "a later `reprobox verify`"
    )

    def say_odd_lock(lock: Path, what: str) -> None:
        (warn or note)(odd_lock_warning(lock, what, closer.removeprefix("a later ")))

    for closed in close_abandoned_records(
        runs_dir,
        project,
        on_closed=remove_container_of,
        on_recovered=say_recovered,
        save_log=save_log,
        closer=closer,
        on_odd_lock=say_odd_lock,
        save_lockless_log=save_lockless_log,
    ):
        # As the record's own error says it (a lockless one: its lock is gone).
        why = LOCK_GONE if closed in lockless else KILLED
        note(
            f"marked run {closed} interrupted: the reprobox that ran it ended "
            f"without closing its record{why}"
        )
    if project is not None:
        remove_dead_runs_containers(engine, runs_dir, project, note)


def odd_lock_warning(lock: Path, what: str, closers: str) -> str:
    """Say that a run lock is something reprobox never made, and what to do."""
    run_id = lock.name[1 : -len(".lock")]
    return (
        f"{lock}: run lock is {what}, not a file reprobox wrote: left as it is, "
        f"and so are run {run_id}'s record and container (move it away; the "
        f"next {closers} then closes that record as interrupted if it still "
        "says running, with the container's output as its log)"
    )


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


def save_left_output(
    engine: Engine, record: dict[str, Any], run_dir: Path, *, owner_gone: bool = False
) -> str | None:
    """Write all that a killed run's container printed as its log; return the tail.

    The container is stopped first, so the log is whole. Its secret --env
    values are hidden as a live run hides them: the record keeps only their
    names, but the container still holds the values it was started with.
    None, and the log left as it was, when the engine cannot give the output
    (or, with owner_gone, when the container's owner label does not say its
    reprobox is gone).
    A training that had ended on its own has its exit code put in the record,
    and a record without metrics gets those the run folder holds (hidden as
    the log is: the container still holds its secret values).
    """
    try:
        left = stopped_run_output(engine, record["run_id"], owner_gone=owner_gone)
    except ReproboxError:
        return None
    if left is None:
        return None
    if left.exit_code is not None and record.get("exit_code") is None:
        record["exit_code"] = left.exit_code
    known = left.duration_s is not None and left.finished is not None
    if known and record.get("duration_s") is None:
        # The container's wall time and end, which finished_at then says
        # rather than when this closer came by (brk r48 BQ 9).
        record["duration_s"] = left.duration_s
        record["finished_at"] = iso_time(left.finished)
    output = ContainerOutput(_run_flags_env(record, left.env))
    lines: list[str] = []
    temp = run_dir / f".{LOG_NAME}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, 0o644)
        with open(fd, "w", encoding="utf-8", errors="replace") as log:

            def keep(text: str, done: list[str]) -> None:
                log.write(text)
                lines.extend(done)
                del lines[:-200]  # the tail is all the record keeps

            for chunk in left.chunks:
                keep(*output.feed(chunk))
            keep(*output.finish())
        _replace_entry(temp, run_dir / LOG_NAME)
    except (OSError, ReproboxError):
        with contextlib.suppress(OSError):
            temp.unlink()
        return None
    if record.get("metrics") and record.get("machine"):
        return tail_text(lines)  # nothing the run folder could add
    capture, script_metrics = facts_left_in(run_dir)
    if not record.get("metrics"):
        # A name holding a secret value is left out, never renamed "***".
        record["metrics"], _ = without_hidden_names(
            metrics_from(capture, script_metrics), output.hide
        )
    if not record.get("machine") and capture.get("python"):
        # The hook's exit capture got through: the record said machine null
        # while capture.json held the facts (brk r45, BK 6).
        record["machine"] = hidden_in(machine_from_capture(capture), output.hide)
    return tail_text(lines)


def facts_left_in(run_dir: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """Return what a run's folder holds for its record: capture.json, with
    its damaged fields and names holding a token left out (as a finished run
    leaves them out), and the metrics of metrics.json."""
    capture, _ = sane_capture(read_json(run_dir / "capture.json"))
    capture, _ = capture_without_tokens(capture)
    script_metrics, _ = read_script_metrics(run_dir / "metrics.json")
    return capture, script_metrics


def _run_flags_env(record: Mapping[str, Any], env: Mapping[str, str]) -> dict:
    """Return the values of env that the run was given with --env.

    Those are what a live run hides secrets among; a record too damaged to
    name them leaves every variable in, so that no secret is missed.
    """
    given = (record.get("options") or {}).get("env")
    if not isinstance(given, dict):
        return dict(env)
    return {name: env[name] for name in given if name in env}


def _replace_entry(source: Path, dest: Path) -> None:
    """Rename source to dest, over whatever the container left there.

    A link is replaced, never followed; a folder is removed first.
    """
    try:
        os.rename(source, dest)
    except IsADirectoryError:
        shutil.rmtree(dest)
        os.rename(source, dest)


class _RecordEngines:
    """The engine a killed run's record names, reached once per sweep."""

    def __init__(self, here: Engine):
        self.here = here
        self._reached: dict[str, Engine | ReproboxError] = {}

    def of(self, record: Mapping[str, Any]) -> Engine | ReproboxError:
        """Return the engine the record names, or why it could not be reached."""
        recorded = self.named(record)
        if recorded is None:
            return self.here
        if recorded not in self._reached:
            try:
                self._reached[recorded] = connect(recorded)
            except ReproboxError as exc:
                self._reached[recorded] = exc
        return self._reached[recorded]

    def named(self, record: Mapping[str, Any]) -> str | None:
        """Return the address of another engine the record names; None for here.

        A record too damaged to say where is taken to be of this engine.
        """
        recorded = (record.get("engine") or {}).get("host")
        if not isinstance(recorded, str):
            return None
        address = DEFAULT_ADDRESS if recorded == "default" else recorded
        if engine_key(address) == engine_key(engine_address(self.here)):
            return None
        return address


def _remove_closed_run(
    engines: _RecordEngines, record: dict[str, Any], note: Note
) -> None:
    """Remove a closed run's container on the engine its record names."""
    run_id = record["run_id"]
    recorded = (record.get("engine") or {}).get("host")
    where = engines.of(record)
    if engines.named(record) is None:
        if remove_run_containers(where, run_id):
            note(f"removed container of interrupted run {run_id}")
        return
    if isinstance(where, ReproboxError):
        note(f"could not reach {recorded} to remove run {run_id}'s container: {where}")
        return
    if remove_run_containers(where, run_id):
        note(f"{recorded}: removed container of interrupted run {run_id}")
