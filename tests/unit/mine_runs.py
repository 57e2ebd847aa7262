"""Run records of project "mine" for unit tests of push, export and the runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprobox.atomic import dump_json
from reprobox.compare import RECORD_SCHEMA_VERSION
from reprobox.seals import seal_record


def succeeded_record(**changes: Any) -> dict[str, Any]:
    """Return the record of a succeeded run of "mine" (acc 0.9), with changes."""
    return {
        "schema_version": RECORD_SCHEMA_VERSION,
        "run_id": "20260101T000000Z-aaaaaa",
        "status": "succeeded",
        "exit_code": 0,
        "started_at": "2026-01-01T00:00:00+00:00",
        "project": "mine",
        "image": {"id": "sha256:" + "a" * 64, "layers": "sha256:L"},
        "metrics": {"acc": 0.9},
        "history": [],
        **changes,
    }


def write_run(state_dir: Path, data: dict[str, Any]) -> Path:
    """Write data, sealed, as state_dir/runs/<run_id>/record.json; return it."""
    path = state_dir / "runs" / data["run_id"] / "record.json"
    path.parent.mkdir(parents=True)
    path.write_text(dump_json(seal_record(data)))
    return path


def finish_succeeded(record: dict[str, Any], run_dir: Path) -> None:
    """Close record as the runner does after a run that exited 0."""
    from reprobox.run_ending import finish_record

    finish_record(
        record,
        run_dir,
        0.0,
        hide=lambda text: text,
        status="succeeded",
        exit_code=0,
        error=None,
    )
