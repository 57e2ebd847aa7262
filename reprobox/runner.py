"""`reprobox run`: train inside the image and write a run record.

The record is written when the run starts (status "running") and rewritten
when it ends, each time atomically. Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stop and
remove the container and mark the record "interrupted"; a run whose reprobox
died (SIGKILL) has its record, still "running", closed as "interrupted" and its
container removed by the next run (reprobox/recovery.py).

Around it: what a run is given (its target, options, container environment
and the engine's request) lives in run_options.py; the record it starts
with, in run_record.py; the holding of signals around the container's start
and end, and the cancelling of runs in other threads, in run_signals.py; the
training's verdict, the closing of its record from what the container left
and the words for a runs folder that cannot be written, in run_ending.py;
run folders, their locks and record writes, in run_folders.py; reading what
the container wrote, in container_files.py; who owns the run's files, in
run_owner.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reprobox.atomic import atomic_write_json
from reprobox.container_files import read_json, tail_text
from reprobox.engine import (
    Engine,
    engine_lost_during_run,
    is_connection_lost,
    is_engine_trouble,
    remove_container,
    remove_run_containers,
    start_container,
)
from reprobox.errors import EngineError, InputError, Interrupted, ReproboxError
from reprobox.output_follow import followed_output
from reprobox.output_stream import ContainerOutput
from reprobox.run_ending import (
    data_changed_during,
    ended_by_the_host,
    finish_record,
    keep_on_a_full_disk,
    killed_by_signal,
    restore_log,
    training_error,
    write_failure,
)
from reprobox.run_folders import (
    HOST_COPY_RESERVE,
    LOG_NAME,
    hold_run_lock,
    host_copy,
    iso_time,
    keep_host_copy,
    make_run_dir,
    release_run_lock,
    sealed_record,
    write_record,
)
from reprobox.run_options import (
    RunOptions,
    RunTarget,
    check_mountable,
    container_env,
    container_spec,
)
from reprobox.run_owner import container_user
from reprobox.run_record import start_record
from reprobox.run_signals import (
    START_GRACE_S,
    STOPPING_SIGNALS,
    DeferredSignals,
    PendingStart,
    StopSignal,
    forget_run,
    hold_signals,
    release_signals,
    runs_cancelled,
    track_run,
)


class _AfterTraining(Exception):
    """A bug of reprobox's in reading what a run left, after its training ended:
    carries the training's verdict, which the record keeps (its __cause__ is
    the bug)."""

    def __init__(self, status: str, exit_code: int | None, error: dict | None):
        super().__init__(status)
        self.status, self.exit_code, self.error = status, exit_code, error


def run_in_container(
    target: RunTarget,
    engine: Engine,
    *,
    image_ref: str,
    image_id: str,
    manifest: Mapping[str, Any],
    manifest_sha256: str,
    opts: RunOptions,
    on_log: Callable[[str], None] | None = None,
    image_digest: str | None = None,
) -> dict[str, Any]:
    """Run the training command in a container; return the final record."""
    check_mountable(target)
    env = container_env(manifest, opts)  # refuses bad --env before any file exists
    try:
        run_id, run_dir = make_run_dir(target.runs_dir)
        lock_fd = hold_run_lock(target.runs_dir, run_id)
    except OSError as exc:
        raise write_failure(exc, target.runs_dir, target, left=False) from None
    try:
        return _run_locked(
            engine,
            target,
            run_id,
            run_dir,
            image_ref=image_ref,
            image_id=image_id,
            manifest=manifest,
            manifest_sha256=manifest_sha256,
            opts=opts,
            env=env,
            on_log=on_log,
            image_digest=image_digest,
        )
    except (ReproboxError, KeyboardInterrupt, StopSignal) as exc:
        if not (run_dir / "record.json").exists():
            # Stopped before the record was written, so before any container:
            # nothing ran, and an empty folder would look like a lost run.
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            _close_record_left_running(engine, target, run_id, run_dir, lock_fd, exc)
        raise
    except Exception as exc:
        # A bug must not leave the record "running" for good: the lock goes
        # below, so no later run could tell that this one is over.
        # From reprobox's own copy: record.json is the container's to write,
        # and what is rewritten here is sealed as reprobox's.
        after = exc if isinstance(exc, _AfterTraining) else None
        bug = exc.__cause__ if after is not None else exc
        failed = f"reprobox failed: {type(bug).__name__}: {bug}"
        record_path = run_dir / "record.json"
        record = host_copy(lock_fd) or read_json(record_path)
        if record.get("status") == "running":
            record.update(
                status="failed",
                finished_at=iso_time(time.time()),
                error={"message": failed},
            )
            if after is not None:
                # The training ended and said how: only reprobox's reading of
                # what it left failed, so its verdict stands, with a warning.
                record.update(
                    status=after.status, exit_code=after.exit_code, error=after.error
                )
                record["warnings"] = [
                    *(record.get("warnings") or []),
                    f"{failed}, after the training ended; its metrics, history "
                    "and machine facts are missing",
                ]
            with contextlib.suppress(OSError):
                write_record(record_path, record)
        if after is not None:
            raise bug from None
        raise
    finally:
        if read_json(run_dir / "record.json").get("status") == "running":
            # The final record could not be written (a full disk): the lock
            # file, with its copy of the record, stays for the next command
            # to close the run from.
            os.close(lock_fd)
        else:
            release_run_lock(target.runs_dir, run_id, lock_fd)


def _close_record_left_running(
    engine: Engine,
    target: RunTarget,
    run_id: str,
    run_dir: Path,
    lock_fd: int,
    exc: BaseException,
) -> None:
    """Close a record a stop or an error left "running" before the run's own
    handlers took over (between its first write and the container's start).

    Left so, it would wait for the next command to call the run killed; the
    process that was stopped is alive and says what happened. Signals are
    held meanwhile, and a container made in that gap is removed.
    """
    record_path = run_dir / "record.json"
    closed = exc.closed_record if isinstance(exc, ReproboxError) else None
    if closed is not None:
        # The run's own handler closed it but could not write it all (a full
        # disk): try again now, never closing it a second time as "failed".
        keep_host_copy(target.runs_dir, run_id, closed)
        with contextlib.suppress(OSError):
            write_record(record_path, closed)
        return
    record = host_copy(lock_fd) or read_json(record_path)
    if record.get("status") != "running":
        return
    in_main = threading.current_thread() is threading.main_thread()
    held = hold_signals() if in_main else {}
    try:
        with contextlib.suppress(Exception):
            remove_run_containers(engine, run_id)
        stopped = not isinstance(exc, ReproboxError)
        record.update(
            status="interrupted" if stopped else "failed",
            exit_code=None,
            finished_at=iso_time(time.time()),
            error={
                "message": "interrupted before the container started"
                if stopped
                else exc.message,
                "log_tail": "",
            },
        )
        keep_host_copy(target.runs_dir, run_id, record)
        with contextlib.suppress(OSError):
            write_record(record_path, record)
    finally:
        release_signals(held)


def _run_locked(
    engine: Engine,
    target: RunTarget,
    run_id: str,
    run_dir: Path,
    *,
    image_ref: str,
    image_id: str,
    manifest: Mapping[str, Any],
    manifest_sha256: str,
    opts: RunOptions,
    env: dict[str, str],
    on_log: Callable[[str], None] | None,
    image_digest: str | None,
) -> dict[str, Any]:
    """Run the container of a run whose folder and lock are held; return its record.

    The steps: the start record written, the container started and followed,
    the training's verdict recorded. A stop or an engine or disk failure
    after the start record closes it here; run_in_container closes what
    comes before the handlers are in place, and a bug.
    """
    uid, gid = container_user()
    if os.geteuid() == 0:
        os.chown(run_dir, uid, gid)
    user = f"{uid}:{gid}"

    record = start_record(
        engine,
        target,
        run_id,
        image_ref=image_ref,
        image_id=image_id,
        image_digest=image_digest,
        manifest=manifest,
        manifest_sha256=manifest_sha256,
        opts=opts,
    )
    record_path = run_dir / "record.json"
    # The host copy first: a reprobox killed as it writes record.json leaves
    # the next command every fact of the run's start.
    keep_host_copy(target.runs_dir, run_id, record, reserve=HOST_COPY_RESERVE)
    try:
        atomic_write_json(record_path, sealed_record(record))
    except OSError as exc:
        # No record, no container yet: run_in_container removes the folder.
        raise write_failure(exc, record_path, target, left=False) from None

    spec = container_spec(
        target,
        run_id,
        run_dir,
        manifest=manifest,
        image_id=image_id,
        env=env,
        opts=opts,
        user=user,
    )
    # A value the record shows as *** must not come back through the script's
    # own output: the log, its tail in the record and the terminal hide it.
    output = ContainerOutput(opts.extra_env)
    hide = output.hide  # the record's fields, from the same hidden forms
    started = time.time()
    container = None
    pending: PendingStart | None = None
    log_copy: int | None = None
    log_lines: list[str] = []
    previous = {sig: signal.getsignal(sig) for sig in STOPPING_SIGNALS}
    in_main = threading.current_thread() is threading.main_thread()
    deferred: DeferredSignals | None = None

    def on_term(signum, frame):
        raise StopSignal()

    if in_main:
        for sig in previous:
            signal.signal(sig, on_term)
    try:
        # Made before the container can plant a link under that name.
        log_fd = os.open(
            run_dir / LOG_NAME,
            os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
        )
        log_copy = os.dup(log_fd)  # to put the log back if the script replaces it
        log_file = open(log_fd, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        pending = PendingStart(start_container, engine, spec)
        container = pending.result()
        track_run(run_id, container)
        if runs_cancelled():  # cancelled while it was being created
            raise StopSignal()
        with log_file as log:

            def show(text: str, lines: list[str]) -> None:
                # Lines first: a log write refused (a full disk) still leaves
                # them in the record's tail and on the terminal.
                for line in lines:
                    log_lines.append(line)
                    if on_log:
                        on_log(line)
                del log_lines[:-200]
                log.write(text)
                log.flush()

            try:
                for chunk in followed_output(container):
                    show(*output.feed(chunk))
            finally:
                # The end of the output, held back for a next chunk that will
                # not come: it may have been the start of a line or a secret.
                with contextlib.suppress(OSError):
                    show(*output.finish())
        if runs_cancelled():
            raise StopSignal()
        result = container.wait()
        exit_code = int(result.get("StatusCode", -1))
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        # Training is over: from here to the final record, a signal must not
        # leave the record "running" with its lock gone (removing the
        # container, hashing large data files and giving the folder back take
        # a while), so a signal waits until the record is written, then stops
        # reprobox (and any runs still to come).
        deferred = DeferredSignals(restore=previous) if in_main else None
    except BaseException as exc:
        if log_copy is not None:
            os.close(log_copy)
        if container is None and isinstance(exc, InputError):
            # The engine refused the settings: no container, so no run to record.
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if (
            not isinstance(exc, (KeyboardInterrupt, StopSignal))
            and not runs_cancelled()
        ):
            # An engine that hangs up, or a host that cannot keep the run's
            # files (a full disk), ended the run, not the training: the record
            # says "interrupted", and a container left is the next command's.
            cut_short = True
            exit_code = None
            if is_engine_trouble(exc):
                failure: BaseException = engine_lost_during_run(engine, exc)
                if is_connection_lost(exc):
                    container = None  # no removing it over a broken connection
            elif isinstance(exc, OSError):
                failure = write_failure(exc, run_dir, target, left=True)
                if container is not None:
                    # The engine still holds what the log could not keep.
                    exit_code, engine_tail = ended_by_the_host(container, opts)
                    log_lines[:] = engine_tail or log_lines
            else:
                failure, cut_short = exc, isinstance(exc, EngineError)
            finish_record(
                record,
                run_dir,
                started,
                hide=hide,
                status="interrupted" if cut_short else "failed",
                exit_code=exit_code,
                error={
                    "message": failure.message
                    if isinstance(failure, ReproboxError)
                    else str(exc),
                    "log_tail": tail_text(log_lines),
                },
            )
            keep_on_a_full_disk(target, run_id, record)
            with contextlib.suppress(OSError):  # the disk may be what failed
                write_record(record_path, record)
            if failure is exc:
                raise
            if isinstance(failure, ReproboxError):
                failure.closed_record = record  # not to be closed again
            raise failure from None
        # A second Ctrl-C must not cut the cleanup short: hold signals until the
        # container is gone and the record says "interrupted".
        held = hold_signals() if in_main else {}
        if container is None and pending is not None:
            # The engine goes on creating a container after we stop waiting:
            # wait for its answer, so that its id is known and it is removed.
            pending.done.wait(START_GRACE_S)
            container = pending.container
        if container is not None:
            remove_container(container)
            container = None
        # A signal inside create/start leaves us no handle: find it by label,
        # twice, since the engine may finish creating it after we hung up.
        remove_run_containers(engine, run_id)
        time.sleep(0.5)
        remove_run_containers(engine, run_id)
        finish_record(
            record,
            run_dir,
            started,
            hide=hide,
            status="interrupted",
            exit_code=None,
            error={
                # Not "by the user": SIGTERM and SIGHUP come from the system.
                "message": "interrupted by a stop signal (Ctrl-C, SIGTERM, SIGHUP "
                "or SIGQUIT)",
                "log_tail": tail_text(log_lines),
            },
        )
        keep_on_a_full_disk(target, run_id, record)
        with contextlib.suppress(OSError):
            write_record(record_path, record)
        release_signals(held)
        raise Interrupted(
            f"run {run_id} interrupted; container removed; record in {record_path}",
            records=[record],
        ) from None
    finally:
        forget_run(run_id)
        try:
            if container is not None:
                remove_container(container)
        except BaseException:
            if deferred is not None:
                deferred.release()
            raise
        if in_main and deferred is None:
            release_signals(previous)

    status = "succeeded" if exit_code == 0 else "failed"
    error = training_error(exit_code, oom, log_lines)
    try:
        # Before finish_record gives the folder back, so that the log put back
        # belongs to the owner of runs/ like every other file there.
        try:
            log_warnings = restore_log(run_dir, log_copy)
            finish_record(
                record,
                run_dir,
                started,
                hide=hide,
                status=status,
                exit_code=exit_code,
                error=error,
                killed=oom or killed_by_signal(exit_code),
            )
            record["warnings"] += data_changed_during(target, manifest)
            record["warnings"] += log_warnings
            keep_on_a_full_disk(target, run_id, record)
        except ReproboxError:
            raise
        except Exception as exc:
            raise _AfterTraining(status, exit_code, error) from exc
        try:
            write_record(record_path, record)
        except OSError as exc:
            failure = write_failure(exc, record_path, target, left=True)
            failure.closed_record = record  # the training's verdict, kept
            raise failure from None
    finally:
        caught = deferred.release() if deferred is not None else None
    if caught is not None:
        raise Interrupted(
            f"run {run_id} {record['status']}, then reprobox was interrupted; "
            f"record in {record_path}",
            records=[record],
        )
    return record
