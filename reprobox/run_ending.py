"""How a run ends: its verdict, the record closed from what it left, failures.

After the container is gone, runner.py hands over here: the training's exit
code becomes a status and error (training_error, killed_by_signal); what the
container left (capture, metrics, warnings) goes into the record
(finish_record), with the log put back if the script replaced it and a
warning for a data file that changed meanwhile; a record too large for a
full disk keeps a shorter host copy. A runs folder that cannot be written
becomes one line that names the file and the fix (write_failure), and
raise_for_status turns a record that did not succeed into the CLI's error.
Apart from runner.py, which starts, follows and stops the container, so
that each reads whole.
"""

from __future__ import annotations

import copy
import errno
import os
import re
import shutil
import signal
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reprobox.atomic import writable_text
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
from reprobox.engine import exited_code, stop_and_read_tail
from reprobox.errors import InputError, ReproboxError, RunFailed
from reprobox.manifest import sha256_file
from reprobox.output_stream import ContainerOutput
from reprobox.run_folders import LOG_NAME, iso_time, keep_host_copy, sweep_temps
from reprobox.run_options import RunOptions, RunTarget
from reprobox.run_owner import give_back
from reprobox.secret_masking import hidden_in, without_hidden_names

GPU_MISSING_EXIT = 97  # the start-up hook's exit when no GPU was seen


# What to do about a runs folder, by why it could not be written.
_RUNS_FOLDER_FIXES = {
    errno.ENOSPC: "free space there",
    errno.EDQUOT: "free space there",
    errno.EROFS: "it is on a read-only file system: make it writable",
    errno.EACCES: "make it writable for this user",
    errno.EPERM: "make it writable for this user",
    errno.ENOENT: "a folder above it is missing or cannot be made there",
}


def write_failure(
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
    dangling = Path(path).is_symlink() and not Path(path).exists()
    if dangling and isinstance(exc, FileExistsError):
        # mkdir of a link that leads nowhere says "File exists" (brk r50 BT 5).
        return InputError(
            f"{path}: cannot write the run's files there: it is a link to "
            f"{os.readlink(path)}, which does not exist",
            hint="point the link at a folder, or remove it",
        )
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


def keep_on_a_full_disk(target: RunTarget, run_id: str, record: dict) -> None:
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


def ended_by_the_host(container, opts: RunOptions) -> tuple[int | None, list[str]]:
    """Stop a run the host cut short; return the training's exit code, if it
    had ended on its own, and the last lines the engine kept of its output."""
    exit_code = exited_code(container)
    output = ContainerOutput(opts.extra_env)  # its secrets hidden, as in the log
    _, lines = output.feed(stop_and_read_tail(container, 200))
    return exit_code, lines + output.finish()[1]


def restore_log(run_dir: Path, log_copy: int | None) -> list[str]:
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


def finish_record(
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
    # A name compared by name that holds a secret --env value is left out,
    # not kept as "***": two such names became "***" and "*** (2)", matched
    # across runs whatever they were.
    for name, what in (
        ("metrics", "metric"),
        ("history", "history"),
        ("evaluations", "evaluations"),
    ):
        record[name], dropped = without_hidden_names(
            record[name], lambda text: hide(writable_text(text))
        )
        record["warnings"] += [
            f"{what}{'' if path.startswith('[') else ' '}{path} is named with a "
            "secret --env value; left out"
            for path in dropped
        ]
    # Text a container wrote may hold half a UTF-16 pair (a JSON "\\ud800"
    # escape), which no record can store: written as an escape, then hidden.
    for name in ("machine", "metrics", "history", "evaluations", "warnings", "error"):
        record[name] = hidden_in(record[name], lambda text: hide(writable_text(text)))


def data_changed_during(target: RunTarget, manifest: Mapping[str, Any]) -> list[str]:
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


def write_denied_hint(log_lines: Sequence[str]) -> str:
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


def training_error(exit_code: int, oom: bool, log_lines: Sequence[str]) -> dict | None:
    """Return the record's error for a training that ended with exit_code.

    None when it exited 0 and the engine did not kill it for memory.
    """
    if exit_code == GPU_MISSING_EXIT:
        return {
            "message": "GPUs were requested but the framework saw none",
            "log_tail": tail_text(log_lines),
        }
    if oom or exit_code == 137:
        return {
            "message": f"killed (exit {exit_code}"
            + (", out of memory)" if oom else ")"),
            "log_tail": tail_text(log_lines),
        }
    if exit_code != 0:
        return {
            "message": f"training command exited with {exit_code}"
            + write_denied_hint(log_lines),
            "log_tail": tail_text(log_lines),
        }
    return None
