"""Which metrics settings (metrics.compare, tolerances) judge a comparison.

A run record carries the settings of the manifest it ran with, under
`compare_settings`. The reference run's own settings judge, wherever its
folder lies, so a comparison copied away from its project gets the verdict it
gets beside it. Only a reference recorded before records carried them is
judged by the manifest beside it, else by the first record that carries them.
Records, or a manifest, that say otherwise are named in one line, so the
choice is never silent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprobox.errors import InputError
from reprobox.metric_names import is_metric_name, metric_name_fault

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
    if not isinstance(names, list) or not all(is_metric_name(n) for n in names):
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
        if not is_metric_name(name):
            raise InputError(
                f"{path}: {SETTINGS_FIELD}.tolerances holds "
                f"{metric_name_fault(name)} {name!r}",
                hint=_DAMAGED,
            )
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
    """Choose the settings that judge records: the reference run's own first.

    reference is the reference Record (or None); manifest_metrics the metrics
    section of the manifest beside it, None when there is none.
    """
    carried = [r for r in records if isinstance(r.data.get(SETTINGS_FIELD), dict)]
    beside = None if manifest_metrics is None else settings_for_record(manifest_metrics)
    older = reference is not None and reference not in carried
    if not older and reference is not None:
        chosen = reference.data[SETTINGS_FIELD]
        source = f"reference run {reference.run_id}"
        used = f"run {reference.run_id}'s own are used, wherever its folder lies"
    elif beside is not None:
        chosen, source, used = beside, str(manifest_path), "the manifest's are used"
    elif carried:
        chosen, source = carried[0].data[SETTINGS_FIELD], f"run {carried[0].run_id}"
        used = f"run {carried[0].run_id}'s are used"
    else:
        return JudgingSettings(compare=None, tolerances={})  # records before them
    sayers = []
    others = [r.run_id for r in carried if r.data[SETTINGS_FIELD] != chosen]
    if others:
        sayers.append(_runs(others))
    if beside is not None and beside != chosen:
        sayers.append(f"the manifest {manifest_path}")
    if older:
        used = (
            f"reference run {reference.run_id} records none (an older record), "
            f"so {used}"
        )
    note = None
    if sayers:
        note = (
            f"metrics settings (metrics.compare or tolerances) differ between "
            f"{source} and {' and '.join(sayers)}; {used}"
        )
    elif older:
        note = used
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
