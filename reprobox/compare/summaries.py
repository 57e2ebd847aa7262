"""Write each compared run's summary: its verdict, headline and likely cause."""

from __future__ import annotations

from reprobox.compare.environment import EnvDifference, hidden_env
from reprobox.compare.headlines import (
    SUCCEEDED,
    RunSummary,
    exit_fields,
    nothing_compared,
    recorded_exit_code,
    run_headline,
    status_note,
    status_with_exit,
    unrecorded_note,
)
from reprobox.compare.metrics import MetricResult, MissingMetric
from reprobox.compare.seed_band import (
    band_summary,
    measure_name,
    non_finite_note,
    same_seed_run,
)


def summarize_runs(
    records,
    ref,
    measure,
    results,
    missing,
    differences,
    seed_noise,
    names,
    environments,
    unsteady,
    unrecorded,
    band_setups,
    non_finite=None,
) -> list[RunSummary]:
    """Write each run's verdict and, where metrics differ, the likely cause.

    measure: run id -> the run it is set against (the reference, or the sweep
    run of its seed). unrecorded: the runs that stopped before their machine
    facts were gathered; where nothing recorded differs, no cause can be named.
    unsteady: the repeats of one setup that gave different numbers, each with
    the metrics they differ in.
    band_setups: run id -> its setup differences to the machine of the band
    it is judged on, for the runs judged on a band.
    non_finite: sweep run id -> its metrics that are NaN or infinite (shown as
    the record writes them), which fail it, the reference included.
    """
    non_finite = non_finite or {}
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
        base = measure[record.run_id]
        hidden = hidden_env(environments[base.run_id], environments[record.run_id])
        named = measure_name(base, ref)
        gap = unrecorded_note(record, base, unrecorded, named)
        if banded:
            summaries.append(
                band_summary(
                    record,
                    results_of[record.run_id],
                    missing_of.get(record.run_id, []),
                    band_setups[record.run_id],
                    record is ref,
                    hidden,
                    gap,
                    _unsteady_note(unsteady.get(record.run_id)),
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
                    # A reference that failed, or a repeat whose repeats gave
                    # other numbers, holds the others to nothing sure; a sweep
                    # seed of it that is not finite fails as any seed's does.
                    passed=record.status == SUCCEEDED
                    and record.run_id not in unsteady
                    and record.run_id not in non_finite,
                    metrics_differ=False,
                    seed_noise=False,
                    likely_cause=None,
                    headline="reference run"
                    + _non_finite_part(record, non_finite)
                    + status_note(record, "its metrics prove nothing")
                    + _unsteady_note(unsteady.get(record.run_id)),
                    hidden_env=hidden,
                    **exit_fields(record),
                )
            )
            continue
        own = results_of.get(record.run_id, [])
        # A sweep seed's metric that is not finite is said on its own: it is
        # neither a setup difference's doing nor nondeterminism.
        broken = non_finite.get(record.run_id, {})
        shown_own = [r for r in own if r.metric not in broken]
        # A metric one side lacks is not a change in value: it neither makes
        # the metrics differ nor points at a setup difference or nondeterminism.
        changed = [r for r in shown_own if not r.identical and not r.missing]
        suspect = suspects.get(record.run_id)
        # Said first, as every value and difference of it is that run's.
        against = f"against {same_seed_run(base)}: " if base is not ref else ""
        summaries.append(
            RunSummary(
                run_id=record.run_id,
                is_reference=False,
                status=record.status,
                seed=record.seed,
                passed=_run_passed(
                    record,
                    own,
                    record.run_id in seed_noise,
                    record.run_id in unsteady,
                ),
                # A metric NaN or infinite where its seed's run is finite
                # differs too: its setup difference may explain it.
                metrics_differ=bool(changed or broken),
                seed_noise=record.run_id in seed_noise,
                likely_cause=(
                    suspect.field if (suspect and (changed or broken)) else None
                ),
                headline=against
                + (
                    _non_finite_part(record, non_finite).removeprefix("; ")
                    + ("; " if shown_own else "")
                    if broken
                    else ""
                )
                + (
                    run_headline(
                        record,
                        shown_own,
                        changed,
                        missing_of.get(record.run_id, []),
                        suspect,
                        hidden,
                        gap,
                        others=bool(broken),
                    )
                    if shown_own
                    else ""
                    if broken
                    else nothing_compared(names, named)
                    + status_note(record, "it cannot pass")
                )
                + _failed_measure_note(record, base, ref, own)
                + _unsteady_note(unsteady.get(record.run_id)),
                hidden_env=hidden,
                compared_with=base.run_id if base is not ref else None,
                **exit_fields(record),
            )
        )
    return summaries


def _failed_measure_note(record, base, ref, own: list[MetricResult]) -> str:
    """Say why a run that succeeded fails when the run it is set against did not.

    Its checks within tolerance are overruled (their values prove nothing
    against a failed run); without this its line read 'metrics identical'
    beside FAIL. A run with a check out of tolerance says that already.
    """
    if record.status != SUCCEEDED or base.status == SUCCEEDED:
        return ""
    # A metric the failed run never wrote is its failure too: still said.
    if any(r.passed is False and not r.overruled and not r.missing for r in own):
        return ""
    shown = status_with_exit(base.status, recorded_exit_code(base))
    which = "the reference run" if base is ref else "the run it is set against"
    return f"; but {which} {base.run_id} has status {shown}: it cannot pass"


def _non_finite_part(record, non_finite) -> str:
    """Say which of a sweep seed's metrics are not finite, failing it, or ''."""
    shown = non_finite.get(record.run_id)
    return f"; {non_finite_note(record, shown)}" if shown else ""


def _unsteady_note(metrics: list[str] | None) -> str:
    """Say why a repeat fails whose repeats gave other numbers, or ''."""
    if not metrics:
        return ""
    return f"; its repeats gave different {', '.join(metrics)}: nondeterminism"


def _run_passed(
    record, own: list[MetricResult], noise: bool, unsteady: bool
) -> bool | None:
    """Judge a run other than the reference: None for seed noise, never judged.

    A run with no metric checked has shown nothing to agree on; a run that did
    not succeed fails, and so does a repeat whose repeats gave other numbers,
    a sweep run of another seed included.
    """
    if record.status != SUCCEEDED or unsteady:
        return False
    if noise:
        return None
    return bool(own) and all(r.passed for r in own if not r.seed_noise)
