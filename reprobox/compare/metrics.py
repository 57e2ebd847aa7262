"""Compare final metric values against a reference run, within tolerances."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from reprobox.compare.exact import (
    beside_bound,
    bound_text,
    difference_number,
    exact_difference,
    float_or_inf,
    three_digits,
    written,
)
from reprobox.compare.records import as_number, same_number, short_repr
from reprobox.errors import InputError


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move: |delta| <= abs, or |delta| <= rel * |reference|.

    With neither bound given the tolerance is exact: only values equal as
    written pass (records.same_number), since reprobox exists to show that a
    run repeats exactly.
    """

    abs: float | None = None
    rel: float | None = None

    def __post_init__(self) -> None:
        for name in ("abs", "rel"):
            value = getattr(self, name)
            if value is None:
                continue
            number = as_number(value)
            if number is None or not math.isfinite(number) or number < 0:
                raise InputError(
                    f"tolerance {name} must be a finite number >= 0, not {value!r}",
                    hint="e.g. abs 1e-6 or rel 1e-3",
                )
            if number == 0:  # -0.0 is 0: "abs -0" read as a negative bound
                number = 0 if isinstance(number, int) else 0.0
            object.__setattr__(self, name, number)

    @property
    def is_exact(self) -> bool:
        return self.abs is None and self.rel is None

    def allows(self, value: float, reference: float) -> bool:
        """Tell whether a finite value is within bounds of a finite reference.

        Worked out exactly on the numbers as written (exact.written: each
        float's shortest decimal, as every table shows it), in fractions: no
        slack, so a nonzero tolerance never passes a pair that a smaller one
        fails (abs 1e-30 fails 0.3 against 0.30000000000000004), while 0.905
        against 0.9 is 0.005 and passes abs 0.005. Exact too for values near
        the largest float, where value - reference would overflow.
        """
        if self.is_exact:
            return same_number(value, reference)
        size = abs(written(value) - written(reference))
        if self.abs is not None and size <= written(self.abs):
            return True
        # rel is of the larger magnitude, as math.isclose has it: the verdict
        # is the same whichever of the two runs is the reference.
        larger = max(abs(written(value)), abs(written(reference)))
        return self.rel is not None and size <= written(self.rel) * larger

    def describe(self) -> str:
        """Say the tolerance in a few words, e.g. 'abs 1e-06 or rel 0.001'."""
        if self.is_exact:
            return "exact"
        parts = [f"abs {bound_text(self.abs)}"] if self.abs is not None else []
        parts += [f"rel {bound_text(self.rel)}"] if self.rel is not None else []
        return " or ".join(parts)


EXACT = Tolerance()


@dataclass(frozen=True)
class MetricResult:
    """One metric of one run set against the reference run."""

    run_id: str
    metric: str
    value: float | None
    reference_value: float | None
    delta: float | None
    rel_delta: float | None
    tolerance: Tolerance
    tolerance_given: bool
    identical: bool
    # None for seed noise (a sweep run of another seed): shown, never judged.
    passed: bool | None
    reason: str
    # Which side lacks the metric: "" (both have it), "run", "reference" or "both".
    # A missing metric fails the check but is not a difference in value.
    missing: str = ""
    # Set for a run judged on a seed sweep's band (min, max) instead of the
    # reference: reference_value is then the band's point nearest the value
    # (the edge it lies beyond, or the value itself inside), so delta is the
    # distance outside the band.
    seed_band: tuple[float, float] | None = None
    # A sweep run with another seed than the reference: its difference is the
    # seed noise itself, shown but not judged (passed is None). Not for a value
    # NaN, infinite, missing or no number: that is judged as for any pair; nor
    # for a run that did not succeed: the band leaves it out, and it fails.
    seed_noise: bool = False
    # A sweep run that did not succeed: left out of every band, judged by no
    # tolerance, failed for its status alone (so in no check count).
    out_of_band: bool = False
    # A run off the sweep measured by the sweep's run of its seed instead of the
    # reference: that run's id; reference_value is then that run's value.
    compared_with: str | None = None
    # Why a check whose values agree within tolerance fails anyway: a run of
    # the pair did not succeed, or the pair is one setup whose numbers differ.
    # Never set on a check out of tolerance, so that count stays true.
    overruled: str = ""

    @property
    def exact_delta(self) -> Fraction | float | None:
        """Return delta, exactly where both values are finite: as a float, the
        difference of values near ±1.8e308 overflows to inf."""
        exact = exact_difference(self.value, self.reference_value)
        return self.delta if exact is None or self.delta is None else exact

    @property
    def exact_rel_delta(self) -> Fraction | float | None:
        """Return rel_delta, exactly where delta and the reference are finite."""
        exact = exact_difference(self.value, self.reference_value)
        if exact is None or self.rel_delta is None:
            return self.rel_delta
        return exact / abs(written(self.reference_value))


def delta_text(result: MetricResult) -> str:
    """Show a result's delta in as many digits as its abs bound needs.

    Three significant digits, or more where rounding would put the shown delta
    level with (or across) the shown bound while the verdict tells them apart.
    """
    exact = result.exact_delta
    bound = result.tolerance.abs
    if bound is None or result.seed_noise or not isinstance(exact, Fraction):
        return (
            "n/a" if exact is None or exact != exact else three_digits(exact, sign=True)
        )
    return beside_bound(exact, bound, sign=True)


@dataclass(frozen=True)
class MissingMetric:
    """A metric one side of a pair recorded and the other did not."""

    run_id: str
    metric: str
    missing_in: str  # "run", "reference" or "both"
    value: float | None  # the side that has it, as a number (None if not one)
    reason: str  # e.g. "only in this run (0.8), not in the reference"


def _as_float(number: Fraction) -> float:
    """Return number as a float, ±inf past the largest one."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def written_delta(exact: Fraction, bound: float | None) -> float:
    """Return the float a reader of --json gets the verdict back from.

    The difference of the values as written (0.905 - 0.9 is 0.005, not the
    binary 0.0050000000000000044), as the nearest float: |delta| <= abs then
    reads as the verdict does. Rounding keeps order, so only a difference just
    over the bound can round onto it; it is written as the next float up.
    Past the largest float it is inf, judged exactly.
    """
    delta = float_or_inf(exact)
    if bound is not None and abs(delta) == bound and abs(exact) > written(bound):
        delta = math.copysign(math.nextafter(bound, math.inf), delta)
    return delta


def compare_metric(
    run_id: str,
    metric: str,
    reference_raw: Any,
    run_raw: Any,
    *,
    reference_has: bool,
    run_has: bool,
    tolerance: Tolerance,
    tolerance_given: bool,
) -> MetricResult:
    """Set one metric of a run against the reference value and judge it."""
    ref = as_number(reference_raw)
    value = as_number(run_raw)

    def result(passed: bool, reason: str, *, identical=False, delta=None, missing=""):
        rel = None
        if delta is not None and ref not in (None, 0.0) and math.isfinite(ref):
            # As written, as delta: delta / ref of floats rounds twice, and
            # delta of values near ±1.8e308 overflows to inf, while their
            # relative difference (-2 for -x against x) is a plain number.
            exact = exact_difference(value, ref)
            rel = (
                delta / abs(ref)
                if exact is None
                else _as_float(exact / abs(written(ref)))
            )
        return MetricResult(
            run_id=run_id,
            metric=metric,
            value=value,
            reference_value=ref,
            delta=delta,
            rel_delta=rel,
            tolerance=tolerance,
            tolerance_given=tolerance_given,
            identical=identical,
            passed=passed,
            reason=reason,
            missing=missing,
        )

    missing = _missing_side(reference_has, run_has)
    if missing:
        return result(False, _MISSING_REASONS[missing], missing=missing)
    problem = _not_a_number_reason(ref, value, reference_raw, run_raw)
    if problem:
        return result(False, problem)
    if same_number(ref, value):
        if math.isnan(ref):
            return result(True, "NaN in both runs", identical=True)
        # 0 for integers (5 against 5), 0.0 for floats: as any delta is.
        zero = difference_number(value, ref) if math.isfinite(ref) else 0.0
        return result(True, "identical", identical=True, delta=zero)
    if math.isnan(ref) or math.isnan(value):
        side = "the reference run" if math.isnan(ref) else "this run"
        return result(False, f"NaN in {side} only")
    if math.isinf(ref) and math.isinf(value):
        return result(False, "infinite in both runs, with opposite signs")
    if math.isinf(ref) or math.isinf(value):
        return result(False, "infinite in one run only", delta=value - ref)

    if isinstance(value, int) or isinstance(ref, int):
        # An integer (see as_number): int - float would round. As written, as
        # the table shows it: against 2**60 written as a float,
        # 1.152921504606847e+18, the JSON said one delta and the table another.
        delta = difference_number(value, ref)
    else:
        delta = written_delta(exact_difference(value, ref), tolerance.abs)
    if tolerance.allows(value, ref):
        return result(True, f"within tolerance ({tolerance.describe()})", delta=delta)
    return result(False, f"out of tolerance ({tolerance.describe()})", delta=delta)


_MISSING_REASONS = {
    "both": "missing in both runs",
    "reference": "missing in the reference run",
    "run": "missing in this run",
}


def _missing_side(reference_has: bool, run_has: bool) -> str:
    """Name the side that lacks the metric: 'both', 'reference', 'run' or ''."""
    if not reference_has and not run_has:
        return "both"
    if not reference_has:
        return "reference"
    return "" if run_has else "run"


def missing_metric(
    result: MetricResult,
    reference_raw: Any,
    run_raw: Any,
    *,
    against: str = "the reference",
) -> MissingMetric:
    """Describe a check whose metric one side lacks, in words a person can act on.

    A metric added or dropped since the reference is not a change in value, so
    it is said as what it is: which side has it and which does not. against
    names the run it was set against, when that is not the reference.
    """
    if result.missing == "both":
        present, reason = None, f"in neither this run nor {against}"
    elif result.missing == "reference":
        present = run_raw
        reason = f"only in this run ({_shown(run_raw)}), not in {against}"
    else:
        present = reference_raw
        reason = f"only in {against} ({_shown(reference_raw)}), not in this run"
    return MissingMetric(
        run_id=result.run_id,
        metric=result.metric,
        missing_in=result.missing,
        value=as_number(present),
        reason=reason,
    )


def _shown(raw: Any) -> str:
    """Show a metric value exactly, as the metrics table does, or as recorded."""
    number = as_number(raw)
    return short_repr(raw) if number is None else repr(number)


def _not_a_number_reason(ref, value, reference_raw, run_raw) -> str:
    """Say why a metric both sides have cannot be compared, or return ''."""
    if ref is None:
        return f"not a number in the reference run ({short_repr(reference_raw)})"
    if value is None:
        return f"not a number in this run ({short_repr(run_raw)})"
    return ""
