"""Read run records (record.json) from files, run folders and runs folders."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reprobox.compare.compare_settings import check_record_settings, finite_non_negative
from reprobox.compare.exact import written
from reprobox.errors import InputError, first_line, newer_schema_error, shown_value
from reprobox.metric_numbers import kept_number
from reprobox.seals import (
    RECORD_FIX,
    SEALED_RECORD_VERSION,
    check_record_sealed,
    is_safe_run_id,
    loads_strict,
)

# 2: the record carries record_sha256 (docs/schemas.md); a record of 1 is
# refused, since edits to it cannot be told.
RECORD_SCHEMA_VERSION = SEALED_RECORD_VERSION
RECORD_FILE = "record.json"
STATUSES = ("running", "succeeded", "failed", "interrupted")  # what run writes
MAX_RECORD_BYTES = 64 * 1024 * 1024  # the bound reprobox reads run-folder files to
# A run folder is the container's to write: follow no link it planted inside
# it, never wait on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_UTC_SUFFIX = re.compile(r"[zZ]$")


@dataclass(frozen=True)
class Record:
    """One run record as read from disk, with the file it came from."""

    path: Path
    data: Mapping[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def started_at(self) -> str:
        return str(self.data.get("started_at") or "")

    @property
    def start_key(self) -> tuple[float, str]:
        """Sort key for the start time: seconds since the epoch, then the text."""
        text = self.started_at
        try:
            when = datetime.fromisoformat(_UTC_SUFFIX.sub("+00:00", text))
        except ValueError:
            return (math.inf, text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return (when.timestamp(), text)

    @property
    def project(self) -> str:
        return str(self.data.get("project") or "")

    @property
    def status(self) -> str:
        return str(self.data.get("status") or "")

    @property
    def seed(self) -> Any:
        return self.data.get("seed")

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.data.get("metrics") or {}

    @property
    def history(self) -> list[Mapping[str, Any]]:
        return list(self.data.get("history") or [])

    @property
    def options(self) -> Mapping[str, Any]:
        return self.data.get("options") or {}

    @property
    def image_key(self) -> str:
        image = self.data.get("image")
        if not isinstance(image, Mapping):
            return ""
        return str(image.get("id") or image.get("digest") or image.get("ref") or "")


def load_records(paths: Iterable[str | Path]) -> list[Record]:
    """Read every record named by paths, sorted by (started_at, run_id)."""
    files: list[Path] = []
    seen_files: set[Path] = set()
    for given in paths:
        for found in _record_files(Path(given)):
            # One file named twice (its folder and itself) is read once. The
            # key follows no link of the run's own: resolved whole, a record.json
            # linked to another run's record was taken for that run and dropped.
            key = found.parent.resolve() / found.name
            if key not in seen_files:
                seen_files.add(key)
                files.append(found)

    # No link is followed, even one named on the command line: a run folder is
    # the container's to write, and runs/X/record.json is often named by hand.
    records = [read_record(path) for path in files]
    seen: dict[str, Path] = {}
    for record in records:
        if record.run_id in seen:
            raise InputError(
                f"run {record.run_id} is given twice: {seen[record.run_id]} and "
                f"{record.path}",
                hint="give each run once",
            )
        seen[record.run_id] = record.path
    return sorted(records, key=lambda r: (r.start_key, r.run_id))


def read_record(path: Path) -> Record:
    """Read and check one record.json; refuse anything reprobox cannot compare."""
    raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not a run record: not UTF-8 text (byte "
            f"0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="the record is damaged; re-run it or leave this file out",
        ) from None
    try:
        data = loads_strict(text, path)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})",
            hint="the run may have been cut short; re-run it or leave this file out",
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(
            f"{path}: not a run record ({first_line(exc)})",
            hint="give the record.json that `reprobox run` wrote",
        ) from None
    except RecursionError:
        raise InputError(
            f"{path}: not a run record (nested too deeply)",
            hint="give the record.json that `reprobox run` wrote",
        ) from None
    _check_record(path, data)
    if path.name == RECORD_FILE and data["run_id"] != path.parent.name:
        raise InputError(
            f"{path}: run_id is {short_repr(data['run_id'])}, but its run folder is "
            f"{short_repr(path.parent.name)}: the record was moved or edited",
            hint=(
                f"a copied run folder keeps its name: copy it as "
                f"{short_repr(data['run_id'])}, or rerun it"
            ),
        )
    return Record(path=path, data=data)


def _read_bytes(path: Path) -> bytes:
    """Read a regular file of at most MAX_RECORD_BYTES, without blocking on a FIFO."""
    try:
        fd = os.open(path, _OPEN_FLAGS | os.O_NOFOLLOW)
    except OSError as exc:
        if path.is_symlink():
            raise linked_record(path) from None
        raise InputError(
            f"{path}: cannot read run record ({exc.strerror or type(exc).__name__})",
            hint="check the path and its permissions",
        ) from None
    # The type is checked on the descriptor: Python will not wrap a folder's
    # descriptor, and its error would name the descriptor's number, not the path.
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise InputError(
            f"{path}: not a regular file, so not a run record",
            hint="give the record.json that `reprobox run` wrote",
        )
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > MAX_RECORD_BYTES:
            raise InputError(
                f"{path}: larger than {MAX_RECORD_BYTES >> 20} MiB, so not a run "
                "record reprobox wrote",
                hint="give the record.json that `reprobox run` wrote",
            )
        try:
            return fh.read(MAX_RECORD_BYTES + 1)
        except OSError as exc:
            raise InputError(
                f"{path}: cannot read run record ({exc.strerror})",
                hint="check the path and its permissions",
            ) from None


def linked_record(path: Path, hint: str = "") -> InputError:
    """Return the error for a record.json that is a link, broken or not."""
    return InputError(
        f"{path}: is a symbolic link; run records are read only as regular "
        "files, never through a link",
        hint=hint or "give the record file it points to, or leave this run out",
    )


def linked_run_folder(path: Path, hint: str) -> InputError:
    """Return the error for a run folder that is a link, broken or not."""
    nowhere = "" if os.path.exists(path) else " that leads nowhere"
    return InputError(
        f"{path}: is a symbolic link{nowhere}; a run folder is read only as "
        "itself, never through a link",
        hint=hint,
    )


def _record_files(path: Path) -> list[Path]:
    """Name the record files behind a file, a run folder, a runs folder or a project.

    A run folder and its record.json are never read through a link, wherever
    they lie: the folder is the container's to write, and a link in a runs
    folder, skipped or read through, changes which runs are compared. A runs
    folder or project named on the command line may be reached through one.
    """
    if path.is_symlink() and (not path.exists() or os.path.lexists(path / RECORD_FILE)):
        # A link to a run folder, or one that leads nowhere (a run folder or
        # a record.json that is gone): it names one run, not a runs folder.
        if path.is_dir():
            raise linked_run_folder(
                path, "give the run folder it points to, or leave this run out"
            )
        if not path.exists():
            raise InputError(
                f"{path}: is a symbolic link that leads nowhere; run records are "
                "never read through a link",
                hint="give the run's own folder or record.json, or leave it out",
            )
    if path.is_dir():
        # A run folder: its record.json, sound or not (a link, a FIFO), is
        # read, and one that is no plain file is refused by name.
        if os.path.lexists(path / RECORD_FILE):
            return [path / RECORD_FILE]
        for runs_dir in (path, path / "runs", path / ".reprobox" / "runs"):
            found = _run_folder_records(runs_dir) if runs_dir.is_dir() else []
            # The folder is a runs folder once it holds one sound record; then
            # every run there is read, and one reprobox cannot read is refused
            # by name: skipping it would quietly change which run is the
            # reference, and so the verdict.
            if any(_is_record_file(p) for p in found):
                for p in found:
                    _refuse_unreadable_run(p.parent)
                return found
        raise InputError(
            f"{path}: holds no run record ({RECORD_FILE})",
            hint="give a record.json, a run folder or a .reprobox/runs folder",
        )
    if path.exists():
        return [path]  # read_record says what is wrong with it
    raise InputError(
        f"{path}: no such file or folder",
        hint="give a record.json, a run folder or a .reprobox/runs folder",
    )


def _refuse_unreadable_run(folder: Path) -> None:
    """Refuse a run in a runs folder that is no folder or holds no plain record."""
    if folder.is_symlink():
        raise linked_run_folder(
            folder,
            "remove the link from the runs folder: a run is read from its own "
            "folder there, or given by its own path",
        )
    if not folder.is_dir():
        raise InputError(
            f"{folder}: named as a run folder, but not a folder",
            hint="move it out of the runs folder",
        )
    record = folder / RECORD_FILE
    if record.is_symlink():
        raise linked_record(
            record,
            "move that run folder out of the runs folder, or give the runs "
            "you mean one by one",
        )
    if not os.path.lexists(record):
        raise InputError(
            f"{folder}: a run folder with no {RECORD_FILE} (its run never "
            "wrote one, or it was removed)",
            hint="move that folder out of the runs folder, or give the runs "
            "you mean one by one",
        )


def _run_folder_records(runs_dir: Path) -> list[Path]:
    """Name every runs_dir/*/record.json entry, whatever its kind."""
    try:
        folders = sorted(runs_dir.iterdir())
    except OSError as exc:
        raise InputError(
            f"{runs_dir}: cannot list run folders ({exc.strerror or exc})",
            hint="check the folder's permissions",
        ) from None
    # An entry named as reprobox names a run is one, whatever it is (a folder
    # with or without its record.json, a link, a file); a folder or link to
    # one that holds a record.json is one too; anything else is someone
    # else's, and no run.
    return [
        folder / RECORD_FILE
        for folder in folders
        if not folder.name.startswith(".")
        and (
            _RUN_FOLDER_NAME.fullmatch(folder.name)
            or (folder.is_dir() and os.path.lexists(folder / RECORD_FILE))
        )
    ]


# How `reprobox run` names a run's folder (run_folders.RUN_ID).
_RUN_FOLDER_NAME = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def _is_record_file(path: Path) -> bool:
    """Tell whether path is a regular file, not a link, FIFO or device."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _check_record(path: Path, data: Any) -> None:
    """Raise InputError unless data is a run record this reprobox can read."""
    if not isinstance(data, dict) or "run_id" not in data:
        raise InputError(
            f"{path}: not a reprobox run record (no run_id)",
            hint="give the record.json that `reprobox run` wrote",
        )
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(
            f"{path}: not a reprobox run record (schema_version is "
            f"{shown_value(version) if 'schema_version' in data else 'missing'})",
            hint="give the record.json that `reprobox run` wrote",
        )
    if version > RECORD_SCHEMA_VERSION:
        raise newer_schema_error(
            path,
            "run record",
            version,
            RECORD_SCHEMA_VERSION,
            data.get("reprobox_version"),
        )
    check_record_sealed(path, data)
    if not is_safe_run_id(data["run_id"]):
        raise InputError(
            f"{path}: run_id is {short_repr(data['run_id'])}, not a run id (letters, "
            "digits, '.', '_' and '-', as one folder name)",
            hint=RECORD_FIX,
        )
    for key, kind in _FIELD_KINDS:
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise InputError(
                f"{path}: {key} must be a JSON {'object' if kind is dict else 'list'}",
                hint="the record is damaged; re-run or leave it out",
            )
    command = data.get("command")
    if command is not None and not (
        isinstance(command, list)
        and command
        and all(isinstance(word, str) for word in command)
    ):
        raise InputError(
            f"{path}: command must be a non-empty JSON list of strings (the "
            f"words the container ran), not {short_repr(command)}",
            hint="the record is damaged; re-run or leave it out",
        )
    for index, call in enumerate(data.get("history") or []):
        epochs = call.get("epochs") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not (
            epochs is None
            or (isinstance(epochs, list) and all(isinstance(e, dict) for e in epochs))
        ):
            raise InputError(
                f"{path}: history[{index}] must be an object whose epochs is a "
                "list of objects",
                hint="the record is damaged; re-run or leave it out",
            )
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError(
            f"{path}: seed must be an integer or null, not {short_repr(seed)}",
            hint="the record is damaged; re-run or leave it out",
        )
    code = data.get("exit_code")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        raise InputError(
            f"{path}: exit_code must be an integer or null, not {short_repr(code)}",
            hint="the record is damaged; re-run or leave it out",
        )
    _check_status_and_times(path, data)
    check_record_settings(path, data)
    duration = data.get("duration_s")
    if duration is not None and not finite_non_negative(duration):
        raise InputError(
            f"{path}: duration_s must be a number of seconds >= 0 or null, not "
            f"{short_repr(duration)}",
            hint="the record is damaged; re-run or leave it out",
        )
    for name, value in (data.get("metrics") or {}).items():
        if as_number(value) is None:
            raise InputError(
                f"{path}: metrics.{_shown_key(name)} must be a number (or "
                f'"NaN", "Infinity", "-Infinity"), not {short_repr(value)}',
                hint="the record is damaged; re-run or leave it out",
            )


# The exit codes a writer gives each status: a finished run's status follows
# from its command's exit code, and a live one has none yet.
_EXIT_CODES_OF = {
    "running": ("null", lambda code: code is None),
    "succeeded": ("0", lambda code: code == 0),
    "failed": ("not 0", lambda code: code != 0),
}


def _check_status_and_times(path: Path, data: Mapping[str, Any]) -> None:
    """Refuse a record whose status, exit code and times cannot be together."""
    status, code = data.get("status"), data.get("exit_code")
    if status not in STATUSES:
        raise InputError(
            f"{path}: status must be one of {', '.join(STATUSES)}, not "
            f"{short_repr(status)}",
            hint=RECORD_FIX,
        )
    want, fits = _EXIT_CODES_OF.get(status, ("", lambda _: True))
    if not fits(code):
        raise InputError(
            f"{path}: status is {status} but exit_code is {short_repr(code)} (a "
            f"{status} run's is {want}): the record is damaged",
            hint=RECORD_FIX,
        )
    for key in ("started_at", "finished_at"):
        value = data.get(key)
        # Only a run closed from a lost copy lacks its start time.
        may_lack = key == "finished_at" or status == "interrupted"
        if value is None and may_lack:
            continue
        if not _is_iso_time(value):
            raise InputError(
                f"{path}: {key} is {short_repr(value)}, not an ISO-8601 time",
                hint=RECORD_FIX,
            )


def _is_iso_time(value: Any) -> bool:
    """Tell whether value is an ISO-8601 date and time, as run writes them."""
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(_UTC_SUFFIX.sub("+00:00", value))
    except ValueError:
        return False
    return True


def _shown_key(key: str) -> str:
    """Show a record key as written when it is short and printable, else quoted."""
    return key if key.isprintable() and len(key) <= 60 else short_repr(key)


# Top-level record fields and the JSON type each must have when present.
_FIELD_KINDS = (
    ("metrics", dict),
    ("history", list),
    ("options", dict),
    ("environment", dict),
    ("image", dict),
    ("engine", dict),
    ("machine", dict),
    ("warnings", list),
)


def short_repr(value: Any, limit: int = 60) -> str:
    """Show a record value in a few words (see errors.shown_value)."""
    return shown_value(value, limit)


_NON_FINITE = {
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "-Infinity": float("-inf"),
}


def as_number(value: Any) -> float | None:
    """Return value as a float if it is a JSON number (not a bool), else None.

    reprobox writes NaN and infinities as the strings "NaN", "Infinity" and
    "-Infinity" (strict JSON has no such numbers); they read back as floats.
    """
    if isinstance(value, str):
        return _NON_FINITE.get(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:  # an integer past 2**53 stays one: as floats 2**53 + 1 read 2**53
        return kept_number(value)
    except OverflowError:  # an integer beyond any float: not a metric value
        return None


def non_finite_metrics(metrics: Mapping[str, Any]) -> str:
    """Name the metrics whose value is no finite number ("acc = NaN, loss =
    'x'"), or '': a run holding one is no sound reference."""

    def finite(value: Any) -> bool:
        number = as_number(value)
        return number is not None and math.isfinite(number)

    return ", ".join(
        f"{name} = {value if isinstance(value, str) else repr(value)}"
        for name, value in metrics.items()
        if not finite(value)
    )


def records_for_a_hint(runs: Path) -> list[Record]:
    """Return the records of a runs folder to offer one of in a refusal's
    hint; none where the folder is missing, empty or unreadable: its
    trouble is for the command that needs it, not for the refusal."""
    from reprobox.errors import ReproboxError

    try:
        return load_records([runs]) if runs.is_dir() and any(runs.iterdir()) else []
    except (ReproboxError, OSError):
        return []


def same_number(a: float, b: float) -> bool:
    """Tell whether two numbers are equal as written; NaN equals NaN.

    As written (exact.written), as delta and every table have them: a float
    is its shortest decimal, an integer itself. By ==, -(2**60) equalled its
    float, written -1.152921504606847e+18, 24 apart in every table, and
    10**30 differed from 1e+30, shown +0 apart.
    """
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b  # an infinity against anything else: no Fraction holds it
    if isinstance(a, int) or isinstance(b, int):
        return written(a) == written(b)
    # Two floats: distinct floats are written apart, so == is as written.
    return a == b
