"""`reprobox run`: train inside the image and write a run record.

The record is written when the run starts (status "running") and rewritten
when it ends, each time atomically. Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stop and
remove the container and mark the record "interrupted"; a run whose reprobox
died (SIGKILL) has its record, still "running", closed as "interrupted" and its
container removed by the next run (reprobox/recovery.py). What a run is given
(its target, options and container environment) lives in run_options.py;
the holding of signals around the container's start and end, and the
cancelling of runs in other threads, in run_signals.py; run folders, their
locks and record writes, in run_folders.py; reading what the container wrote,
in container_files.py; who owns the run's files, in run_owner.py.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import re
import shutil
import signal
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reprobox import __version__
from reprobox.atomic import atomic_write_json, writable_text
from reprobox.container_files import (
    capture_without_tokens,
    machine_from_capture,
    metrics_from,
    read_json,
    read_script_metrics,
    sane_capture,
    tail_text,
    usable_curves,
)
from reprobox.credential_files import secret_value
from reprobox.engine import (
    CODE_LABEL,
    LABEL_PREFIX,
    OWNER_LABEL,
    RUN_LABEL,
    ContainerSpec,
    Engine,
    engine_lost_during_run,
    exited_code,
    image_label,
    image_layers_digest,
    is_connection_lost,
    is_engine_trouble,
    owner_label,
    remove_container,
    remove_run_containers,
    start_container,
    stop_and_read_tail,
)
from reprobox.errors import (
    EngineError,
    InputError,
    Interrupted,
    ReproboxError,
    RunFailed,
)
from reprobox.image_names import recorded_name
from reprobox.manifest import sha256_file
from reprobox.output_follow import followed_output
from reprobox.output_stream import ContainerOutput
from reprobox.run_folders import (
    HOST_COPY_RESERVE,
    LOG_NAME,
    RECORD_SCHEMA_VERSION,
    hold_run_lock,
    host_copy,
    iso_time,
    keep_host_copy,
    make_run_dir,
    release_run_lock,
    sealed_record,
    sweep_temps,
    write_record,
)
from reprobox.run_options import (
    OUT_IN_CONTAINER,
    RunOptions,
    RunTarget,
    check_mountable,
    container_env,
    memory_bytes,
)
from reprobox.run_owner import container_user, give_back
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
from reprobox.secret_masking import hidden_in, hidden_names

GPU_MISSING_EXIT = 97


# What to do about a runs folder, by why it could not be written.
_RUNS_FOLDER_FIXES = {
    errno.ENOSPC: "free space there",
    errno.EDQUOT: "free space there",
    errno.EROFS: "it is on a read-only file system: make it writable",
    errno.EACCES: "make it writable for this user",
    errno.EPERM: "make it writable for this user",
    errno.ENOENT: "a folder above it is missing or cannot be made there",
}


def _write_failure(
    exc: OSError, where: Path, target: RunTarget, *, left: bool
) -> ReproboxError:
    """Say in one line which file could not be written, and why.

    Whatever the cause (a file in the way, a read-only or full disk, no
    permission) the runs folder is the user's to fix: exit 2, as for any
    other path that cannot be written; exit 1 would read as "the run said no".
    left says whether the run left a record that a later command closes
    (target.closed_by names which).
    """
    path = exc.filename or where
    if isinstance(exc, (NotADirectoryError, FileExistsError, IsADirectoryError)):
        return InputError(
            f"{path}: cannot write the run's files there: {exc.strerror or exc}",
            hint="the runs folder must be a folder: move what is in the way",
        )
    # Not the training's verdict: the host could not keep its files (as freeze
    # and build say of a full disk, exit 2).
    fix = _RUNS_FOLDER_FIXES.get(exc.errno, "free space there or make it writable")
    after = f"; {target.closed_by} closes this run's record" if left else ""
    return InputError(
        f"{path}: cannot write the run's files: {exc.strerror or exc}",
        hint=f"{fix}, then run again{target.elsewhere}{after}",
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
        raise _write_failure(exc, target.runs_dir, target, left=False) from None
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
    from reprobox.compare.compare_settings import settings_for_record

    uid, gid = container_user()
    if os.geteuid() == 0:
        os.chown(run_dir, uid, gid)
    user = f"{uid}:{gid}"
    hidden = hidden_names(opts.extra_env)
    if image_digest is None:
        # A name that names the image that runs, and the digest the engine
        # lists for it: not a tag of another image of the build, nor a digest
        # only the manifest claims (see image_names).
        image_ref, image_digest = recorded_name(engine, image_id, image_ref)
    record: dict[str, Any] = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "reprobox_version": __version__,
        "run_id": run_id,
        "status": "running",
        "exit_code": None,
        "started_at": iso_time(time.time()),
        "finished_at": None,
        "duration_s": None,
        "project": target.project,
        "image": {
            "ref": image_ref,
            "id": image_id,
            "digest": image_digest,
            "layers": image_layers_digest(engine, image_id),
            "code_sha256": image_label(engine, image_id, CODE_LABEL),
        },
        "manifest_sha256": manifest_sha256,
        # The command the container ran (the manifest's, checked at freeze to
        # hold no secret), so compare names another flag or argument itself,
        # not only another manifest.
        "command": list(manifest["project"]["command"]),
        # The variables the image sets (the manifest's environment: [env],
        # pass_env and the numerics the freezing shell had), so compare can
        # name the one that changed, not only another manifest.
        "environment": {
            k: "***" if secret_value(k, v) else v
            for k, v in sorted((manifest.get("environment") or {}).items())
        },
        # What the run is judged by, so a copy of its folder is judged the same.
        "compare_settings": settings_for_record(manifest.get("metrics") or {}),
        "engine": engine.describe(),
        "seed": opts.seed,
        "profile": opts.profile,
        "options": {
            "cpus": opts.cpus,
            "memory": opts.memory,
            "gpus": opts.gpus,
            "network": opts.network,
            "repeat_index": opts.repeat_index,
            "seed_sweep": opts.seed_sweep,
            "env": {
                k: "***" if k in hidden else v
                for k, v in sorted(opts.extra_env.items())
            },
        },
        "data": manifest.get("data", []),
        "machine": None,
        "metrics": {},
        "history": [],
        "evaluations": [],
        "log": LOG_NAME,
        "warnings": [],
        "error": None,
    }
    record_path = run_dir / "record.json"
    # The host copy first: a reprobox killed as it writes record.json leaves
    # the next command every fact of the run's start.
    keep_host_copy(target.runs_dir, run_id, record, reserve=HOST_COPY_RESERVE)
    try:
        atomic_write_json(record_path, sealed_record(record))
    except OSError as exc:
        # No record, no container yet: run_in_container removes the folder.
        raise _write_failure(exc, record_path, target, left=False) from None

    mounts = [(run_dir, OUT_IN_CONTAINER, False)]
    mounts += [(host, f"/app/{rel}", True) for host, rel in target.data]
    spec = ContainerSpec(
        image=image_id,
        command=list(manifest["project"]["command"]),
        env=env,
        labels={
            RUN_LABEL: run_id,
            OWNER_LABEL: owner_label(),
            f"{LABEL_PREFIX}.project": target.project,
        },
        user=user,
        mounts=mounts,
        cpus=opts.cpus,
        memory=memory_bytes(opts.memory) if opts.memory else None,
        device_requests=opts.device_requests,
        network=opts.network,
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
                failure = _write_failure(exc, run_dir, target, left=True)
                if container is not None:
                    # The engine still holds what the log could not keep.
                    exit_code, engine_tail = _ended_by_the_host(container, opts)
                    log_lines[:] = engine_tail or log_lines
            else:
                failure, cut_short = exc, isinstance(exc, EngineError)
            _finish(
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
            _keep_on_a_full_disk(target, run_id, record)
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
        _finish(
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
        _keep_on_a_full_disk(target, run_id, record)
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

    error = None
    status = "succeeded" if exit_code == 0 else "failed"
    if exit_code == GPU_MISSING_EXIT:
        error = {
            "message": "GPUs were requested but the framework saw none",
            "log_tail": tail_text(log_lines),
        }
    elif oom or exit_code == 137:
        error = {
            "message": f"killed (exit {exit_code}"
            + (", out of memory)" if oom else ")"),
            "log_tail": tail_text(log_lines),
        }
    elif exit_code != 0:
        error = {
            "message": f"training command exited with {exit_code}"
            + _write_denied_hint(log_lines),
            "log_tail": tail_text(log_lines),
        }
    try:
        # Before _finish gives the folder back, so that the log put back
        # belongs to the owner of runs/ like every other file there.
        try:
            log_warnings = _restore_log(run_dir, log_copy)
            _finish(
                record,
                run_dir,
                started,
                hide=hide,
                status=status,
                exit_code=exit_code,
                error=error,
                killed=oom or killed_by_signal(exit_code),
            )
            record["warnings"] += _data_changed_during(target, manifest)
            record["warnings"] += log_warnings
            _keep_on_a_full_disk(target, run_id, record)
        except ReproboxError:
            raise
        except Exception as exc:
            raise _AfterTraining(status, exit_code, error) from exc
        try:
            write_record(record_path, record)
        except OSError as exc:
            failure = _write_failure(exc, record_path, target, left=True)
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


def _keep_on_a_full_disk(target: RunTarget, run_id: str, record: dict) -> None:
    """Keep a closed record's host copy, shorter if the disk has no room for it.

    Its status, exit code and metrics matter more than the log's tail or the
    list of installed packages: those go first from the copy (record itself
    stays whole), and a warning there says so.
    """
    if keep_host_copy(target.runs_dir, run_id, record):
        return
    record = copy.deepcopy(record)  # record.json, if it can be written, has it all
    error = record.get("error") or {}
    machine = record.get("machine") or {}
    note = "the disk was full: the record keeps"
    for lines, cut in ((5, "the log's last 5 lines"), (0, "no log tail")):
        error["log_tail"] = "\n".join(error.get("log_tail", "").splitlines()[-lines:])
        if not lines:
            error["log_tail"] = ""
            machine.pop("packages", None)
            cut += " and no package list"
        record["warnings"] = [
            w for w in record["warnings"] if not w.startswith(note)
        ] + [f"{note} {cut} (container.log has what it could write)"]
        if keep_host_copy(target.runs_dir, run_id, record):
            return


def _ended_by_the_host(container, opts: RunOptions) -> tuple[int | None, list[str]]:
    """Stop a run the host cut short; return the training's exit code, if it
    had ended on its own, and the last lines the engine kept of its output."""
    exit_code = exited_code(container)
    output = ContainerOutput(opts.extra_env)  # its secrets hidden, as in the log
    _, lines = output.feed(stop_and_read_tail(container, 200))
    return exit_code, lines + output.finish()[1]


def _restore_log(run_dir: Path, log_copy: int | None) -> list[str]:
    """Put reprobox's container log back if the script removed it; warn if so.

    The folder is the container's to write: it may unlink container.log, or
    leave a link (to a host file), a folder or another file in its place. What
    reprobox wrote is still in the open file; the name is taken back and given
    that content. Run before the folder is given back, which makes it the
    owner's.
    """
    if log_copy is None:
        return []
    path = run_dir / LOG_NAME
    found = "changed"  # until lstat says how
    try:
        ours = os.fstat(log_copy)
        try:
            there = os.lstat(path)
        except FileNotFoundError:
            found = "deleted"
        else:
            if (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino):
                return []
            found = f"replaced with {_kind_of_entry(there.st_mode)}"
            if stat.S_ISDIR(there.st_mode):
                shutil.rmtree(path)
            else:
                path.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o644)
        with os.fdopen(fd, "wb") as out:
            offset = 0
            while chunk := os.pread(log_copy, 1 << 20, offset):
                out.write(chunk)
                offset += len(chunk)
    except OSError as exc:
        return [
            f"{LOG_NAME} was {found} by the training script and could not be "
            f"put back ({exc.strerror})"
        ]
    finally:
        os.close(log_copy)
    return [
        f"{LOG_NAME} was {found} by the training script; reprobox put its own log back"
    ]


def _kind_of_entry(mode: int) -> str:
    """Name what a file mode says an entry is, as a warning words it."""
    if stat.S_ISLNK(mode):
        return "a link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "another file"
    return "something that is not a file (a pipe, socket or device)"


def killed_by_signal(exit_code: int) -> bool:
    """Return whether a container's exit code says a signal ended its process."""
    # The engine reports a process a signal ended as 128 plus the signal.
    return exit_code - 128 in signal.valid_signals()


def _finish(
    record: dict,
    run_dir: Path,
    started: float,
    *,
    hide: Callable[[str], str],
    status: str,
    exit_code: int | None,
    error: dict | None,
    killed: bool = False,
) -> None:
    """Put what the container left (capture, metrics, warnings) into the record.

    All of it is the script's to write, so a secret --env value is hidden in
    it as in the log. killed says the engine ended the script (out of memory
    or a signal), which explains a missing final capture on its own.
    """
    given_back = give_back(run_dir)
    sweep_temps(run_dir)  # the container is gone: a temp left now is nobody's
    capture, damaged = sane_capture(read_json(run_dir / "capture.json"))
    capture, token_warnings = capture_without_tokens(capture)
    capture, name_warnings = usable_curves(capture)
    script_metrics, warnings = read_script_metrics(run_dir / "metrics.json")
    warnings += [f"capture.json field {k!r} was damaged; left out" for k in damaged]
    warnings += token_warnings + name_warnings
    if capture and "python" not in capture and status != "interrupted" and not killed:
        # The hook writes at start and again at exit; only the first got through.
        # A killed process runs no exit hook, so then the guess below is wrong.
        warnings.append(
            "the start-up hook could not write its final capture (was "
            "$REPROBOX_OUT made unwritable, or did the script end with os._exit?): "
            "installed packages and Python/OS facts are missing"
        )
    warnings += given_back
    if capture.get("error") and error is not None:
        error["message"] = str(capture["error"].get("message", error["message"]))
    record.update(
        {
            "status": status,
            "exit_code": exit_code,
            "finished_at": iso_time(time.time()),
            "duration_s": round(time.time() - started, 3),
            "machine": machine_from_capture(capture),
            "metrics": metrics_from(capture, script_metrics),
            "history": capture.get("history") or [],
            "evaluations": capture.get("evaluations") or [],
            "warnings": warnings + list(capture.get("hook_errors") or []),
            "error": error,
        }
    )
    # Text a container wrote may hold half a UTF-16 pair (a JSON "\\ud800"
    # escape), which no record can store: written as an escape, then hidden.
    for name in ("machine", "metrics", "history", "evaluations", "warnings", "error"):
        record[name] = hidden_in(record[name], lambda text: hide(writable_text(text)))


def _data_changed_during(target: RunTarget, manifest: Mapping[str, Any]) -> list[str]:
    """Name the data files whose bytes differ now from those checked before the run."""
    frozen = {item["path"]: item["sha256"] for item in manifest.get("data") or []}
    changed = []
    for host, rel in target.data:
        try:
            now = sha256_file(host)
        except OSError:
            now = None
        if rel in frozen and now != frozen[rel]:
            changed.append(
                f"data file {rel} changed during the run (its sha256 is not the one "
                "checked before it): the record's data fingerprints may not "
                "describe what training read"
            )
    return changed


# Python's words for a refused write, of a path in /app or relative to it (the
# working folder): "PermissionError: [Errno 13] Permission denied: 'out.csv'".
_DENIED_IN_APP = re.compile(
    r"(?:Permission denied|Read-only file system): '(?:/app\b|(?!/))"
)


def _write_denied_hint(log_lines: Sequence[str]) -> str:
    """Say where outputs go when the script was refused a write under /app."""
    if any(_DENIED_IN_APP.search(line) for line in log_lines[-50:]):
        return (
            " (it was refused a write under /app, which holds the image's code "
            "and is not the training user's to change: write outputs under "
            "$REPROBOX_OUT, which becomes the run folder)"
        )
    return ""


def raise_for_status(record: Mapping[str, Any], record_path: Path) -> None:
    """Raise RunFailed with the record's error when the run did not succeed."""
    if record["status"] == "succeeded":
        return
    error = record.get("error") or {}
    tail = error.get("log_tail") or ""
    message = f"run {record['run_id']} {record['status']}: {error.get('message')}"
    if tail:
        message += "\n" + "\n".join("  | " + line for line in tail.splitlines()[-10:])
    raise RunFailed(message + f"\n  record: {record_path}")
