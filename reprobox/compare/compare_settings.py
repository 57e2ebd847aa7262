"""Which metrics settings (metrics.compare, tolerances) judge a comparison.

A run record carries the settings of the manifest it ran with, under
`compare_settings`, so that a record copied away from its project is judged
as it is beside it. A manifest beside the runs is the project's word today
and wins; without one the reference run's own settings judge. Records that
say otherwise are named in one line, so the choice is never silent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprobox.errors import InputError

SETTINGS_FIELD = "compare_settings"
_DAMAGED = "the record is damaged; re-run or leave it out"


@dataclass(frozen=True)
class JudgingSettings:
    """The settings a comparison uses, and a note when some source disagreed."""

    compare: list[str] | None
    tolerances: dict[str, dict[str, float | None]]
    note: str | None = None


def settings_for_record(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a run record keeps of its manifest's metrics section."""
    return {
        "compare": list(metrics.get("compare") or []),
        "tolerances": {
            name: dict(bounds)
            for name, bounds in sorted((metrics.get("tolerances") or {}).items())
        },
    }


def check_record_settings(path: Path, data: Mapping[str, Any]) -> None:
    """Refuse a record whose compare_settings could not judge runs."""
    if SETTINGS_FIELD not in data:
        return  # written before records carried them
    settings = data[SETTINGS_FIELD]
    if not isinstance(settings, dict) or set(settings) != {"compare", "tolerances"}:
        raise InputError(
            f"{path}: {SETTINGS_FIELD} must be an object of compare and tolerances",
            hint=_DAMAGED,
        )
    names = settings["compare"]
    if not isinstance(names, list) or not all(
        isinstance(n, str) and n.strip() for n in names
    ):
        raise InputError(
            f"{path}: {SETTINGS_FIELD}.compare must be a list of metric names",
            hint=_DAMAGED,
        )
    tolerances = settings["tolerances"]
    if not isinstance(tolerances, dict):
        raise InputError(
            f"{path}: {SETTINGS_FIELD}.tolerances must be an object", hint=_DAMAGED
        )
    for name, bounds in sorted(tolerances.items()):
        where = f"{SETTINGS_FIELD}.tolerances.{name}"
        if not isinstance(bounds, dict) or not set(bounds) <= {"abs", "rel"}:
            raise InputError(
                f"{path}: {where} must be an object of abs and rel", hint=_DAMAGED
            )
        for kind, value in sorted(bounds.items()):
            if value is not None and not finite_non_negative(value):
                raise InputError(
                    f"{path}: {where}.{kind} must be a finite number >= 0 or null",
                    hint=_DAMAGED,
                )


def judging_settings(
    records: Sequence[Any],
    reference: Any,
    manifest_metrics: Mapping[str, Any] | None,
    manifest_path: Path | None,
) -> JudgingSettings:
    """Choose the settings that judge records: the manifest's, else the records'.

    reference is the reference Record (or None); manifest_metrics the metrics
    section of the manifest beside it, None when there is none.
    """
    carried = [r for r in records if isinstance(r.data.get(SETTINGS_FIELD), dict)]
    if manifest_metrics is not None:
        chosen = settings_for_record(manifest_metrics)
        others = [r.run_id for r in carried if r.data[SETTINGS_FIELD] != chosen]
        note = (
            f"{_runs(others)} recorded other metrics settings (metrics.compare or "
            f"tolerances) than {manifest_path}; the manifest's are used"
            if others
            else None
        )
        return _settings(chosen, note)

    if not carried:
        return JudgingSettings(compare=None, tolerances={})  # records before them
    source = reference if reference in carried else carried[0]
    chosen = source.data[SETTINGS_FIELD]
    others = [r.run_id for r in carried if r.data[SETTINGS_FIELD] != chosen]
    note = None
    if others:
        note = (
            f"{_runs(others)} recorded other metrics settings (metrics.compare or "
            f"tolerances) than run {source.run_id}; no manifest is beside the "
            f"runs, so run {source.run_id}'s are used"
        )
    elif source is not reference and reference is not None:
        note = (
            f"reference run {reference.run_id} records no metrics settings (an "
            f"older record); run {source.run_id}'s are used"
        )
    return _settings(chosen, note)


def _settings(chosen: Mapping[str, Any], note: str | None) -> JudgingSettings:
    # An empty metrics.compare means every metric, as compare_runs reads None.
    return JudgingSettings(
        compare=list(chosen["compare"]) or None,
        tolerances={k: dict(v) for k, v in chosen["tolerances"].items()},
        note=None if note is None else note + " (--tol overrides either)",
    )


def _runs(run_ids: list[str]) -> str:
    if len(run_ids) == 1:
        return f"run {run_ids[0]}"
    return "runs " + ", ".join(run_ids)


def finite_non_negative(value: Any) -> bool:
    """Tell whether value is a finite number >= 0 (JSON, not a bool): a
    duration in seconds, a tolerance's bound."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:  # an integer beyond any float
        return False
