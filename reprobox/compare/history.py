"""Find where the per-epoch training curves of two runs part."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reprobox.compare.exact import float_or_inf, written
from reprobox.compare.records import Record, as_number, same_number


@dataclass(frozen=True)
class CurveDivergence:
    """Where a run's training curves first part from the reference run's."""

    run_id: str
    epochs_reference: tuple[int, ...]  # epochs per fit call
    epochs_run: tuple[int, ...]
    identical: bool  # every epoch bitwise equal (not merely within epsilon)
    call: int | None  # index of the fit call where the curves part
    epoch: int | None  # the epoch number there, as recorded
    deltas: Mapping[str, float | None]  # metric -> run - reference; None: NaN/absent
    max_abs_delta: Mapping[str, float]  # metric -> largest |delta| over shared epochs
    reason: str


def history_metrics(records: Sequence[Record]) -> list[str]:
    """List every per-epoch metric name any record holds, sorted."""
    names: set[str] = set()
    for record in records:
        for call in record.history:
            for epoch in epoch_rows(call):
                names.update(key for key in epoch if key != "epoch")
    return sorted(names)


def find_divergence(
    reference: Record, run: Record, *, epsilon: float = 0.0
) -> CurveDivergence:
    """Compare two runs' histories epoch by epoch; NaN equals NaN."""
    ref_calls = [epoch_rows(call) for call in reference.history]
    run_calls = [epoch_rows(call) for call in run.history]
    first: tuple[int, int, dict[str, float | None]] | None = None
    largest: dict[str, float] = {}
    within: dict[str, float] = {}  # the largest gaps epsilon let through

    for call_index, (ref_epochs, run_epochs) in enumerate(
        zip(ref_calls, run_calls, strict=False)
    ):
        for position, (ref_row, run_row) in enumerate(
            zip(ref_epochs, run_epochs, strict=False)
        ):
            deltas = _row_deltas(ref_row, run_row, epsilon, largest, within)
            if deltas and first is None:
                first = (call_index, _epoch_number(ref_row, position), deltas)

    counts_ref = tuple(len(epochs) for epochs in ref_calls)
    counts_run = tuple(len(epochs) for epochs in run_calls)
    call_index, epoch, deltas = first or (None, None, {})
    if first is not None:
        reason = _describe_parting(deltas)
    elif counts_ref != counts_run:
        call_index, epoch = _first_unshared_epoch(ref_calls, run_calls)
        reason = (
            f"curves agree on shared epochs; epoch counts differ "
            f"({_counts(counts_ref)} vs {_counts(counts_run)})"
        )
    elif within:
        # Not identical: the curves differ, by no more than epsilon.
        gaps = ", ".join(f"{name} {gap:.3g}" for name, gap in sorted(within.items()))
        reason = f"curves within epsilon {epsilon:g} (largest gap {gaps})"
    else:
        reason = "identical curves" if any(counts_ref) else "no per-epoch history"
    return CurveDivergence(
        run_id=run.run_id,
        epochs_reference=counts_ref,
        epochs_run=counts_run,
        identical=first is None and counts_ref == counts_run and not within,
        call=call_index,
        epoch=epoch,
        deltas=deltas,
        max_abs_delta=largest,
        reason=reason,
    )


def epoch_rows(call: Any) -> list[Mapping[str, Any]]:
    """Return the epoch rows of one fit call, skipping malformed entries."""
    if not isinstance(call, Mapping):
        return []
    return [row for row in call.get("epochs") or [] if isinstance(row, Mapping)]


def _epoch_number(row: Mapping[str, Any], position: int) -> int:
    number = row.get("epoch")
    return (
        number if isinstance(number, int) and not isinstance(number, bool) else position
    )


def _row_deltas(
    ref_row: Mapping[str, Any],
    run_row: Mapping[str, Any],
    epsilon: float,
    largest: dict[str, float],
    within: dict[str, float],
) -> dict[str, float | None]:
    """Return the metrics that differ in one epoch, and update the largest gaps
    beyond epsilon (largest) and within it (within)."""
    deltas: dict[str, float | None] = {}
    for name in sorted((set(ref_row) | set(run_row)) - {"epoch"}):
        a, b = as_number(ref_row.get(name)), as_number(run_row.get(name))
        if a is None or b is None:
            if (a is None) != (b is None) or ref_row.get(name) != run_row.get(name):
                deltas[name] = None
            continue
        if same_number(a, b, epsilon):
            if not same_number(a, b):
                within[name] = max(within.get(name, 0.0), abs(_gap(a, b)))
            continue
        gap = _gap(a, b)
        deltas[name] = gap if math.isfinite(gap) else None
        if math.isfinite(gap):
            largest[name] = max(largest.get(name, 0.0), abs(gap))
    return deltas


def _gap(a: float, b: float) -> float:
    """Return b - a; with an integer, as written (same_number's rule): int -
    float rounds, and -(2**60) against its float, written 24 apart, read 0."""
    if isinstance(a, int) or isinstance(b, int):
        if not (math.isfinite(a) and math.isfinite(b)):
            return b - a
        return float_or_inf(written(b) - written(a))
    return b - a


def _first_unshared_epoch(ref_calls, run_calls) -> tuple[int, int | None]:
    """Locate the first epoch that one run has and the other does not."""
    for call_index in range(max(len(ref_calls), len(run_calls))):
        ref_epochs = ref_calls[call_index] if call_index < len(ref_calls) else []
        run_epochs = run_calls[call_index] if call_index < len(run_calls) else []
        if len(ref_epochs) != len(run_epochs):
            shared = min(len(ref_epochs), len(run_epochs))
            longer = ref_epochs if len(ref_epochs) > shared else run_epochs
            return call_index, _epoch_number(longer[shared], shared)
    # Only an empty extra fit call is left: it has no epoch to name.
    return min(len(ref_calls), len(run_calls)), None


def _describe_parting(deltas: Mapping[str, float | None]) -> str:
    parts = [
        f"{name} {'NaN/absent' if gap is None else f'{gap:+.3g}'}"
        for name, gap in sorted(deltas.items())
    ]
    return "curves part: " + ", ".join(parts)


def _counts(counts: tuple[int, ...]) -> str:
    return "+".join(str(n) for n in counts) or "0"
