"""Find where the per-epoch training curves of two runs part."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from reprobox.compare.exact import (
    beside_bound,
    bound_text,
    difference_number,
    three_digits,
    value_text,
    written_decimal,
    written_gap,
)
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
    # metric -> run - reference as written (exact.difference_number); None:
    # NaN, infinite or absent
    deltas: Mapping[str, float | None]
    # metric -> largest |delta| over shared epochs, within epsilon too, as
    # written; NaN where a gap is NaN, inf where one is infinite
    max_abs_delta: Mapping[str, float]
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
    """Compare two runs' histories epoch by epoch; NaN equals NaN.

    A gap is judged against epsilon as written, as tolerances judge metrics
    (exact.written): 0.6 against 0.5 is 0.1 apart, over epsilon
    0.09999999999999999 (the binary 0.09999999999999998 was within it).
    """
    ref_calls = [epoch_rows(call) for call in reference.history]
    run_calls = [epoch_rows(call) for call in run.history]
    first: tuple[int, int, dict[str, _Gap | str]] | None = None
    largest: dict[str, float] = {}
    within: dict[str, Decimal] = {}  # the largest gaps epsilon let through
    bound = written_decimal(epsilon)

    for call_index, (ref_epochs, run_epochs) in enumerate(
        zip(ref_calls, run_calls, strict=False)
    ):
        for position, (ref_row, run_row) in enumerate(
            zip(ref_epochs, run_epochs, strict=False)
        ):
            parted = _row_deltas(ref_row, run_row, bound, largest, within)
            if parted and first is None:
                first = (call_index, _epoch_number(ref_row, position), parted)

    counts_ref = tuple(len(epochs) for epochs in ref_calls)
    counts_run = tuple(len(epochs) for epochs in run_calls)
    call_index, epoch, gaps = first or (None, None, {})
    deltas = {
        name: gap.number if isinstance(gap, _Gap) else None
        for name, gap in gaps.items()
    }
    if first is not None:
        reason = _describe_parting(gaps, epsilon)
    elif counts_ref != counts_run:
        call_index, epoch = _first_unshared_epoch(ref_calls, run_calls)
        reason = (
            f"curves agree on shared epochs; epoch counts differ "
            f"({_counts(counts_ref)} vs {_counts(counts_run)})"
        )
    elif within:
        # Not identical: the curves differ, by no more than epsilon.
        # Each gap in as many digits as it takes to read within the bound,
        # the bound as the float it is: 0.09999999999999999, not 0.1.
        shown = ", ".join(
            f"{name} {beside_bound(Fraction(gap), epsilon)}"
            for name, gap in sorted(within.items())
        )
        reason = f"curves within epsilon {bound_text(epsilon)} (largest gap {shown})"
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
    bound: Decimal,
    largest: dict[str, float],
    within: dict[str, Decimal],
) -> dict[str, _Gap | str]:
    """Return the metrics that differ in one epoch, each with its gap (or,
    where no number is the gap, the two values: NaN, infinite or absent), and
    update the largest gaps beyond bound, the epsilon as written (largest, as
    written) and within it (within, exact)."""
    gaps: dict[str, _Gap | str] = {}
    for name in sorted((set(ref_row) | set(run_row)) - {"epoch"}):
        a, b = as_number(ref_row.get(name)), as_number(run_row.get(name))
        if a is None or b is None:
            if (a is None) != (b is None) or ref_row.get(name) != run_row.get(name):
                gaps[name] = _no_gap(ref_row, run_row, name)
            continue
        if same_number(a, b):
            continue
        # As written, as same_number and tolerances have it: with an
        # integer, int - float rounds (-(2**60) against its float, written
        # 24 apart, read 0), and floats' binary difference is not what the
        # tables show (0.6 - 0.5 read 0.09999999999999998).
        finite = math.isfinite(a) and math.isfinite(b)
        gap = written_gap(b, a) if finite else None
        if gap is None:
            # inf against -inf is an infinite gap, as documented: a + b was
            # NaN there, and max_abs_delta said "NaN".
            nan = math.isnan(a) or math.isnan(b)
            _note_largest(largest, name, math.nan if nan else math.inf)
            gaps[name] = _no_gap(ref_row, run_row, name)
            continue
        number = difference_number(b, a, gap)
        # Every gap counts, one epsilon lets through too: the text names it.
        _note_largest(largest, name, abs(number))
        # Values not the same as written differ by more than 0.
        if bound and gap.copy_abs() <= bound:
            within[name] = max(within.get(name, Decimal(0)), gap.copy_abs())
            continue
        gaps[name] = _Gap(gap, number)
    return gaps


def _note_largest(largest: dict[str, float], name: str, size: float) -> None:
    """Keep the largest |gap| of a metric: NaN once a gap is NaN, inf once one
    is infinite (as a finding's spread), else the largest as written."""
    held = largest.get(name)
    if held is None or math.isnan(size) or (not math.isnan(held) and size > held):
        largest[name] = size


@dataclass(frozen=True)
class _Gap:
    """One metric's gap in one epoch: exact, and as the number JSON carries."""

    exact: Decimal
    number: int | float


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


def _no_gap(ref_row: Mapping[str, Any], run_row: Mapping[str, Any], name: str) -> str:
    """Say the two values of a metric whose gap is no number: 'inf (reference
    -inf)', 'absent (reference 0.5)'. All such gaps read "NaN/absent" before,
    inf against -inf included."""
    return f"{_epoch_value(run_row, name)} (reference {_epoch_value(ref_row, name)})"


def _epoch_value(row: Mapping[str, Any], name: str) -> str:
    if name not in row:
        return "absent"
    number = as_number(row[name])
    if number is None:
        return "not a number"
    return value_text(number)  # nan, inf and -inf as Python writes them


def _describe_parting(gaps: Mapping[str, _Gap | str], epsilon: float) -> str:
    """Say where curves part; beside a nonzero epsilon, each gap in as many
    digits as it takes to read over it, and the epsilon as the float it is."""
    parts = [
        f"{name} {_gap_text(gap.exact, epsilon) if isinstance(gap, _Gap) else gap}"
        for name, gap in sorted(gaps.items())
    ]
    numbers = any(isinstance(gap, _Gap) for gap in gaps.values())
    beyond = f" (beyond epsilon {bound_text(epsilon)})" if epsilon and numbers else ""
    return "curves part: " + ", ".join(parts) + beyond


def _gap_text(exact: Decimal, epsilon: float) -> str:
    gap = Fraction(exact)
    return (
        beside_bound(gap, epsilon, sign=True)
        if epsilon
        else three_digits(gap, sign=True)
    )


def _counts(counts: tuple[int, ...]) -> str:
    return "+".join(str(n) for n in counts) or "0"
