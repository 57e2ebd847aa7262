"""Read run records (record.json) from files, run folders and runs folders."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reprobox.errors import InputError

RECORD_SCHEMA_VERSION = 1
RECORD_FILE = "record.json"


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
            when = datetime.fromisoformat(text.replace("Z", "+00:00", 1))
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
        image = self.data.get("image") or {}
        return str(image.get("id") or image.get("digest") or image.get("ref") or "")


def load_records(paths: Iterable[str | Path]) -> list[Record]:
    """Read every record named by paths, sorted by (started_at, run_id)."""
    files: list[Path] = []
    seen_files: set[Path] = set()
    for given in paths:
        for found in _record_files(Path(given)):
            if found.resolve() not in seen_files:
                seen_files.add(found.resolve())
                files.append(found)

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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise InputError(
            f"{path}: cannot read run record ({reason})",
            hint="check the path and its permissions",
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})",
            hint="the run may have been cut short; re-run it or leave this file out",
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(
            f"{path}: not a run record ({_first_line(str(exc))})",
            hint="give the record.json that `reprobox run` wrote",
        ) from None
    except RecursionError:
        raise InputError(
            f"{path}: not a run record (nested too deeply)",
            hint="give the record.json that `reprobox run` wrote",
        ) from None
    _check_record(path, data)
    return Record(path=path, data=data)


def _record_files(path: Path) -> list[Path]:
    """Name the record files behind a file, a run folder, a runs folder or a project."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(
            f"{path}: no such file or folder",
            hint="give a record.json, a run folder or a .reprobox/runs folder",
        )
    if (path / RECORD_FILE).is_file():
        return [path / RECORD_FILE]
    for runs_dir in (path, path / "runs", path / ".reprobox" / "runs"):
        found = sorted(runs_dir.glob(f"*/{RECORD_FILE}")) if runs_dir.is_dir() else []
        if found:
            return found
    raise InputError(
        f"{path}: holds no run record ({RECORD_FILE})",
        hint="give a record.json, a run folder or a .reprobox/runs folder",
    )


def _first_line(text: str) -> str:
    return (text.splitlines() or [""])[0][:200]


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
            f"{path}: not a reprobox run record (schema_version is {version!r})",
            hint="give the record.json that `reprobox run` wrote",
        )
    if version > RECORD_SCHEMA_VERSION:
        raise InputError(
            f"{path}: written by a newer reprobox (record schema_version {version}, "
            f"this reprobox reads up to {RECORD_SCHEMA_VERSION})",
            hint="upgrade reprobox",
        )
    if not isinstance(data["run_id"], str) or not data["run_id"]:
        raise InputError(f"{path}: run_id must be a non-empty string")
    for key, kind in (("metrics", dict), ("history", list), ("options", dict)):
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise InputError(
                f"{path}: {key} must be a JSON {'object' if kind is dict else 'list'}",
                hint="the record is damaged; re-run or leave it out",
            )


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
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float: not a metric value
        return None


def same_number(a: float, b: float, epsilon: float = 0.0) -> bool:
    """Tell whether two numbers agree within epsilon; NaN equals NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= epsilon
