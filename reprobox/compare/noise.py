"""Seed-to-seed noise bands, and repeats that should agree but do not."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from reprobox.compare.environment import (
    canonical_json,
    engine_of,
    hidden_caveat,
    hidden_env,
    numerics_key,
)
from reprobox.compare.exact import (
    beside_bound,
    difference_number,
    exact_difference,
    root_text,
    three_digits,
    value_text,
    written,
)
from reprobox.compare.metrics import MetricResult, Tolerance, compare_metric
from reprobox.compare.records import Record, as_number, same_number


@dataclass(frozen=True)
class NoiseBand:
    """How far a metric moves across the seeds of one seed sweep.

    spread and std are inf where they pass the largest float (values near
    ±1.8e308); the exact_* members and the *_text methods hold their value.
    """

    sweep: str
    metric: str
    run_ids: tuple[str, ...]
    n: int
    minimum: float
    maximum: float
    spread: int | float  # maximum - minimum as written (exact.difference_number)
    mean: float
    std: float  # sample standard deviation (n - 1)
    seeds: tuple[Any, ...] = ()  # one per seed, as run_ids
    values: tuple[float, ...] = ()  # each seed's value, as run_ids

    def describe(self) -> str:
        """Show the band with each seed's value: '[0.1, 0.12] (seed 0: 0.1, ...)'."""
        each = ", ".join(
            f"seed {seed}: {value!r}"
            for seed, value in zip(self.seeds, self.values, strict=True)
        )
        return f"[{self.minimum!r}, {self.maximum!r}] of sweep {self.sweep} ({each})"

    @property
    def exact_spread(self) -> Fraction:
        return written(self.maximum) - written(self.minimum)

    @property
    def exact_variance(self) -> Fraction:
        """The sample variance (n - 1), exactly: std squared, with no rounding."""
        if len(self.values) < 2:  # a band made by hand, without its values
            return Fraction(self.std) ** 2
        exact = [Fraction(value) for value in self.values]
        mean = sum(exact) / len(exact)
        return sum((value - mean) ** 2 for value in exact) / (len(exact) - 1)

    def spread_text(self) -> str:
        return three_digits(self.exact_spread)

    def std_text(self, times: int = 1) -> str:
        """Show times * std in three digits, also past the largest float."""
        if math.isfinite(times * self.std):
            return three_digits(times * self.std)
        return root_text(times * times * self.exact_variance)


@dataclass(frozen=True)
class NoiseCheck:
    """Whether a run's difference to the reference exceeds seed-to-seed noise."""

    run_id: str
    metric: str
    sweep: str
    delta: float | None  # None: the run has no finite value; inf where it overflows
    spread: int | float
    std: float
    beyond_noise: bool
    reason: str


@dataclass(frozen=True)
class NondeterminismFinding:
    """A metric that differs between runs of the same image, seed and setup."""

    run_ids: tuple[str, ...]
    repeats: bool  # True when the runs were asked for as repeats
    metric: str
    values: tuple[float, ...]  # of the runs that recorded the metric, as run_ids
    # max - min as written (exact.difference_number); NaN if a value is NaN,
    # inf if one is infinite
    spread: int | float
    reason: str
    # --env variables the records keep as ***: their values may have differed.
    hidden_env: tuple[str, ...] = ()
    engines: int = 1  # how many container engines the runs used
    # Runs made with --repeat on one engine differ among themselves: repeats
    # exist to catch this, so it fails the verdict whatever the tolerance.
    # Other runs of one setup that differ (repeats on another engine
    # included) are told, and judged by their tolerances.
    repeats_disagree: bool = False
    # The repeats that disagree: every repeat on an engine whose repeats gave
    # more than one value, whichever of them is the reference.
    disagreeing_repeats: tuple[str, ...] = ()


def seed_noise_bands(
    records: Sequence[Record],
    metrics: Sequence[str],
    unsteady: Collection[tuple[str, str]] = (),
) -> tuple[list[NoiseBand], list[str]]:
    """Measure each seed sweep's spread per metric; return bands and notes.

    unsteady: (run id, metric) of repeats whose repeats gave other values
    (NondeterminismFinding.disagreeing_repeats): their seed has no one value,
    so they are left out of the band, with a note.
    """
    bands: list[NoiseBand] = []
    notes: list[str] = []
    for sweep, members in sorted(_sweeps(records).items()):
        seeds = {json.dumps(r.seed) for r in members}
        if len(members) < 2:
            continue  # one run of a sweep given with others: no band, no fault
        if len(seeds) < 2:
            notes.append(
                f"seed sweep {sweep}: needs two or more seeds for a noise band"
            )
            continue
        succeeded = succeeded_seeds(members).get(sweep, set())
        if not forms_a_band(succeeded):
            # Its runs are judged as a sweep of one seed's are (compare_runs).
            notes.append(
                f"seed sweep {sweep}: {len(succeeded)} of its {len(seeds)} seeds "
                "succeeded, and a noise band needs two or more: no band, its runs "
                "are judged by the tolerances"
            )
            continue
        if len({engine_of(r) for r in members}) > 1:
            notes.append(
                f"seed sweep {sweep} spans engines: its spread is more than seed noise"
            )
        if len({r.image_key for r in members}) > 1:
            notes.append(
                f"seed sweep {sweep} mixes images: its spread is more than seed noise"
            )
        for metric in metrics:
            steady = [r for r in members if (r.run_id, metric) not in unsteady]
            band = _band(sweep, metric, steady)
            if band is not None:
                bands.append(band)
            notes += _left_out_of_band(sweep, metric, steady)
            notes += _unsteady_left_out(sweep, metric, members, steady)
    return bands, notes


def _unsteady_left_out(
    sweep: str, metric: str, members: Sequence[Record], steady: Sequence[Record]
) -> list[str]:
    """Say which seeds a band leaves out because their repeats disagree."""
    kept = {json.dumps(r.seed) for r in steady if r.status == "succeeded"}
    steady_ids = {r.run_id for r in steady}
    out: dict[str, list[str]] = {}
    for record in members:
        seed = json.dumps(record.seed)
        if record.run_id not in steady_ids and seed not in kept:
            out.setdefault(seed, []).append(record.run_id)
    return [
        f"seed sweep {sweep}: {metric} of seed {seed} differs among its repeats "
        f"({', '.join(run_ids)}): left out of the noise band"
        for seed, run_ids in out.items()
    ]


def _left_out_of_band(sweep: str, metric: str, members: Sequence[Record]) -> list[str]:
    """Say which seeds' values a band leaves out as not finite (NaN, ±inf).

    Their runs fail, whatever the seed they are set against holds; the note
    says why the band counts fewer seeds than the sweep ran.
    """
    notes = []
    for record in members:
        value = as_number(record.metrics.get(metric))
        if (
            record.status == "succeeded"
            and value is not None
            and not math.isfinite(value)
        ):
            notes.append(
                f"seed sweep {sweep}: {metric} of run {record.run_id} (seed "
                f"{json.dumps(record.seed)}) is {value!r}, not finite: "
                "left out of the noise band"
            )
    return notes


def check_against_noise(
    results: Sequence[MetricResult],
    bands: Sequence[NoiseBand],
    records: Sequence[Record],
    reference: Record | None = None,
) -> list[NoiseCheck]:
    """Judge each non-zero out-of-sweep difference: beyond seed noise or not.

    With the reference outside a sweep, the difference that says whether it is
    beyond that sweep's noise is the one to the sweep's run with the reference's
    seed (else its first run), as if that run were the reference.
    """
    sweep_of = {r.run_id: r.options.get("seed_sweep") for r in records}
    ref_sweep = sweep_of.get(reference.run_id) if reference is not None else None
    partners = {
        id(band): _partner(band, records, reference)
        for band in bands
        if reference is not None and str(ref_sweep) != band.sweep
    }
    checks = []
    for result in results:
        if not _differs(result):
            continue
        sweep = sweep_of[result.run_id]
        for band in bands:
            in_sweep = sweep is not None and str(sweep) == band.sweep
            if result.metric != band.metric or (
                in_sweep and result.run_id != partners.get(id(band))
            ):
                continue
            checks.append(_noise_check(result, band))
    return checks


def _differs(result: MetricResult) -> bool:
    """Tell whether two finite values differ (their float delta may be inf)."""
    return (
        not result.identical
        and result.delta is not None
        and exact_difference(result.value, result.reference_value) is not None
    )


def _partner(band: NoiseBand, records: Sequence[Record], reference: Record) -> str:
    """Name the sweep run set against an outside reference: same seed, else first."""
    members = [r for r in records if r.run_id in band.run_ids]
    same_seed = [r for r in members if r.seed == reference.seed]
    return (same_seed or members)[0].run_id


def _noise_check(result: MetricResult, band: NoiseBand) -> NoiseCheck:
    """Judge |delta| against the spread and 2 std, exactly: near the largest
    float, differences, spreads and deviations overflow to inf."""
    size = abs(exact_difference(result.value, result.reference_value))
    beyond_spread = size > band.exact_spread
    beyond_std = size * size > 4 * band.exact_variance  # size > 2 std, squared
    beyond = beyond_spread or beyond_std
    shown, (spread, std) = shown_beside_noise(size, band)
    if beyond:
        name, bound = ("seed spread", spread) if beyond_spread else ("2 std", std)
        reason = f"|delta| {shown} > {name} {bound}: beyond seed noise"
    else:
        reason = (
            f"|delta| {shown} <= seed spread {spread} and "
            f"2 std {std}: within seed noise"
        )
    return NoiseCheck(
        run_id=result.run_id,
        metric=band.metric,
        sweep=band.sweep,
        delta=result.delta,
        spread=band.spread,
        std=band.std,
        beyond_noise=beyond,
        reason=reason,
    )


def shown_beside_noise(size: Fraction, band: NoiseBand) -> tuple[str, tuple[str, str]]:
    """Show |delta|, the band's spread and its 2 std so that they read as they
    are: three significant digits, or as many more as it takes.

    Rounded to three, 0.0050000000000001 read '|delta| 0.005 > seed spread
    0.005'; the digits grow until each shown pair stands under, level or over
    as the exact pair does (2 std by its square, 4 times the variance).
    """
    bounds = ((band.exact_spread, False), (4 * band.exact_variance, True))
    texts = (three_digits(size), band.spread_text(), band.std_text(2))
    for digits in range(4, 42):
        if all(
            _stands_as(texts[0], text, size, bound, squared)
            for text, (bound, squared) in zip(texts[1:], bounds, strict=True)
        ):
            break
        texts = (
            _digits_text(size, digits),
            _digits_text(band.exact_spread, digits),
            _digits_text(4 * band.exact_variance, digits, root=True),
        )
    return texts[0], (texts[1], texts[2])


def _stands_as(
    shown: str, shown_bound: str, size: Fraction, bound: Fraction, squared: bool
) -> bool:
    """Tell whether two shown numbers stand as the exact ones do: <, = or >."""
    exact = size * size if squared else size
    want = (exact > bound) - (exact < bound)
    size_read = Fraction(Decimal(shown))
    bound_read = Fraction(Decimal(shown_bound))
    return (size_read > bound_read) - (size_read < bound_read) == want


def _digits_text(number: Fraction, digits: int, *, root: bool = False) -> str:
    """Show number (or its square root) in digits significant digits."""
    with localcontext(prec=digits + 10):
        exact = Decimal(number.numerator) / Decimal(number.denominator)
    with localcontext(prec=digits):
        shown = exact.sqrt() if root else +exact
    return format(shown.normalize(), "g")


def judge_against_band(
    run_id: str,
    metric: str,
    raw: Any,
    band: NoiseBand,
    *,
    tolerance: Tolerance,
    tolerance_given: bool,
) -> MetricResult:
    """Judge a run whose seed the sweep lacks on the sweep's seed band.

    Its value passes within the band's range widened by the tolerance: the
    delta is its distance from the nearest edge, 0 inside the band.
    """
    value = as_number(raw)
    if value is None or not math.isfinite(value):
        edge = band.minimum  # no position to take: say why, as for any pair
    else:
        edge = min(max(value, band.minimum, key=written), band.maximum, key=written)
    result = compare_metric(
        run_id,
        metric,
        edge,
        raw,
        reference_has=True,
        run_has=True,
        tolerance=tolerance,
        tolerance_given=tolerance_given,
    )
    where = f"the seed band {band.describe()}"
    distance = exact_difference(result.value, result.reference_value)
    if result.delta is None or distance is None:
        reason = f"{result.reason.replace('the reference run', 'the band')}; {where}"
    elif distance == 0:
        reason = f"within {where}"
    else:
        side = "above" if distance > 0 else "below"
        verdict = result.reason.split(" (")[0]  # within / out of tolerance
        shown = (
            three_digits(abs(distance))
            if tolerance.abs is None
            else beside_bound(abs(distance), tolerance.abs)
        )
        reason = f"{shown} {side} {where}: {verdict} ({tolerance.describe()})"
    return dataclasses.replace(
        result,
        identical=False,
        seed_band=(band.minimum, band.maximum),
        reason=reason,
    )


def check_against_band(result: MetricResult, band: NoiseBand) -> NoiseCheck:
    """Say whether a run judged on a band lies beyond seed noise, every seed shown."""
    distance = exact_difference(result.value, result.reference_value)
    if result.delta is None or distance is None:
        beyond, where = True, f"{result.metric} has no finite value to set against"
    elif distance == 0:
        beyond, where = False, f"{result.value!r} lies within"
    else:
        side = "above" if distance > 0 else "below"
        # As many digits as the Metrics row shows beside the tolerance.
        shown = (
            three_digits(abs(distance))
            if result.tolerance.abs is None
            else beside_bound(abs(distance), result.tolerance.abs)
        )
        beyond, where = True, f"{result.value!r} lies {shown} {side}"
    return NoiseCheck(
        run_id=result.run_id,
        metric=result.metric,
        sweep=band.sweep,
        delta=result.delta,
        spread=band.spread,
        std=band.std,
        beyond_noise=beyond,
        reason=f"{where} the seed band {band.describe()}: "
        f"{'beyond' if beyond else 'within'} seed noise",
    )


def find_nondeterminism(
    records: Sequence[Record],
    environments: Mapping[str, Mapping[str, Any]],
    metrics: Sequence[str],
) -> list[NondeterminismFinding]:
    """Report metrics that differ among runs whose numerics setups are identical.

    Fields that cannot change numbers (warnings, names, the engine's version,
    the memory limit) do not split a group: runs that differ only there still
    had to give the same numbers. Only runs that succeeded count.
    """
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.status != "succeeded":
            continue  # a run that failed proves nothing, its numbers included
        key = canonical_json(numerics_key(environments[record.run_id]))
        groups.setdefault(key, []).append(record)

    findings = []
    for members in groups.values():
        if len(members) < 2:
            continue
        repeats = any(is_repeat(r) for r in members)
        for metric in metrics:
            # Only runs that recorded the metric as a number can disagree on
            # it: one that lacks it (added or dropped since) is told apart as a
            # missing metric, and a value that is no number as such.
            pairs = [(r.run_id, as_number(r.metrics.get(metric))) for r in members]
            have = [(run_id, v) for run_id, v in pairs if v is not None]
            if len(have) < 2:
                continue
            values = tuple(v for _, v in have)
            if _all_same(values):
                continue
            disagreeing = _disagreeing_repeats(members, pairs, environments)
            spread, spread_text = _spread_of(values)
            shown = ", ".join(value_text(v) for v in values)
            setups = [environments[run_id] for run_id, _ in have]
            hidden = hidden_env(*setups)
            # Engines do not split a group (they cannot change numbers as
            # such), but runs on two of them did not share one machine.
            # One per engine, however its address is spelt (EngineAddress).
            engines = len({setup.get("engine.host") for setup in setups})
            same = (
                "the same image, seed and machine"
                if engines == 1
                else f"the same image and seed on {engines} container engines"
            )
            reason = (
                f"{metric} differs across {len(have)} runs of {same} ({shown}"
                f"; spread {spread_text})" + hidden_caveat(hidden)
            )
            findings.append(
                NondeterminismFinding(
                    tuple(run_id for run_id, _ in have),
                    repeats,
                    metric,
                    values,
                    spread,
                    reason,
                    hidden,
                    engines,
                    repeats_disagree=bool(disagreeing),
                    disagreeing_repeats=disagreeing,
                )
            )
    return sorted(findings, key=lambda f: (f.run_ids, f.metric))


def _disagreeing_repeats(
    members: Sequence[Record],
    pairs: Sequence[tuple[str, float | None]],
    environments: Mapping[str, Mapping[str, Any]],
) -> tuple[str, ...]:
    """Name the repeats of one setup whose values differ on one engine.

    Repeats are runs of one machine: run --repeat 2 -H A -H B makes two on
    each engine, and a difference between the engines is judged by the
    tolerances, as for any two machines, not as repeats that disagree.
    """
    per_engine: dict[Any, list[tuple[str, float]]] = {}
    for record, (run_id, value) in zip(members, pairs, strict=True):
        if value is not None and is_repeat(record):
            engine = environments[run_id].get("engine.host")
            per_engine.setdefault(engine, []).append((run_id, value))
    return tuple(
        run_id
        for group in per_engine.values()
        if len(group) > 1 and not _all_same([value for _, value in group])
        for run_id, _ in group
    )


def is_repeat(record: Record) -> bool:
    """Tell whether a run was one of several asked for with `run --repeat N`."""
    return record.options.get("repeat_index") is not None


def _spread_of(values: Sequence[float]) -> tuple[int | float, str]:
    """Return max - min of values and how it is shown, honest where one is not finite.

    A NaN among them leaves the spread undefined (NaN); an infinite value
    makes it infinite. Left out, the spread of the rest (0 for 0.5, nan, nan)
    would contradict the finding that the values differ.
    """
    if any(math.isnan(v) for v in values):
        return math.nan, "NaN: a value is NaN"
    if not all(math.isfinite(v) for v in values):
        return math.inf, "inf: a value is infinite"
    high, low = max(values, key=written), min(values, key=written)
    return difference_number(high, low), three_digits(written(high) - written(low))


def succeeded_seeds(records: Sequence[Record]) -> dict[str, set[str]]:
    """Map each seed sweep to the seeds (as JSON text) of its runs that
    succeeded: a failed run's numbers measure nothing."""
    seeds: dict[str, set[str]] = {}
    for sweep, members in _sweeps(records).items():
        done = {json.dumps(r.seed) for r in members if r.status == "succeeded"}
        if done:
            seeds[sweep] = done
    return seeds


def forms_a_band(seeds: Collection[str]) -> bool:
    """Tell whether a sweep whose runs of these seeds succeeded forms a noise
    band: it takes two seeds or more; with fewer, its runs are judged by the
    tolerances as any run is (compare_runs, the band, the non-finite check)."""
    return len(seeds) >= 2


def _sweeps(records: Sequence[Record]) -> dict[str, list[Record]]:
    sweeps: dict[str, list[Record]] = {}
    for record in records:
        sweep = record.options.get("seed_sweep")
        if sweep is not None:
            sweeps.setdefault(str(sweep), []).append(record)
    return sweeps


def _band(sweep: str, metric: str, members: Sequence[Record]) -> NoiseBand | None:
    """Build one metric's band from the sweep runs that have a finite value.

    One run per seed: repeats of a seed (`--seeds 0-4 --repeat 2`) would count
    as more seeds and make the band look tighter than seed noise is.
    """
    per_seed: dict[str, Record] = {}
    for record in members:
        if record.status == "succeeded":  # a failed run's numbers measure nothing
            per_seed.setdefault(json.dumps(record.seed), record)
    pairs = [(r.run_id, as_number(r.metrics.get(metric))) for r in per_seed.values()]
    pairs = [(run_id, v) for run_id, v in pairs if v is not None and math.isfinite(v)]
    if len(pairs) < 2:
        return None
    values = [v for _, v in pairs]
    # Ordered as written (exact.written), as spread and delta are taken: by
    # plain <, 2**60 written as a float (1.152921504606847e+18, 24 more than
    # it holds) sat below -(2**60) - 1 and the spread came out negative.
    low, high = min(values, key=written), max(values, key=written)
    seed_of = {r.run_id: r.seed for r in per_seed.values()}
    return NoiseBand(
        sweep=sweep,
        metric=metric,
        run_ids=tuple(run_id for run_id, _ in pairs),
        n=len(values),
        minimum=low,
        maximum=high,
        spread=difference_number(high, low),
        mean=statistics.mean(values),  # summed exactly: fmean's sum overflows
        std=_stdev(values),
        seeds=tuple(seed_of[run_id] for run_id, _ in pairs),
        values=tuple(values),
    )


def _stdev(values: Sequence[float]) -> float:
    """Return the sample standard deviation; inf past the largest float."""
    try:
        return statistics.stdev(values)  # its sum of squares is exact
    except OverflowError:
        return math.inf


def _all_same(values: Sequence[float | None]) -> bool:
    first = values[0]
    for value in values[1:]:
        if (first is None) != (value is None):
            return False
        if first is not None and not same_number(first, value):
            return False
    return True
