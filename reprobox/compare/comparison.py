"""Set run records side by side: metrics, curves, setups, noise and repeats."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reprobox.compare.environment import (
    EnvDifference,
    UnrecordedFacts,
    diff_environments,
    environment_of,
    facts_cut_short,
    hidden_caveat,
    hidden_env,
    unrecorded_facts,
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
    judge_against_band,
    seed_noise_bands,
)
from reprobox.compare.records import Record, as_number, short_repr
from reprobox.errors import EXIT_FAILED, EXIT_OK, InputError

COMPARISON_SCHEMA_VERSION = 1
SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class RunSummary:
    """One run's place in the comparison and its one-line verdict."""

    run_id: str
    is_reference: bool
    status: str
    seed: Any
    passed: bool
    metrics_differ: bool
    seed_noise: bool  # a sweep run with another seed: it measures noise, not judged
    likely_cause: str | None  # the field most likely to explain the difference
    headline: str
    # Judged on a sweep's seed band, not against the reference (which it may be).
    judged_on_band: bool = False
    # --env variables this run or the reference keeps only as ***: equal in the
    # records, their values may have differed.
    hidden_env: tuple[str, ...] = ()


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
) -> Comparison:
    """Compare every run with the reference run; pure, reads nothing from disk."""
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
    ref = records[_reference_index(records, reference)]
    others = [r for r in records if r is not ref]
    limits = {
        name: _as_tolerance(name, value) for name, value in (tolerances or {}).items()
    }
    present = {n for r in records for n in r.metrics}
    # No names, like the manifest's metrics.compare [], means every metric.
    names = sorted(present) if not metrics else list(dict.fromkeys(metrics))
    bands, noise_notes = seed_noise_bands(records, names)
    # A run off the sweep whose seed the reference lacks (or, for the reference
    # itself, the sweep lacks) has no same-seed run to match: it is judged on
    # the sweep's seed band, as the other machine's run beside a sweep.
    on_band = _judged_on_a_band(records, ref, bands)
    # A sweep run with another seed than the reference differs from it on
    # purpose: its numbers are the noise band, not a check that can fail.
    seed_noise = {r.run_id for r in others if _is_other_seed_of_a_sweep(r, ref)}
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
            # A metric neither this run nor the reference has says nothing
            # about this pair; it is only listed when no run at all has it.
            elif run is not ref and (
                name in ref.metrics or name in run.metrics or name not in present
            ):
                result = compare_metric(
                    run.run_id,
                    name,
                    ref.metrics.get(name),
                    run.metrics.get(name),
                    reference_has=name in ref.metrics,
                    run_has=name in run.metrics,
                    tolerance=tolerance,
                    tolerance_given=name in limits,
                )
                if run.run_id in seed_noise:
                    result = replace(
                        result,
                        seed_noise=True,
                        reason=f"seed noise: seed {format_value(run.seed)} against "
                        f"the reference's {format_value(ref.seed)}",
                    )
                results.append(result)
    by_id = {r.run_id: r for r in records}
    missing = [
        missing_metric(
            r, ref.metrics.get(r.metric), by_id[r.run_id].metrics.get(r.metric)
        )
        for r in results
        if r.missing
    ]
    environments = {r.run_id: environment_of(r) for r in records}
    cut_short = {r.run_id: facts_cut_short(r) for r in records}
    differences = [
        diff
        for run in others
        for diff in diff_environments(
            run.run_id,
            environments[ref.run_id],
            environments[run.run_id],
            cut_short=(cut_short[ref.run_id], cut_short[run.run_id]),
        )
    ]
    unrecorded = [
        found
        for run in records
        if (
            found := unrecorded_facts(
                run,
                environments[run.run_id],
                [environments[r.run_id] for r in (others if run is ref else [ref])],
            )
        )
    ]
    curves = [find_divergence(ref, run, epsilon=epsilon) for run in others]
    noise_checks = check_against_noise(
        # The reference judged on a band is set against every seed there, not
        # against the one sweep run that shares no seed with it.
        [
            r
            for r in results
            if r.seed_band is None
            and not (r.seed_noise and (ref.run_id, r.metric) in on_band)
        ],
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
    summaries = _summaries(
        records,
        ref,
        results,
        missing,
        differences,
        seed_noise,
        names,
        environments,
        {u.run_id for u in unrecorded},
    )
    # A run that failed may still have written metrics; they prove nothing.
    passed = metrics_ok and all(r.status == SUCCEEDED for r in records)

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
        nondeterminism=tuple(find_nondeterminism(records, environments, names)),
        missing_metrics=tuple(missing),
        notes=tuple(_notes(records, names, limits, default_tolerance) + noise_notes),
        passed=passed,
    )


def exit_code(comparison: Comparison) -> int:
    """Return 0 when every run succeeded and every metric is within tolerance."""
    return EXIT_OK if comparison.passed else EXIT_FAILED


def unsuccessful_runs(comparison: Comparison) -> list[RunSummary]:
    """Return the compared runs whose status is not succeeded, reference included."""
    return [run for run in comparison.runs if run.status != SUCCEEDED]


def status_problem(run: RunSummary) -> str:
    """Say why a run that did not succeed fails the comparison, in a few words."""
    return f"run {run.run_id} has status {run.status or 'unknown'}"


def _reference_index(records: Sequence[Record], reference: int | str) -> int:
    """Resolve the reference run, given as a position or a run id."""
    if isinstance(reference, str):
        for index, record in enumerate(records):
            if record.run_id == reference:
                return index
        raise InputError(
            f"reference run {reference} is not among the given runs",
            hint="give a run id from the records, or a position starting at 0",
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


def _judged_on_a_band(
    records: Sequence[Record], ref: Record, bands: Sequence[NoiseBand]
) -> dict[tuple[str, str], NoiseBand]:
    """Map (run, metric) to the band it is judged on, for runs off every sweep.

    Such a run is judged on a band when no same-seed run can be its measure:
    a run other than the reference whose seed is not the reference's, or the
    reference itself when its seed is not in the sweep. The reference's own
    sweep's band is taken where it has one, else the first.
    """
    seeds_of: dict[str, set[str]] = {}
    for record in records:
        sweep = record.options.get("seed_sweep")
        if sweep is not None:
            seeds_of.setdefault(str(sweep), set()).add(json.dumps(record.seed))
    ref_sweep = ref.options.get("seed_sweep")
    band_of: dict[str, NoiseBand] = {}
    for band in bands:
        if band.metric not in band_of or band.sweep == str(ref_sweep):
            band_of[band.metric] = band
    chosen = {}
    for record in records:
        if record.options.get("seed_sweep") is not None:
            continue
        for metric, band in band_of.items():
            seed = json.dumps(record.seed)
            if metric not in record.metrics or (
                seed in seeds_of[band.sweep]
                if record is ref
                else seed == json.dumps(ref.seed)
            ):
                continue
            chosen[record.run_id, metric] = band
    return chosen


def _is_other_seed_of_a_sweep(record: Record, ref: Record) -> bool:
    """Tell whether record is a seed-sweep run whose seed is not the reference's."""
    if record.options.get("seed_sweep") is None:
        return False
    return json.dumps(record.seed) != json.dumps(ref.seed)


def _summaries(
    records,
    ref,
    results,
    missing,
    differences,
    seed_noise,
    names,
    environments,
    unrecorded,
) -> list[RunSummary]:
    """Write each run's verdict and, where metrics differ, the likely cause.

    unrecorded: the runs that stopped before their machine facts were
    gathered; where nothing recorded differs, no cause can be named for them.
    """
    results_of: dict[str, list[MetricResult]] = {}
    for result in results:
        results_of.setdefault(result.run_id, []).append(result)
    missing_of: dict[str, list[MissingMetric]] = {}
    for gap in missing:
        missing_of.setdefault(gap.run_id, []).append(gap)
    suspects: dict[str, EnvDifference] = {}
    for diff in differences:
        if diff.changes_numerics:
            suspects.setdefault(diff.run_id, diff)

    summaries = []
    for record in records:
        banded = [r for r in results_of.get(record.run_id, []) if r.seed_band]
        hidden = hidden_env(environments[ref.run_id], environments[record.run_id])
        gap = _unrecorded_note(record, ref, unrecorded)
        if banded:
            summaries.append(
                _band_summary(
                    record, ref, banded, differences, record is ref, hidden, gap
                )
            )
            continue
        if record is ref:
            summaries.append(
                RunSummary(
                    run_id=record.run_id,
                    is_reference=True,
                    status=record.status,
                    seed=record.seed,
                    passed=True,
                    metrics_differ=False,
                    seed_noise=False,
                    likely_cause=None,
                    headline="reference run"
                    + _status_note(record.status, "its metrics prove nothing"),
                    hidden_env=hidden,
                )
            )
            continue
        own = results_of.get(record.run_id, [])
        # A metric one side lacks is not a change in value: it neither makes
        # the metrics differ nor points at a setup difference or nondeterminism.
        changed = [r for r in own if not r.identical and not r.missing]
        suspect = suspects.get(record.run_id)
        summaries.append(
            RunSummary(
                run_id=record.run_id,
                is_reference=False,
                status=record.status,
                seed=record.seed,
                # A run with no metric checked has shown nothing to agree on.
                passed=bool(own)
                and all(r.passed for r in own)
                and record.status == SUCCEEDED,
                metrics_differ=bool(changed),
                seed_noise=record.run_id in seed_noise,
                likely_cause=suspect.field if (suspect and changed) else None,
                headline=_run_headline(
                    record,
                    own,
                    changed,
                    missing_of.get(record.run_id, []),
                    suspect,
                    hidden,
                    gap,
                )
                if own
                else (
                    _nothing_compared(names)
                    + _status_note(record.status, "it cannot pass")
                ),
                hidden_env=hidden,
            )
        )
    return summaries


def _band_summary(
    record, ref, banded, differences, is_reference, hidden=(), unrecorded=""
) -> RunSummary:
    """Judge a run on the sweep's seed band, naming the machine difference."""
    failed = [r for r in banded if not r.passed]
    # The band spans the seeds, so the seed is no cause; for the reference the
    # differences were taken the other way round (its value first).
    theirs = [
        d
        for d in differences
        if d.changes_numerics
        and d.category != "seed"
        and (d.run_id == record.run_id or (is_reference and d.run_id != ref.run_id))
    ]
    suspect = theirs[0] if theirs else None
    if suspect is not None and is_reference:
        suspect = replace(
            suspect,
            reference_value=suspect.run_value,
            run_value=suspect.reference_value,
        )
    names = ", ".join(r.metric for r in (failed or banded))
    if failed:
        headline = f"{names} outside the seed band widened by tolerance"
        if suspect:
            headline += f"; most likely cause: {_named(suspect)}"
        elif unrecorded:
            headline += f"; {unrecorded}"
        else:
            headline += (
                "; no numerics-relevant setup difference besides the seed"
                + hidden_caveat(hidden)
            )
    else:
        headline = f"{names} within the seed band widened by tolerance"
    prefix = "reference run; " if is_reference else ""
    return RunSummary(
        run_id=record.run_id,
        is_reference=is_reference,
        status=record.status,
        seed=record.seed,
        passed=not failed and record.status == SUCCEEDED,
        metrics_differ=bool(failed),
        seed_noise=False,
        likely_cause=suspect.field if (suspect and failed) else None,
        headline=prefix + headline + _status_note(record.status, "it cannot pass"),
        judged_on_band=True,
        hidden_env=hidden,
    )


def _named(suspect: EnvDifference) -> str:
    """Name a setup difference with its values, e.g. 'seed 42 -> 7'."""
    # The field alone when it says the kind already: "seed 42 -> 7", not
    # "seed seed 42 -> 7"; "packages tensorflow 2.20 -> 2.21" keeps both.
    named = (
        suspect.field
        if suspect.field.split(".")[0] == suspect.category
        else f"{suspect.category} {suspect.field}"
    )
    return (
        f"{named} {format_value(suspect.reference_value)} -> "
        f"{format_value(suspect.run_value)}"
    )


def _run_headline(
    record: Record,
    own: list[MetricResult],
    changed: list[MetricResult],
    missing: list[MissingMetric],
    suspect: EnvDifference | None,
    hidden: tuple[str, ...] = (),
    unrecorded: str = "",
) -> str:
    """Write one run's summary from its checks, its gaps and its status."""
    succeeded = record.status == SUCCEEDED
    if not succeeded and all(r.missing in ("run", "both") for r in own):
        # It stopped before recording any metric compared: the failure is the
        # finding, and there is nothing to measure against the reference.
        return f"{_ended(record)} and has no metrics to compare: " + (
            "its failure is the finding"
            if record.status == "failed"
            else "it cannot pass"
        )
    parts = []
    if len(missing) < len(own):  # some metric both sides have was compared
        parts.append(
            _headline(
                changed,
                suspect,
                shared=bool(missing),
                ran=succeeded,
                hidden=hidden,
                unrecorded=unrecorded,
            )
        )
    shown = [f"{m.metric} {m.reason}" for m in missing[:3]]
    parts += shown + ([f"and {len(missing) - 3} more"] if len(missing) > 3 else [])
    return "; ".join(parts) + _status_note(record.status, "it cannot pass")


def _ended(record: Record) -> str:
    """Say how a run that did not succeed ended, e.g. 'failed (exit code 1)'."""
    code = record.data.get("exit_code")
    shown = f" (exit code {code})" if type(code) is int else ""
    if record.status in ("failed", "interrupted"):
        return record.status + shown
    return f"status {record.status or 'unknown'}{shown}"


def _unrecorded_note(record: Record, ref: Record, unrecorded: set[str]) -> str:
    """Say that no cause can be named as a side's machine facts are missing, or ''."""
    who = [
        name
        for name, run in (("this run", record), ("the reference", ref))
        if run.run_id in unrecorded and not (name == "the reference" and run is record)
    ]
    if not who:
        return ""
    their = "their" if len(who) > 1 else "its"
    return (
        f"no cause can be named: {' and '.join(who)} stopped before {their} "
        "machine facts were recorded"
    )


def _status_note(status: str, consequence: str) -> str:
    """Return a headline suffix for a run that did not succeed, else ''."""
    if status == SUCCEEDED:
        return ""
    return f"; but status {status or 'unknown'}: {consequence}"


def nothing_to_check(names: Sequence[str]) -> str:
    """Say why no metric was checked at all, or return '' when some were."""
    return "" if names else "no run recorded any metric, so nothing was checked"


def _nothing_compared(names: Sequence[str]) -> str:
    """Say why a run has no metric checked against the reference."""
    if not names:
        return "nothing compared: no run recorded any metric"
    return f"nothing compared: neither it nor the reference has {', '.join(names)}"


def _headline(
    changed: list[MetricResult],
    suspect: EnvDifference | None,
    *,
    shared: bool = False,
    ran: bool = True,
    hidden: tuple[str, ...] = (),
    unrecorded: str = "",
) -> str:
    """Say how the metrics both runs have compare, and what may explain a change.

    shared: some metric is missing on one side, so 'identical' covers only the
    metrics both have. ran: the run succeeded; a run that did not is no
    evidence of nondeterminism, since it may have stopped anywhere. hidden:
    --env variables kept as ***, whose values may have differed unseen.
    unrecorded: says whose machine facts were never gathered, when a side's
    were not: with nothing recorded differing, the cause is then unknown.
    """
    if not changed:
        suffix = " despite setup differences" if suspect else ""
        return f"{'shared ' if shared else ''}metrics identical{suffix}"
    shown = ", ".join(
        f"{r.metric} {r.delta:+.3g}"
        if r.delta is not None
        else f"{r.metric} ({r.reason})"
        for r in changed[:3]
    ) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    if suspect is None and unrecorded:
        return f"metrics differ ({shown}); {unrecorded}"
    if suspect is None and not ran:
        return f"metrics differ ({shown})"
    if suspect is None:
        return (
            f"metrics differ ({shown}) with no numerics-relevant setup difference: "
            "nondeterminism (e.g. an unseeded shuffle or racing ops)"
            + hidden_caveat(hidden)
        )
    return f"metrics differ ({shown}); most likely cause: {_named(suspect)}"


def _notes(records, names, limits, default_tolerance) -> list[str]:
    notes = []
    for record in records:
        if record.status != "succeeded":
            notes.append(f"run {record.run_id} has status {record.status or 'unknown'}")
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
    unknown = sorted(set(limits) - set(names))
    if unknown:
        notes.append(
            f"tolerance given for metrics no run compared: {', '.join(unknown)}"
        )
    return notes


VALUE_CHARS = 200  # a setup value longer than this is cut in text and tables


def format_value(value: Any) -> str:
    """Show a setup value in one short line: lists joined, absent as 'unset'."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and len(str(abs(value))) > 20:
        return short_repr(value)
    if isinstance(value, (list, tuple)):
        text = " ".join(str(v) for v in value) or "(none)"
    else:
        text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "\u2026"
