"""`reprobox run`: train inside the image and write a run record.

The record is written when the run starts (status "running") and rewritten
when it ends, each time atomically. Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stop and
remove the container and mark the record "interrupted"; a run whose reprobox
died (SIGKILL) has its record, still "running", closed as "interrupted" and its
container removed by the next run (reprobox/recovery.py): each run holds an
flock on runs/.<run-id>.lock while it lives, and the kernel drops that lock
when the process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import secrets as _random
import shlex
import shutil
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reprobox import __version__
from reprobox.atomic import atomic_write_json, dump_json
from reprobox.config import ProjectConfig
from reprobox.credential_files import secret_value
from reprobox.engine import (
    CODE_LABEL,
    LABEL_PREFIX,
    OWNER_LABEL,
    RUN_LABEL,
    ContainerSpec,
    Engine,
    engine_lost_during_run,
    image_label,
    image_layers_digest,
    is_connection_lost,
    is_engine_trouble,
    owner_label,
    remove_container,
    remove_run_containers,
    start_container,
)
from reprobox.envvars import RESERVED, STRICT_ENV, looks_secret
from reprobox.errors import (
    EngineError,
    InputError,
    Interrupted,
    ReproboxError,
    RunFailed,
)
from reprobox.lock.indexes import secret_pieces
from reprobox.manifest import sha256_file
from reprobox.seals import (
    RECORD_DIGEST_FIELD,
    SEALED_RECORD_VERSION,
    loads_strict,
    record_digest,
)

OUT_IN_CONTAINER = "/reprobox/out"
CONTAINER_UID = 1000
GPU_MISSING_EXIT = 97
LOG_NAME = "container.log"
RECORD_SCHEMA_VERSION = SEALED_RECORD_VERSION  # 2: records carry record_sha256


@dataclass
class RunOptions:
    """How one run is made: seed, profile, resources and extra env."""

    seed: int | None = None
    profile: str = "default"
    cpus: float | None = None
    memory: str | None = None
    gpus: str | None = None
    device_requests: list | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    repeat_index: int | None = None
    seed_sweep: str | None = None
    network: str = "bridge"


_MEMORY = re.compile(r"(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?", re.I)
_MEMORY_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MEMORY_UNITS["p"] = 1 << 50
MIN_MEMORY, MAX_MEMORY = 6 << 20, 1 << 50  # Docker's least; 1024t


def memory_bytes(memory: str) -> int:
    """Return a memory limit as the docker CLI reads it (4g, 1.5GiB), in bytes."""
    match = _MEMORY.fullmatch(memory.strip())
    if match is None:
        raise InputError(
            f"--memory {memory!r} is not a size", hint="e.g. --memory 4g or 1.5g"
        )
    size = int(float(match[1]) * _MEMORY_UNITS[match[2].lower()])
    if not MIN_MEMORY <= size <= MAX_MEMORY:
        raise InputError(
            f"--memory {memory} is outside what Docker accepts (6m to 1024t)",
            hint="e.g. --memory 4g",
        )
    return size


def new_run_id(now: datetime | None = None) -> str:
    """Return a sortable, unique run id: UTC time plus 6 random hex digits."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + _random.token_hex(3)


def _iso(ts: float) -> str:
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
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(temp, final)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return fd


def release_run_lock(runs_dir: Path, run_id: str, fd: int) -> None:
    """Drop the lock of a run whose record is final."""
    with contextlib.suppress(OSError):
        _lock_path(runs_dir, run_id).unlink()
    with contextlib.suppress(OSError):
        os.close(fd)


def keep_host_copy(runs_dir: Path, run_id: str, record: dict[str, Any]) -> None:
    """Write the run's record into its lock file, where the container cannot reach.

    The run folder is the container's to write, so after a SIGKILL its
    record.json may say anything (succeeded, another project). The lock file
    lives in runs/, which is not mounted: the record is closed from this copy.
    Written in place, since the flock belongs to this very file, and before
    each write of record.json, so a reprobox killed mid-rename (or stopped by a
    full disk) leaves the newest record here.
    """
    data = dump_json(sealed_record(record)).encode("utf-8")
    with contextlib.suppress(OSError):
        fd = os.open(_lock_path(runs_dir, run_id), os.O_WRONLY | os.O_NOFOLLOW)
        try:
            # Space first: on a full disk the copy already there stays whole.
            os.posix_fallocate(fd, 0, len(data))
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)


RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def close_abandoned_records(
    runs_dir: Path,
    project: str | None = None,
    on_closed: Callable[[dict[str, Any]], None] | None = None,
    on_recovered: Callable[[str], None] | None = None,
) -> list[str]:
    """Mark records left "running" by a reprobox that is gone; return their ids.

    A record whose lock file is missing (written before locks existed, or its
    folder copied from elsewhere) is left alone: nothing says its owner died.
    So is a lock file whose name is not a run id, or whose copy names another
    project. A run killed as it wrote its final record gets that record, from
    the host copy, told through on_recovered; one killed before anything ran
    (an empty folder) is removed, not recorded.
    """
    closed: list[str] = []
    if not runs_dir.is_dir():
        return closed
    _sweep_unrenamed_locks(runs_dir)
    for lock in sorted(runs_dir.glob(".*.lock")):
        run_id = lock.name[1 : -len(".lock")]
        if not RUN_ID.fullmatch(run_id):
            continue
        run_dir = runs_dir / run_id
        record_path = run_dir / "record.json"
        with _taken_from_the_dead(lock) as fd:
            if fd is None:
                continue  # its reprobox is alive
            record = _host_copy(fd)
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
                record = _read_json(record_path) or None
            if record is None and run_dir.is_dir():
                record = _unknown_record(run_id, project, damaged=not empty_copy)
            if record is not None and record.get("status") != "running":
                if _read_json(record_path).get("status") != record["status"]:
                    # Killed while renaming its final record into place.
                    try:
                        _write_record(record_path, record)
                    except OSError:
                        continue
                    if on_recovered is not None:
                        on_recovered(run_id)
                _sweep_temps(run_dir)
            elif record is not None:
                _give_back(run_dir)
                record["status"] = "interrupted"
                record["finished_at"] = _iso(time.time())
                record["error"] = {
                    "message": "the reprobox process running it was killed; "
                    "closed by a later `reprobox run`, `build` or `verify`",
                    "log_tail": _log_tail(run_dir / LOG_NAME),
                }
                try:
                    _write_record(record_path, record)
                except OSError:
                    continue
                _sweep_temps(run_dir)
                closed.append(run_id)
                if on_closed is not None:
                    on_closed(record)
            with contextlib.suppress(OSError):
                lock.unlink()
    return closed


@contextlib.contextmanager
def _taken_from_the_dead(path: Path) -> Iterator[int | None]:
    """Yield path open and locked when no live reprobox holds it, else None.

    A run's lock is held by its reprobox for its whole life, so taking it
    says that reprobox is gone; it stays taken (and the file open) for the
    block, so no other reprobox sweeps the same run meanwhile.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)


def _sweep_unrenamed_locks(runs_dir: Path) -> None:
    """Remove lock files a killed reprobox made but never renamed into place.

    Such a run got no further than its empty folder, removed with it.
    """
    for temp in runs_dir.glob(".*.lock.*.new"):
        run_id = temp.name[1:].split(".lock.", 1)[0]
        if not RUN_ID.fullmatch(run_id):
            continue
        with _taken_from_the_dead(temp) as fd:
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
# reprobox's own record, and the start-up hook's capture.
_TEMP_PREFIXES = (".record.json.", ".capture.")


def _sweep_temps(run_dir: Path) -> None:
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


def _host_copy(fd: int) -> dict[str, Any] | None:
    try:
        raw = os.pread(fd, MAX_CONTAINER_JSON, 0)
        data = loads_strict(raw.decode("utf-8"), "the run's lock file")
    except (OSError, ValueError, RecursionError, InputError):
        return None
    return data if isinstance(data, dict) and data.get("run_id") else None


def _log_tail(path: Path, lines: int = 20) -> str:
    """Return the last lines of a log the container could have replaced."""
    try:
        fh = open_regular_file(path)
    except (OSError, UntrustedFileError):
        return ""
    with fh:
        st = os.fstat(fh.fileno())
        fh.seek(max(0, st.st_size - 64 * 1024))
        text = fh.read().decode("utf-8", errors="replace")
    return tail_text(text.splitlines(), lines)


# A record keeps the last lines of the log, each cut to this many characters:
# one line of 20 MB (a progress bar without newlines) must not fill the record.
TAIL_LINE_CHARS = 1000


def tail_text(lines: Sequence[str], count: int = 20) -> str:
    """Return the last count lines, each cut short past TAIL_LINE_CHARS."""
    return "\n".join(
        line if len(line) <= TAIL_LINE_CHARS else line[: TAIL_LINE_CHARS - 1] + "…"
        for line in lines[-count:]
    )


# Read as whole numbers by TensorFlow, OpenMP and the BLAS libraries (and by
# the start-up hook): anything else is refused before a container exists.
THREAD_COUNT_VARS = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)


def container_env(manifest: Mapping[str, Any], opts: RunOptions) -> dict[str, str]:
    """Return the variables the training container starts with.

    The profile's settings come first, then what the user gave with --env
    (their explicit choice wins), then reprobox's own REPROBOX_* variables,
    which nothing may replace.
    """
    own = sorted(k for k in opts.extra_env if k.startswith("REPROBOX_"))
    if own:
        raise InputError(
            f"--env {own[0]}: REPROBOX_* variables are reprobox's own",
            hint="use --seed, --profile or --gpus instead",
        )
    reserved = sorted(k for k in opts.extra_env if k in RESERVED)
    if reserved:
        raise InputError(
            f"--env {reserved[0]}: the image sets it; overriding it breaks the run",
            hint=f"drop --env {reserved[0]}",
        )
    hash_seed = opts.extra_env.get("PYTHONHASHSEED")
    if hash_seed is not None and not (
        hash_seed == "random"
        or (re.fullmatch(r"[0-9]{1,10}", hash_seed) and int(hash_seed) <= 4294967295)
    ):
        raise InputError(
            f"--env PYTHONHASHSEED={hash_seed!r} is not what Python accepts",
            hint="give random or a whole number from 0 to 4294967295, or use --seed",
        )
    for name in THREAD_COUNT_VARS:
        value = opts.extra_env.get(name)
        if value is not None and not re.fullmatch(r"[1-9][0-9]{0,5}", value):
            raise InputError(
                f"--env {name}={value!r} is not a thread count",
                hint="give a whole number of 1 or more, or leave it out: reprobox "
                "fits threads to the CPU quota",
            )
    profile: dict[str, str] = {"HOME": "/tmp"}
    reprobox = {
        "REPROBOX_OUT": OUT_IN_CONTAINER,
        "REPROBOX_METRICS": f"{OUT_IN_CONTAINER}/metrics.json",
        "REPROBOX_PROFILE": opts.profile,
    }
    if opts.seed is not None:
        reprobox["REPROBOX_SEED"] = str(opts.seed)
        profile["PYTHONHASHSEED"] = str(opts.seed)
    if opts.profile == "strict":
        profile.update(STRICT_ENV)
        reprobox["REPROBOX_OP_DETERMINISM"] = "1"
    elif manifest.get("determinism", {}).get("tf_op_determinism"):
        reprobox["REPROBOX_OP_DETERMINISM"] = "1"
    if opts.gpus:
        reprobox["REPROBOX_REQUIRE_GPU"] = "1"
    return {**profile, **opts.extra_env, **reprobox}


def _metrics_from(
    capture: Mapping[str, Any], script_metrics: Mapping[str, Any]
) -> dict:
    found: dict[str, Any] = {}
    try:  # capture.json is the container's to write: take only what fits
        history = capture.get("history") or []
        if history and history[-1].get("epochs"):
            last = dict(history[-1]["epochs"][-1])
            last.pop("epoch", None)
            found.update(last)
        evaluations = capture.get("evaluations") or []
        if evaluations:
            for key, value in evaluations[-1].get("results", {}).items():
                found[f"eval_{key}"] = value
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        found = {}
    found.update(script_metrics)
    metrics: dict[str, float] = {}
    for key, value in found.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                metrics[str(key)] = float(value)
            except OverflowError:
                continue
    return dict(sorted(metrics.items()))


# What the container writes is read by reprobox on the host: never follow a
# link it planted (to a host file), never block on a FIFO, never read without
# bound, and never let a nesting bomb raise RecursionError.
MAX_CONTAINER_JSON = 64 * 1024 * 1024
# How reprobox opens anything in a run folder: no link followed, no FIFO waited on.
UNTRUSTED_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UntrustedFileError(ValueError):
    """A file the container wrote that reprobox will not read."""


def open_regular_file(path: Path | str, flags: int = UNTRUSTED_OPEN, **kwargs):
    """Open path for binary reading only if it is a regular file; else ValueError.

    The type is checked on the descriptor before a file object is made: Python
    refuses to wrap a folder's descriptor with an OSError that names the
    descriptor's number instead of the path.
    """
    fd = os.open(path, flags, **kwargs)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UntrustedFileError("is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_container_json(path: Path) -> Any:
    """Return the JSON in a file the container wrote; raise UntrustedFileError."""
    try:
        fh = open_regular_file(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if path.is_symlink():
            raise UntrustedFileError("is a symbolic link; not followed") from None
        raise UntrustedFileError(f"cannot be read ({exc.strerror})") from None
    with fh:
        st = os.fstat(fh.fileno())
        if st.st_size > MAX_CONTAINER_JSON:
            raise UntrustedFileError(f"is larger than {MAX_CONTAINER_JSON >> 20} MiB")
        raw = fh.read(MAX_CONTAINER_JSON + 1)
    try:
        return loads_strict(raw.decode("utf-8"), path)
    except InputError:  # a repeated key: which of its values was meant?
        raise UntrustedFileError("repeats a key in one object") from None
    except UnicodeDecodeError:
        raise UntrustedFileError("is not UTF-8 text") from None
    except ValueError as exc:
        raise UntrustedFileError(f"is not valid JSON ({exc})") from None
    except RecursionError:
        raise UntrustedFileError("is nested too deeply") from None


def read_script_metrics(path: Path) -> tuple[dict, list[str]]:
    """Return the numbers a script wrote to $REPROBOX_METRICS, and what was wrong."""
    where = "the file $REPROBOX_METRICS names"
    try:
        data = read_container_json(path)
    except FileNotFoundError:
        return {}, []
    except UntrustedFileError as exc:
        return {}, [f"{where} {exc}; its metrics were ignored"]
    if not isinstance(data, dict):
        return {}, [f"{where} holds a {type(data).__name__}, not an object; ignored"]
    kept, warnings = {}, []
    for key, value in data.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                warnings.append(f"metric {key!r} in {where} is too large; ignored")
                continue
            kept[key] = value
            if not math.isfinite(number):
                warnings.append(f"metric {key!r} in {where} is {value}")
        else:
            warnings.append(f"metric {key!r} in {where} is not a number; ignored")
    return kept, warnings


def _read_json(path: Path) -> dict:
    try:
        data = read_container_json(path)
    except (OSError, UntrustedFileError):
        return {}
    return data if isinstance(data, dict) else {}


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _dict_or_none(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _list_of_dicts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


# What the start-up hook writes to capture.json, field by field. The training
# script shares the folder and can write anything there: a field of the wrong
# shape is left out of the record, with a warning, never trusted.
_CAPTURE_SHAPES: dict[str, Callable[[Any], bool]] = {
    "env": _str_map,
    "packages": _str_map,
    "frameworks": lambda v: (
        isinstance(v, dict)
        and all(_dict_or_none(x) for x in v.values())
        and isinstance(
            (v.get("tensorflow") or {}).get("version", ""), (str, type(None))
        )
    ),
    "keras": lambda v: (
        v is None
        or (
            isinstance(v, dict)
            and isinstance(v.get("version"), (str, type(None)))
            and v.get("jit_compile") in (True, False, "auto", None)
        )
    ),
    "machine_cpu": _dict_or_none,
    "threads": _dict_or_none,
    "gpu": lambda v: v is None or isinstance(v, (dict, list)),
    "python": _dict_or_none,
    "os": _dict_or_none,
    "history": _list_of_dicts,
    "evaluations": _list_of_dicts,
    "error": _dict_or_none,
    "hook_errors": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def sane_capture(capture: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return the capture's fields of the right shape, and the names of the rest."""
    kept, damaged = {}, []
    for key, value in capture.items():
        check = _CAPTURE_SHAPES.get(key)
        if check is None or check(value):
            kept[key] = value
        else:
            damaged.append(key)
    return kept, sorted(damaged)


def machine_from_capture(capture: Mapping[str, Any]) -> dict[str, Any]:
    """Return the record's `machine` object from what the container captured."""
    env = capture.get("env") or {}
    frameworks = capture.get("frameworks") or {}
    packages = dict(capture.get("packages") or {})
    keras = dict(capture.get("keras") or {})
    tf_version = (frameworks.get("tensorflow") or {}).get("version")
    return {
        "cpu": capture.get("machine_cpu"),
        "threads": capture.get("threads"),
        "onednn": {
            "TF_ENABLE_ONEDNN_OPTS": env.get("TF_ENABLE_ONEDNN_OPTS"),
            "ONEDNN_MAX_CPU_ISA": env.get("ONEDNN_MAX_CPU_ISA"),
            "enabled": onednn_enabled(
                env, tf_version, (capture.get("machine_cpu") or {}).get("arch")
            ),
        },
        "gpu": capture.get("gpu"),
        "python": (capture.get("python") or {}).get("version"),
        "os": capture.get("os"),
        "packages": dict(sorted(packages.items())),
        "tensorflow": frameworks.get("tensorflow"),
        "torch": frameworks.get("torch"),
        "keras": keras or None,
        "env": env,
    }


def onednn_enabled(
    env: Mapping[str, str], tf_version: str | None, arch: str | None
) -> bool | None:
    """Tell whether TensorFlow used oneDNN kernels, from the setting and defaults."""
    if tf_version is None:
        return None
    value = env.get("TF_ENABLE_ONEDNN_OPTS")
    if value is not None:
        return value.strip().lower() in ("1", "true")
    # On by default for x86-64 Linux builds since TensorFlow 2.9.
    try:
        major, minor = (int(p) for p in tf_version.split(".")[:2])
    except ValueError:
        return None
    return arch in ("x86_64", "AMD64") and (major, minor) >= (2, 9)


_HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_STOPPING = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)  # stop like Ctrl-C


class _PendingStart:
    """A container being created and started in a helper thread.

    A signal that lands while the engine creates the container would otherwise
    abandon the request with no id in hand, and the engine would finish making
    a container nobody removes; here the answer still arrives.
    """

    def __init__(self, engine: Engine, spec: ContainerSpec):
        self.done = threading.Event()
        self.container = None
        self.error: BaseException | None = None
        threading.Thread(
            target=self._work, args=(engine, spec), name="reprobox-start", daemon=True
        ).start()

    def _work(self, engine: Engine, spec: ContainerSpec) -> None:
        try:
            self.container = start_container(engine, spec)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()

    def result(self):
        """Wait for the started container (signals still land); re-raise its error."""
        while not self.done.wait(0.1):
            if _cancelled.is_set():
                raise _Stop()
        if self.error is not None:
            raise self.error
        return self.container


class _DeferredSignals:
    """Hold SIGINT/SIGTERM/SIGHUP/SIGQUIT for a while, then act on one that came."""

    def __init__(self, restore: dict | None = None):
        """Hold the signals now; release() puts back restore's handlers (by
        default, the ones in place now). The swap is atomic: a signal that
        comes while it is made is held too, never handled the old way."""
        self.caught: int | None = None
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            self.previous = {sig: signal.getsignal(sig) for sig in _HELD}
            self.previous.update(restore or {})
            for sig in _HELD:
                signal.signal(sig, self._note)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _note(self, signum, frame) -> None:
        self.caught = self.caught or signum

    def release(self) -> int | None:
        """Put the handlers back; return the signal that came meanwhile, if any."""
        _release_signals(self.previous)
        return self.caught


def _hold_signals() -> dict:
    previous = {sig: signal.getsignal(sig) for sig in _HELD}
    for sig in _HELD:
        signal.signal(sig, signal.SIG_IGN)
    return previous


def _release_signals(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _write_failure(exc: OSError, where: Path) -> ReproboxError:
    """Say in one line which file could not be written, and why.

    Whatever the cause (a file in the way, a read-only or full disk, no
    permission) the runs folder is the user's to fix: exit 2, as for any
    other path that cannot be written; exit 1 would read as "the run said no".
    """
    path = exc.filename or where
    if isinstance(exc, (NotADirectoryError, FileExistsError, IsADirectoryError)):
        return InputError(
            f"{path}: cannot write the run's files there: {exc.strerror or exc}",
            hint="the runs folder must be a folder: move what is in the way",
        )
    # Not the training's verdict: the host could not keep its files (as freeze
    # and build say of a full disk, exit 2). The next command closes the record.
    return InputError(
        f"{path}: cannot write the run's files: {exc.strerror or exc}",
        hint="free space there or make it writable, then run again (verify can "
        "take another --runs-dir); the next `reprobox run` or `build` closes "
        "this run's record",
    )


class _Stop(Exception):
    """Raised in the main thread by SIGTERM/SIGHUP/SIGQUIT: cleanup as for Ctrl-C."""


# Runs started from worker threads (several engines at once) cannot see
# signals; the main thread cancels them all through this registry.
_active: dict[str, Any] = {}
_active_lock = threading.Lock()
_cancelled = threading.Event()
START_GRACE_S = 60.0  # how long an interrupted run waits for the engine's create


def arm_cancellation() -> None:
    """Forget an earlier cancellation before starting a new batch of runs."""
    _cancelled.clear()


def cancel_all_runs() -> None:
    """Stop and remove every container this process is running."""
    _cancelled.set()
    with _active_lock:
        containers = list(_active.values())
    for container in containers:
        remove_container(container)


@dataclass(frozen=True)
class RunTarget:
    """Where a run's outputs go and which data files it mounts read-only."""

    project: str
    runs_dir: Path
    data: tuple[tuple[Path, str], ...] = ()  # host path, path relative to /app

    @classmethod
    def for_project(cls, cfg: ProjectConfig) -> RunTarget:
        return cls(
            project=cfg.name,
            runs_dir=cfg.state_dir / "runs",
            data=tuple((cfg.root / rel, rel) for rel in cfg.data),
        )


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
    env = container_env(manifest, opts)  # refuses bad --env before any file exists
    if image_digest is None and "@sha256:" in image_ref:
        image_digest = image_ref.rsplit("@", 1)[1]  # a published image, by digest
    try:
        run_id, run_dir = make_run_dir(target.runs_dir)
        lock_fd = hold_run_lock(target.runs_dir, run_id)
    except OSError as exc:
        raise _write_failure(exc, target.runs_dir) from None
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
    except (ReproboxError, KeyboardInterrupt, _Stop):
        if not (run_dir / "record.json").exists():
            # Stopped before the record was written, so before any container:
            # nothing ran, and an empty folder would look like a lost run.
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    except Exception as exc:
        # A bug must not leave the record "running" for good: the lock goes
        # below, so no later run could tell that this one is over.
        # From reprobox's own copy: record.json is the container's to write,
        # and what is rewritten here is sealed as reprobox's.
        record_path = run_dir / "record.json"
        record = _host_copy(lock_fd) or _read_json(record_path)
        if record.get("status") == "running":
            record.update(
                status="failed",
                finished_at=_iso(time.time()),
                error={"message": f"reprobox failed: {type(exc).__name__}: {exc}"},
            )
            with contextlib.suppress(OSError):
                _write_record(record_path, record)
        raise
    finally:
        if _read_json(run_dir / "record.json").get("status") == "running":
            # The final record could not be written (a full disk): the lock
            # file, with its copy of the record, stays for the next command
            # to close the run from.
            os.close(lock_fd)
        else:
            release_run_lock(target.runs_dir, run_id, lock_fd)


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
    uid, gid = container_user()
    if os.geteuid() == 0:
        os.chown(run_dir, uid, gid)
    user = f"{uid}:{gid}"
    record: dict[str, Any] = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "reprobox_version": __version__,
        "run_id": run_id,
        "status": "running",
        "exit_code": None,
        "started_at": _iso(time.time()),
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
                k: "***" if secret_value(k, v) else v
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
    keep_host_copy(target.runs_dir, run_id, record)
    try:
        atomic_write_json(record_path, sealed_record(record))
    except OSError as exc:
        raise _write_failure(exc, record_path) from None

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
    hide = secret_hider(opts.extra_env)
    started = time.time()
    container = None
    pending: _PendingStart | None = None
    log_copy: int | None = None
    log_lines: list[str] = []
    previous = {sig: signal.getsignal(sig) for sig in _STOPPING}
    in_main = threading.current_thread() is threading.main_thread()
    deferred: _DeferredSignals | None = None

    def on_term(signum, frame):
        raise _Stop()

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
        pending = _PendingStart(engine, spec)
        container = pending.result()
        with _active_lock:
            _active[run_id] = container
        if _cancelled.is_set():  # cancelled while it was being created
            raise _Stop()
        with log_file as log:
            for chunk in container.logs(stream=True, follow=True):
                text = hide(chunk.decode("utf-8", errors="replace"))
                log.write(text)
                log.flush()
                for line in text.splitlines():
                    log_lines.append(line)
                    if on_log:
                        on_log(line)
                del log_lines[:-200]
        if _cancelled.is_set():
            raise _Stop()
        result = container.wait()
        exit_code = int(result.get("StatusCode", -1))
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        # Training is over: from here to the final record, a signal must not
        # leave the record "running" with its lock gone (removing the
        # container, hashing large data files and giving the folder back take
        # a while), so a signal waits until the record is written, then stops
        # reprobox (and any runs still to come).
        deferred = _DeferredSignals(restore=previous) if in_main else None
    except BaseException as exc:
        if log_copy is not None:
            os.close(log_copy)
        if container is None and isinstance(exc, InputError):
            # The engine refused the settings: no container, so no run to record.
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if not isinstance(exc, (KeyboardInterrupt, _Stop)) and not _cancelled.is_set():
            # An engine that hangs up, or a host that cannot keep the run's
            # files (a full disk), ended the run, not the training: the record
            # says "interrupted", and a container left is the next command's.
            cut_short = True
            if is_engine_trouble(exc):
                failure: BaseException = engine_lost_during_run(engine, exc)
                if is_connection_lost(exc):
                    container = None  # no removing it over a broken connection
            elif isinstance(exc, OSError):
                failure = _write_failure(exc, run_dir)
            else:
                failure, cut_short = exc, isinstance(exc, EngineError)
            _finish(
                record,
                run_dir,
                started,
                status="interrupted" if cut_short else "failed",
                exit_code=None,
                error={
                    "message": failure.message
                    if isinstance(failure, ReproboxError)
                    else str(exc),
                    "log_tail": tail_text(log_lines),
                },
            )
            keep_host_copy(target.runs_dir, run_id, record)
            with contextlib.suppress(OSError):  # the disk may be what failed
                _write_record(record_path, record)
            if failure is exc:
                raise
            raise failure from None
        # A second Ctrl-C must not cut the cleanup short: hold signals until the
        # container is gone and the record says "interrupted".
        held = _hold_signals() if in_main else {}
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
            status="interrupted",
            exit_code=None,
            error={
                "message": "interrupted by the user",
                "log_tail": tail_text(log_lines),
            },
        )
        keep_host_copy(target.runs_dir, run_id, record)
        with contextlib.suppress(OSError):
            _write_record(record_path, record)
        _release_signals(held)
        raise Interrupted(
            f"run {run_id} interrupted; container removed; record in {record_path}",
            records=[record],
        ) from None
    finally:
        with _active_lock:
            _active.pop(run_id, None)
        try:
            if container is not None:
                remove_container(container)
        except BaseException:
            if deferred is not None:
                deferred.release()
            raise
        if in_main and deferred is None:
            _release_signals(previous)

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
        _finish(
            record, run_dir, started, status=status, exit_code=exit_code, error=error
        )
        record["warnings"] += _data_changed_during(target, manifest)
        record["warnings"] += _restore_log(run_dir, log_copy)
        keep_host_copy(target.runs_dir, run_id, record)
        try:
            _write_record(record_path, record)
        except OSError as exc:
            raise _write_failure(exc, record_path) from None
    finally:
        caught = deferred.release() if deferred is not None else None
    if caught is not None:
        raise Interrupted(
            f"run {run_id} {record['status']}, then reprobox was interrupted; "
            f"record in {record_path}",
            records=[record],
        )
    return record


def _restore_log(run_dir: Path, log_copy: int | None) -> list[str]:
    """Put reprobox's container log back if the script replaced it; warn if so.

    The folder is the container's to write: it may unlink container.log and
    leave a link (to a host file) or a folder in its place. What reprobox wrote
    is still in the open file; the name is taken back and given that content.
    """
    if log_copy is None:
        return []
    path = run_dir / LOG_NAME
    try:
        ours = os.fstat(log_copy)
        try:
            there = os.lstat(path)
            if (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino):
                return []
            if stat.S_ISDIR(there.st_mode):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            pass
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o644)
        with os.fdopen(fd, "wb") as out:
            offset = 0
            while chunk := os.pread(log_copy, 1 << 20, offset):
                out.write(chunk)
                offset += len(chunk)
    except OSError as exc:
        return [
            f"{LOG_NAME} was replaced by the training script and could not be "
            f"put back ({exc.strerror})"
        ]
    finally:
        os.close(log_copy)
    return [
        f"{LOG_NAME} was replaced by the training script (a link, a folder or "
        "another file); reprobox put its own log back"
    ]


def _finish(
    record: dict,
    run_dir: Path,
    started: float,
    *,
    status: str,
    exit_code: int | None,
    error: dict | None,
) -> None:
    given_back = _give_back(run_dir)
    _sweep_temps(run_dir)  # the container is gone: a temp left now is nobody's
    capture, damaged = sane_capture(_read_json(run_dir / "capture.json"))
    script_metrics, warnings = read_script_metrics(run_dir / "metrics.json")
    warnings += [f"capture.json field {k!r} was damaged; left out" for k in damaged]
    if capture and "python" not in capture and status != "interrupted":
        # The hook writes at start and again at exit; only the first got through.
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
            "finished_at": _iso(time.time()),
            "duration_s": round(time.time() - started, 3),
            "machine": machine_from_capture(capture),
            "metrics": _metrics_from(capture, script_metrics),
            "history": capture.get("history") or [],
            "evaluations": capture.get("evaluations") or [],
            "warnings": warnings + list(capture.get("hook_errors") or []),
            "error": error,
        }
    )


# The shortest part of a secret value (a URL's password, its decoded form)
# hidden on its own: shorter ones are found in ordinary text too often.
SHORTEST_HIDDEN_PART = 6


def secret_hider(env: Mapping[str, str]) -> Callable[[str], str]:
    """Return what shows the secret-looking values of env as *** in a text.

    Their parts that are secret alone go too, as a script that parses one
    prints them: a URL's password or userinfo, in either encoding.
    """
    hidden: set[str] = set()
    for name, value in env.items():
        if not looks_secret(name, value):
            continue
        if len(value) >= 4:
            hidden.add(value)
        hidden.update(
            piece
            for piece in secret_pieces(value, plain_users=False)
            if len(piece) >= SHORTEST_HIDDEN_PART
        )
    values = sorted(hidden, key=len, reverse=True)
    if not values:
        return lambda text: text
    pattern = re.compile("|".join(map(re.escape, values)))
    return lambda text: pattern.sub("***", text)


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


def sealed_record(record: dict[str, Any]) -> dict[str, Any]:
    """Put the digest of the record's content into it (in place) and return it.

    In place, so that the record a run returns is the one on disk, digest and
    all; every write seals anew, since the record changes as the run goes.
    """
    record.pop(RECORD_DIGEST_FIELD, None)
    record[RECORD_DIGEST_FIELD] = record_digest(record)
    return record


def _write_record(record_path: Path, record: dict[str, Any]) -> None:
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


# How deep _give_back goes: one open descriptor per level. Deeper than this
# (a script can nest folders thousands deep) stays with uid 1000, said once.
GIVE_BACK_DEPTH = 256


def _give_back(run_dir: Path) -> list[str]:
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
