"""Judge runs off a seed sweep: against its run of their seed, else on its band."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from reprobox.compare.environment import (
    EnvDifference,
    diff_environments,
    hidden_caveat,
)
from reprobox.compare.headlines import (
    SUCCEEDED,
    RunSummary,
    exit_fields,
    format_value,
    named_difference,
    status_note,
)
from reprobox.compare.metrics import MetricResult
from reprobox.compare.noise import NoiseBand, forms_a_band
from reprobox.compare.records import Record, as_number


def ranked_sweeps(records: Sequence[Record], ref: Record) -> list[str]:
    """Order the sweeps given: the reference's own first, then by id."""
    ref_sweep = _sweep_of(ref)
    sweeps = {_sweep_of(r) for r in records} - {None}
    return sorted(sweeps, key=lambda sweep: (sweep != ref_sweep, sweep))


def same_seed_partners(records: Sequence[Record], ref: Record) -> dict[str, Record]:
    """Map each run to the sweep run of its seed it is set against, if any.

    A run whose seed the reference lacks but a sweep holds is measured by the
    sweep's succeeded run of that seed, exactly as the reference would measure it: its
    seed band would let through a change the same seed shows, and the verdict
    would hang on which run is the reference. Sweeps are ranked (the
    reference's own first, then by id) and a run is set against the first
    sweep holding its seed that ranks above its own sweep: with two machines'
    sweeps of the same seeds, each run of the one is paired with its seed's
    run of the other, whichever run is the reference.
    """
    ranked = ranked_sweeps(records, ref)
    held: dict[tuple[str, str], Record] = {}  # (sweep, seed) -> its first run
    for record in records:
        # A failed run's metrics prove nothing: it measures no other run.
        if (sweep := _sweep_of(record)) is not None and record.status == "succeeded":
            held.setdefault((sweep, json.dumps(record.seed)), record)
    partners = {}
    for record in records:
        seed = json.dumps(record.seed)
        if record is ref or seed == json.dumps(ref.seed):
            continue
        own = _sweep_of(record)
        for sweep in ranked if own is None else ranked[: ranked.index(own)]:
            if (sweep, seed) in held:
                partners[record.run_id] = held[sweep, seed]
                break
    return partners


def same_seed_run(partner: Record) -> str:
    """Name the sweep run that measures a run of its seed: 'sweep run X (seed 1)'."""
    return f"sweep run {partner.run_id} (seed {format_value(partner.seed)})"


def measure_name(base: Record, ref: Record) -> str:
    """Name the run a run was set against: 'the reference' or its same-seed run."""
    return "the reference" if base is ref else same_seed_run(base)


def judged_on_a_band(
    records: Sequence[Record],
    ref: Record,
    bands: Sequence[NoiseBand],
    partners: Mapping[str, Record],
) -> dict[tuple[str, str], NoiseBand]:
    """Map (run, metric) to the band it is judged on, when no same-seed run is.

    A run off every sweep is judged on a band when no same-seed run can be its
    measure: a run other than the reference whose seed neither the reference
    nor any sweep holds (partners: those a sweep run of their seed measures),
    or the reference itself when its seed is not in the sweep. With several
    sweeps, the band its value lies farthest outside, whichever run is the
    reference: it must agree with every machine's noise (brk r50 BU 1: the
    reference's own sweep's band was taken, so with two sweeps on two
    machines a run beside them passed or failed by the reference).

    A sweep run whose seed no other sweep holds, while its sweep shares seeds
    with another, is judged on that other sweep's band (the first ranked), the
    reference included: so each machine's unmatched seeds are judged on the
    other machine's band whichever run is the reference.
    """
    seeds_of: dict[str, set[str]] = {}
    for record in records:
        if (sweep := _sweep_of(record)) is not None:
            seeds_of.setdefault(sweep, set()).add(json.dumps(record.seed))
    bands_of: dict[str, list[NoiseBand]] = {}
    for band in sorted(bands, key=lambda b: b.sweep):
        bands_of.setdefault(band.metric, []).append(band)
    ranked = ranked_sweeps(records, ref)
    chosen = {}
    for record in records:
        seed = json.dumps(record.seed)
        sweep = _sweep_of(record)
        if record.run_id in partners:
            continue
        if sweep is not None:
            if record is not ref and seed == json.dumps(ref.seed):
                continue  # measured by the reference, as a repeat of its seed
            chosen.update(_other_sweeps_band(record, sweep, seeds_of, ranked, bands))
            continue
        for metric, held_by in bands_of.items():
            band = _farthest_outside(held_by, record.metrics.get(metric))
            if metric not in record.metrics or (
                seed in seeds_of[band.sweep]
                if record is ref
                else seed == json.dumps(ref.seed)
            ):
                continue
            chosen[record.run_id, metric] = band
    return chosen


def _farthest_outside(bands: Sequence[NoiseBand], value: Any) -> NoiseBand:
    """Return the band value lies farthest outside (the first by sweep id on
    a tie, or for a value that is no finite number)."""
    number = as_number(value)
    if number is None or not math.isfinite(number):
        return bands[0]

    def beyond(band: NoiseBand) -> float:
        return max(band.minimum - number, number - band.maximum, 0.0)

    return max(bands, key=beyond)  # max keeps the first of equals


def _other_sweeps_band(record, sweep, seeds_of, ranked, bands):
    """Map (run, metric) to the band of a sweep sharing seeds with the run's own.

    Only for a seed no other sweep holds: a seed another sweep holds pairs the
    two runs. A sweep that shares no seed with any other is judged whole on
    the first ranked other sweep's band, as a lone run of another seed is:
    two machines' sweeps of other seeds agree only within each other's noise
    (breaker AO 1: a second seed on the machine that differed made a FAIL a
    PASS). Every sweep's runs are judged so, the reference's included, so the
    verdict does not hang on which run is the reference.
    """
    seed = json.dumps(record.seed)
    others = [s for s in ranked if s != sweep]
    if any(seed in seeds_of[s] for s in others):
        return {}
    sharing = [s for s in others if seeds_of[s] & seeds_of[sweep]]
    chosen = {}
    for other in sharing or others:
        for band in bands:
            if band.sweep == other and band.metric in record.metrics:
                chosen.setdefault((record.run_id, band.metric), band)
    return chosen


def _sweep_of(record: Record) -> str | None:
    sweep = record.options.get("seed_sweep")
    return None if sweep is None else str(sweep)


def is_other_seed_of_a_sweep(record: Record, ref: Record) -> bool:
    """Tell whether record is a seed-sweep run whose seed is not the reference's."""
    if record.options.get("seed_sweep") is None:
        return False
    return json.dumps(record.seed) != json.dumps(ref.seed)


def band_differences(
    record: Record,
    band: NoiseBand,
    ref: Record,
    environments: Mapping[str, Mapping[str, Any]],
    cut_short: Mapping[str, bool],
    settings: Mapping[str, Any],
) -> list[EnvDifference]:
    """List how a run judged on a band differs from the band's machine.

    Taken against the reference where it is one of the band's runs, else the
    band's first run: the reference may have run on the judged run's machine
    (another run of its own sweep), where nothing but the seed differs.
    settings: run id -> the compare_settings its record keeps (or None).
    """
    versus = ref.run_id if ref.run_id in band.run_ids else band.run_ids[0]
    return diff_environments(
        record.run_id,
        environments[versus],
        environments[record.run_id],
        cut_short=(cut_short[versus], cut_short[record.run_id]),
        settings=(settings[versus], settings[record.run_id]),
    )


def band_summary(
    record,
    own,
    missing,
    differences,
    is_reference,
    hidden=(),
    unrecorded="",
    note="",
) -> RunSummary:
    """Judge a run on the sweep's seed band, naming the machine difference.

    own: every check of the run, those on the band and any metric it lacks;
    missing: its Missing metrics entries. differences: the run's setup against
    the band's machine (band_differences). note: why it fails besides its
    checks (its repeats gave other numbers), or ''.
    """
    banded = [r for r in own if r.seed_band]
    # A check overruled (the run did not succeed, its repeats disagree) lies
    # within the band: its status or the note says why it fails, as for a run
    # judged pairwise, and it neither lies outside nor points at a cause.
    beyond = [r for r in banded if r.passed is False and not r.overruled]
    outside = [r.metric for r in beyond if r.delta is not None]
    # NaN, an infinity or no number has no place on the band: said as its row.
    unplaced = [
        f"{r.metric} ({r.reason.partition('; the seed band ')[0]})"
        for r in beyond
        if r.delta is None
    ]
    # The band spans the seeds, so the seed is no cause.
    theirs = [d for d in differences if d.changes_numerics and d.category != "seed"]
    suspect = theirs[0] if theirs else None
    if beyond:
        said = [f"{', '.join(outside)} outside the seed band widened by tolerance"]
        headline = ", ".join((said if outside else []) + unplaced)
        if suspect:
            headline += f"; most likely cause: {named_difference(suspect)}"
        elif unrecorded:
            headline += f"; {unrecorded}"
        else:
            headline += (
                "; no numerics-relevant setup difference besides the seed"
                + hidden_caveat(hidden)
            )
    else:
        names = ", ".join(r.metric for r in banded)
        headline = f"{names} within the seed band widened by tolerance"
    gaps = [f"{m.metric} {m.reason}" for m in missing[:3]]
    gaps += [f"and {len(missing) - 3} more"] if len(missing) > 3 else []
    prefix = "reference run; " if is_reference else ""
    return RunSummary(
        run_id=record.run_id,
        is_reference=is_reference,
        status=record.status,
        seed=record.seed,
        passed=record.status == SUCCEEDED and not note and all(r.passed for r in own),
        metrics_differ=bool(beyond),
        seed_noise=False,
        likely_cause=suspect.field if (suspect and beyond) else None,
        headline=prefix
        + "; ".join([headline, *gaps])
        + status_note(record, "it cannot pass")
        + note,
        judged_on_band=True,
        hidden_env=hidden,
        **exit_fields(record),
    )


def non_finite_seeds(
    records: Sequence[Record], names: Sequence[str], seeds_of: Mapping[str, set[str]]
) -> dict[str, dict[str, str]]:
    """Map each sweep run to its checked metrics that are NaN or infinite.

    Only runs that succeeded, of a sweep of which two seeds or more did (a
    sweep of one seed is judged as any run is). Such a seed fails whatever the
    other seeds hold: NaN beside NaN, or inf beside inf, is no agreement, and
    the band leaves the value out, so nothing else would fail it.
    """
    found: dict[str, dict[str, str]] = {}
    for record in records:
        sweep = _sweep_of(record)
        if sweep is None or not forms_a_band(seeds_of.get(sweep, ())):
            continue
        if record.status != SUCCEEDED:
            continue
        for name in names:
            value = as_number(record.metrics.get(name))
            if value is not None and not math.isfinite(value):
                found.setdefault(record.run_id, {})[name] = non_finite_text(value)
    return found


def non_finite_text(value: float) -> str:
    """Show a value that is not finite as the record writes it: 'NaN', 'Infinity'."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def non_finite_note(run: Record, shown: Mapping[str, str]) -> str:
    """Say why a sweep seed fails on a metric that is not finite."""
    values = ", ".join(f"{name} {text}" for name, text in sorted(shown.items()))
    return (
        f"{values} in seed {format_value(run.seed)} of the sweep: a seed whose "
        "metric is NaN or infinite fails the sweep"
    )


def fail_non_finite(
    result: MetricResult, run: Record, found: Mapping[str, Mapping[str, str]]
) -> MetricResult:
    """Fail a sweep seed's result whose value is not finite, whatever it is set
    against: 'NaN in both runs' or 'identical' infinities are no cover for it.

    A result that fails already (NaN in one run only, or judged on a band) is
    left as it is, its reason saying why.
    """
    text = found.get(result.run_id, {}).get(result.metric)
    if text is None or result.passed is False:
        return result
    return dataclasses.replace(
        result,
        passed=False,
        identical=False,
        seed_noise=False,
        reason=non_finite_note(run, {result.metric: text}),
    )
