"""Set run records side by side: metrics, curves, setups, noise and repeats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

from reprobox.compare.environment import (
    EnvDifference,
    UnrecordedFacts,
    diff_environments,
    environment_of,
    facts_cut_short,
    recorded_settings,
    unrecorded_facts,
)
from reprobox.compare.exact import exact_difference
from reprobox.compare.headlines import (
    SUCCEEDED,
    RunSummary,
    format_value,
    has_status,
    recorded_exit_code,
    status_said,
    status_with_exit,
)
from reprobox.compare.history import CurveDivergence, find_divergence, history_metrics
from reprobox.compare.metrics import (
    EXACT,
    MetricResult,
    MissingMetric,
    Tolerance,
    compare_metric,
    missing_metric,
)
from reprobox.compare.noise import (
    NoiseBand,
    NoiseCheck,
    NondeterminismFinding,
    check_against_band,
    check_against_noise,
    find_nondeterminism,
    forms_a_band,
    judge_against_band,
    seed_noise_bands,
    succeeded_seeds,
)
from reprobox.compare.records import Record, as_number
from reprobox.compare.seed_band import (
    band_differences,
    fail_non_finite,
    is_other_seed_of_a_sweep,
    judged_on_a_band,
    measure_name,
    non_finite_seeds,
    same_seed_partners,
    same_seed_run,
)
from reprobox.compare.summaries import summarize_runs
from reprobox.errors import EXIT_FAILED, EXIT_OK, InputError
from reprobox.metric_names import is_metric_name, metric_name_fault

COMPARISON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Comparison:
    """Everything `reprobox compare` found; renderers turn it into text."""

    schema_version: int
    reference: str
    runs: tuple[RunSummary, ...]
    metrics: tuple[str, ...]
    values: Mapping[str, Mapping[str, float | None]]  # run_id -> metric -> value
    results: tuple[MetricResult, ...]
    default_tolerance: Tolerance
    epsilon: float
    history_metrics: tuple[str, ...]
    curves: tuple[CurveDivergence, ...]
    differences: tuple[EnvDifference, ...]
    # Machine facts a run lacks because it stopped before they were gathered:
    # not recorded, so neither differences nor causes.
    unrecorded: tuple[UnrecordedFacts, ...]
    noise_bands: tuple[NoiseBand, ...]
    noise_checks: tuple[NoiseCheck, ...]
    nondeterminism: tuple[NondeterminismFinding, ...]
    missing_metrics: tuple[MissingMetric, ...]  # a metric one side of a pair lacks
    notes: tuple[str, ...]
    passed: bool


def compare_runs(
    records: Sequence[Record],
    *,
    reference: int | str = 0,
    tolerances: Mapping[str, Tolerance | Mapping[str, Any]] | None = None,
    metrics: Sequence[str] | None = None,
    default_tolerance: Tolerance = EXACT,
    epsilon: float = 0.0,
    metrics_from: str = "metrics.compare",
) -> Comparison:
    """Compare every run with the reference run; pure, reads nothing from disk.

    metrics_from names where metrics came from (`--metric`, or the project's
    `metrics.compare`), for the note on a tolerance it leaves unused.
    """
    if len(records) < 2:
        raise InputError(
            f"compare needs two or more run records, got {len(records)}",
            hint="give more record.json files, run folders or a runs folder",
        )
    if not (isinstance(epsilon, (int, float)) and 0 <= epsilon < float("inf")):
        raise InputError(
            f"curve epsilon must be a finite number >= 0, not {epsilon!r}",
            hint="0 compares curves bitwise",
        )
    ref = records[reference_index(records, reference)]
    others = [r for r in records if r is not ref]
    limits = {
        name: _as_tolerance(name, value) for name, value in (tolerances or {}).items()
    }
    present = {n for r in records for n in r.metrics}
    # A blank or unprintable name (an older or edited record: run leaves them
    # out) could fail the verdict yet never be named in --metric or --tol: it
    # is left out.
    unnameable = sorted(n for n in present if not is_metric_name(n))
    present -= set(unnameable)
    # No names, like the manifest's metrics.compare [], means every metric.
    names = sorted(present) if not metrics else list(dict.fromkeys(metrics))
    environments = {r.run_id: environment_of(r) for r in records}
    nondeterminism = find_nondeterminism(records, environments, names)
    # A repeat whose repeats gave other values is no seed noise: its seed's
    # value is unknown, so the band leaves it out.
    unsteady = {
        (run_id, f.metric) for f in nondeterminism for run_id in f.disagreeing_repeats
    }
    bands, noise_notes = seed_noise_bands(records, names, unsteady)
    # A run off the sweep whose seed the reference lacks is measured by the
    # sweep's run of its seed; with no such run (or, for the reference itself,
    # when the sweep lacks its seed) it is judged on the sweep's seed band.
    partners = same_seed_partners(records, ref)
    measure = {r.run_id: partners.get(r.run_id, ref) for r in records}
    on_band = judged_on_a_band(records, ref, bands, partners)
    # A sweep run with another seed than the reference differs from it on
    # purpose: its numbers are the noise band, not a check that can fail;
    # unless another sweep's run of its seed measures it, or a band judges it.
    # A "sweep" of one seed here (`run --seeds 3`, or one run of a sweep given
    # alone) shows no noise at all: its run is judged as any run is. So is a
    # sweep of which fewer than two seeds succeeded: a failed run's numbers
    # measure nothing, so one value forms no band to call the rest noise by.
    seeds_of = succeeded_seeds(records)
    judged_apart = set(partners) | {run_id for run_id, _ in on_band}
    seed_noise = {
        r.run_id
        for r in others
        if is_other_seed_of_a_sweep(r, ref)
        and forms_a_band(seeds_of.get(str(r.options["seed_sweep"]), ()))
        and r.run_id not in judged_apart
    }
    results = []
    for run in records:
        for name in names:
            tolerance = limits.get(name, default_tolerance)
            if (run.run_id, name) in on_band:
                results.append(
                    judge_against_band(
                        run.run_id,
                        name,
                        run.metrics.get(name),
                        on_band[run.run_id, name],
                        tolerance=tolerance,
                        tolerance_given=name in limits,
                    )
                )
            # A metric neither this run nor its measure has says nothing
            # about this pair; it is only listed when no run at all has it.
            elif run is not ref and (
                name in (base := measure[run.run_id]).metrics
                or name in run.metrics
                or name not in present
            ):
                result = compare_metric(
                    run.run_id,
                    name,
                    base.metrics.get(name),
                    run.metrics.get(name),
                    reference_has=name in base.metrics,
                    run_has=name in run.metrics,
                    tolerance=tolerance,
                    tolerance_given=name in limits,
                )
                if base is not ref:
                    # Named where the reason names a side, else said after it.
                    named, reason = same_seed_run(base), result.reason
                    result = replace(
                        result,
                        compared_with=base.run_id,
                        reason=reason.replace("the reference run", named)
                        if "the reference run" in reason
                        else f"{reason}; against {named}",
                    )
                if run.run_id in seed_noise:
                    result = _as_seed_noise(result, run, ref)
                results.append(result)
    # A sweep run of another seed is noise only where its values are: one with
    # a metric NaN, infinite, missing or not a number was judged above as any
    # pair, and fails below when not finite: it is no longer noise as a whole.
    seed_noise = {
        run_id
        for run_id in seed_noise
        if all(r.seed_noise for r in results if r.run_id == run_id)
    }
    by_id = {r.run_id: r for r in records}
    missing = [
        missing_metric(
            r,
            measure[r.run_id].metrics.get(r.metric),
            by_id[r.run_id].metrics.get(r.metric),
            against=measure_name(measure[r.run_id], ref),
        )
        for r in results
        if r.missing
    ]
    results = [_overrule(r, by_id, measure, nondeterminism) for r in results]
    # A sweep seed whose metric is NaN or infinite fails, whatever the seed
    # it is set against holds: NaN in both runs is no cover for it.
    non_finite = non_finite_seeds(records, names, seeds_of)
    results = [fail_non_finite(r, by_id[r.run_id], non_finite) for r in results]
    # A repeat whose repeats differ was failed by _overrule: no noise either.
    seed_noise = {
        run_id
        for run_id in seed_noise
        if all(r.seed_noise for r in results if r.run_id == run_id)
    }
    cut_short = {r.run_id: facts_cut_short(r) for r in records}
    settings = {r.run_id: recorded_settings(r) for r in records}
    differences = [
        diff
        for run in others
        for diff in diff_environments(
            run.run_id,
            environments[measure[run.run_id].run_id],
            environments[run.run_id],
            cut_short=(cut_short[measure[run.run_id].run_id], cut_short[run.run_id]),
            settings=(settings[measure[run.run_id].run_id], settings[run.run_id]),
        )
    ]
    unrecorded = [
        found
        for run in records
        if (
            found := unrecorded_facts(
                run,
                environments[run.run_id],
                [
                    environments[r.run_id]
                    for r in (others if run is ref else [measure[run.run_id]])
                ],
            )
        )
    ]
    curves = [
        find_divergence(measure[run.run_id], run, epsilon=epsilon) for run in others
    ]
    noise_checks = check_against_noise(
        # A sweep run with another seed than the reference is seed noise
        # itself: set against another sweep's band, its delta to the reference
        # would read as a distance to that sweep. The reference judged on a
        # band is set against every seed there, not against the one sweep run
        # that shares no seed with it.
        [r for r in results if r.seed_band is None and not r.seed_noise],
        bands,
        records,
        ref,
    ) + [
        check_against_band(r, on_band[r.run_id, r.metric])
        for r in results
        if r.seed_band
    ]
    judged = [r for r in results if not r.seed_noise]
    if judged:
        metrics_ok = all(r.passed for r in judged)
    else:  # sweep runs only: the verdict is whether anything is beyond the noise
        metrics_ok = bool(results) and not any(c.beyond_noise for c in noise_checks)
    summaries = summarize_runs(
        records,
        ref,
        measure,
        results,
        missing,
        differences,
        seed_noise,
        names,
        environments,
        _unsteady_metrics(nondeterminism),
        {u.run_id for u in unrecorded},
        {
            run_id: band_differences(
                by_id[run_id], band, ref, environments, cut_short, settings
            )
            for (run_id, _), band in on_band.items()
        },
        non_finite,
    )
    # A run that failed may still have written metrics; they prove nothing.
    # Repeats (`run --repeat N`) exist to catch nondeterminism: where they
    # differ among themselves no tolerance lets them pass, in run as here.
    passed = (
        metrics_ok
        and all(r.status == SUCCEEDED for r in records)
        and not any(f.repeats_disagree for f in nondeterminism)
    )

    return Comparison(
        schema_version=COMPARISON_SCHEMA_VERSION,
        reference=ref.run_id,
        runs=tuple(summaries),
        metrics=tuple(names),
        values={
            r.run_id: {n: as_number(r.metrics.get(n)) for n in names} for r in records
        },
        results=tuple(results),
        default_tolerance=default_tolerance,
        epsilon=epsilon,
        history_metrics=tuple(history_metrics(records)),
        curves=tuple(curves),
        differences=tuple(differences),
        unrecorded=tuple(unrecorded),
        noise_bands=tuple(bands),
        noise_checks=tuple(noise_checks),
        nondeterminism=tuple(nondeterminism),
        missing_metrics=tuple(missing),
        notes=tuple(
            _notes(records, names, limits, default_tolerance, metrics_from)
            + [
                f"{name!r} is {metric_name_fault(name)}, which --metric "
                "and --tol cannot name: left out"
                for name in unnameable
            ]
            + noise_notes
        ),
        passed=passed,
    )


_LEFT_OUT = "left out of its noise band"


def left_out_of_band(result: MetricResult) -> bool:
    """Tell whether a row is a sweep seed's that failed, so no band holds it.

    Its numbers were set against no tolerance and no band: it fails for its
    run's status alone, which the verdict names, so no check count holds it.
    """
    return result.out_of_band


def _as_seed_noise(result: MetricResult, run: Record, ref: Record) -> MetricResult:
    """Mark a sweep run's result as seed noise, not judged (passed None).

    Only a difference of two finite numbers is noise. NaN, inf, a missing
    metric or one that is no number is kept as judged, as for any pair: a band
    that left the value out would let a sweep pass with a broken seed. A run
    that did not succeed is no noise either: the band leaves its numbers out,
    and its rows fail for its status, as its summary and the verdict say.
    """
    if exact_difference(result.value, result.reference_value) is None:
        return replace(
            result,
            reason=f"{result.reason}; seed {format_value(run.seed)} of the sweep",
        )
    if run.status != SUCCEEDED:
        why = has_status(run)
        return replace(
            result,
            passed=False,
            overruled=why,
            out_of_band=True,
            reason=f"seed {format_value(run.seed)} of the sweep, {_LEFT_OUT}; "
            f"but {why}: it cannot pass",
        )
    return replace(
        result,
        seed_noise=True,
        passed=None,
        reason=f"seed noise: seed {format_value(run.seed)} against "
        f"the reference's {format_value(ref.seed)}",
    )


def _overrule(
    result: MetricResult,
    by_id: Mapping[str, Record],
    measure: Mapping[str, Record],
    findings: Sequence[NondeterminismFinding],
) -> MetricResult:
    """Fail a check within tolerance whose pair cannot pass, saying why.

    A run of the pair (the run, or the run it is set against) that did not
    succeed proves nothing; a repeat (`run --repeat`) whose repeats on its
    engine gave other values shows nondeterminism, whatever the tolerance, and
    is no seed noise either (seed_noise false, as the band leaves it out). A
    check on a seed band has one run: the band holds only runs that succeeded.
    """
    if result.passed is False:
        return result
    unsteady = [
        f
        for f in findings
        if f.metric == result.metric and result.run_id in f.disagreeing_repeats
    ]
    if unsteady:
        runs = ", ".join(unsteady[0].disagreeing_repeats)
        why = (
            f"repeats of one setup ({runs}) gave different {result.metric}: "
            "nondeterminism"
        )
        if result.seed_noise:  # "seed noise: seed 1 against the reference's 0"
            seeds = result.reason.removeprefix("seed noise: ")
            reason = f"{seeds}, no seed noise: {why}"
        else:
            reason = f"{result.reason}; but {why}"
        return replace(
            result, passed=False, overruled=why, reason=reason, seed_noise=False
        )
    if result.passed is None:
        return result
    pair = [result.run_id]
    if result.seed_band is None:
        pair.append(measure[result.run_id].run_id)
    for run_id in pair:
        record = by_id[run_id]
        if record.status != SUCCEEDED:
            why = has_status(record)
            return replace(
                result,
                passed=False,
                overruled=why,
                reason=f"{result.reason}; but {why}: it cannot pass",
            )
    return result


def _unsteady_metrics(
    findings: Sequence[NondeterminismFinding],
) -> dict[str, list[str]]:
    """Map each repeat whose repeats gave other values to those metrics."""
    unsteady: dict[str, list[str]] = {}
    for finding in findings:
        for run_id in finding.disagreeing_repeats:
            unsteady.setdefault(run_id, []).append(finding.metric)
    return {run_id: sorted(set(metrics)) for run_id, metrics in unsteady.items()}


def exit_code(comparison: Comparison) -> int:
    """Return 0 when every run succeeded, every metric is within tolerance and
    no repeats of one setup gave different numbers."""
    return EXIT_OK if comparison.passed else EXIT_FAILED


def unsuccessful_runs(comparison: Comparison) -> list[RunSummary]:
    """Return the compared runs whose status is not succeeded, reference included."""
    return [run for run in comparison.runs if run.status != SUCCEEDED]


def status_problem(run: RunSummary) -> str:
    """Say why a run that did not succeed fails the comparison, in a few words."""
    return f"run {run.run_id} has status {status_with_exit(run.status, run.exit_code)}"


def reference_index(records: Sequence[Record], reference: int | str) -> int:
    """Resolve the reference run, given as a position or a run id."""
    if isinstance(reference, str):
        for index, record in enumerate(records):
            if record.run_id == reference:
                return index
        # A run folder or its record.json, as push, export and verify take.
        named = PurePath(reference)
        folder = named.parent if named.name == "record.json" else named
        for index, record in enumerate(records):
            if folder.name and record.run_id == folder.name:
                return index
        raise InputError(
            f"reference run {reference} is not among the given runs",
            hint="give a run id (its folder's name), its folder or record.json, "
            "or a position starting at 0",
        )
    if isinstance(reference, bool) or not -len(records) <= reference < len(records):
        raise InputError(
            f"reference position {reference} is out of range for {len(records)} runs",
            hint=f"give 0 to {len(records) - 1}",
        )
    return reference % len(records)


def _as_tolerance(name: str, value: Tolerance | Mapping[str, Any]) -> Tolerance:
    """Accept a Tolerance or a manifest-style {abs, rel} mapping."""
    if isinstance(value, Tolerance):
        return value
    if isinstance(value, Mapping) and set(value) <= {"abs", "rel"}:
        try:
            return Tolerance(abs=value.get("abs"), rel=value.get("rel"))
        except InputError as exc:
            raise InputError(
                f"tolerance for {name}: {exc.message.removeprefix('tolerance ')}",
                hint=exc.hint,
            ) from None
    raise InputError(
        f"tolerance for {name} must have only abs and/or rel, not {value!r}",
        hint='e.g. {"abs": 1e-6, "rel": 1e-3}',
    )


def nothing_to_check(names: Sequence[str]) -> str:
    """Say why no metric was checked at all, or return '' when some were."""
    return "" if names else "no run recorded any metric, so nothing was checked"


def _lock_of(record: Record) -> str | None:
    """Say what a running record's run lock tells (run_lock_state), where the
    record lies in a runs folder; None for a record anywhere else."""
    if record.status != "running" or record.path.name != "record.json":
        return None
    from reprobox.run_folders import RUN_ID, run_lock_state

    run_dir = record.path.parent
    if run_dir.name != record.run_id or not RUN_ID.fullmatch(record.run_id):
        return None
    return run_lock_state(run_dir.parent, record.run_id)


def _notes(records, names, limits, default_tolerance, metrics_from) -> list[str]:
    notes = []
    for record in records:
        if record.status != "succeeded":
            shown = status_said(
                record.status, recorded_exit_code(record), _lock_of(record)
            )
            notes.append(f"run {record.run_id} has status {shown}")
    projects = sorted({r.project for r in records})
    if len(projects) > 1:
        notes.append(
            "runs come from different projects: "
            + ", ".join(format_value(p) for p in projects)
        )
    if not names:
        notes.append(f"{nothing_to_check(names)}: the verdict is a failure")
    defaulted = [n for n in names if n not in limits]
    if defaulted:
        notes.append(
            f"no tolerance given for {', '.join(defaulted)}: "
            f"{default_tolerance.describe()} (default)"
        )
    unused = sorted(set(limits) - set(names))
    # A metric the runs recorded was left out on purpose: say by what.
    recorded = {n for r in records for n in r.metrics}
    left_out = [n for n in unused if n in recorded]
    if left_out:
        them = "it" if len(left_out) == 1 else "them"
        notes.append(
            f"tolerance given for {', '.join(left_out)}, but {metrics_from} "
            f"leaves {them} out, so no run compared {them}"
        )
    unknown = [n for n in unused if n not in recorded]
    if unknown:
        notes.append(
            f"tolerance given for metrics no run compared: {', '.join(unknown)}"
        )
    return notes
