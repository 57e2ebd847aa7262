"""Judge runs off a seed sweep on its seed band: which runs, and their verdict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from reprobox.compare.environment import hidden_caveat
from reprobox.compare.headlines import (
    SUCCEEDED,
    RunSummary,
    exit_fields,
    named_difference,
    status_note,
)
from reprobox.compare.noise import NoiseBand
from reprobox.compare.records import Record


def judged_on_a_band(
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


def is_other_seed_of_a_sweep(record: Record, ref: Record) -> bool:
    """Tell whether record is a seed-sweep run whose seed is not the reference's."""
    if record.options.get("seed_sweep") is None:
        return False
    return json.dumps(record.seed) != json.dumps(ref.seed)


def band_summary(
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
            headline += f"; most likely cause: {named_difference(suspect)}"
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
        headline=prefix + headline + status_note(record, "it cannot pass"),
        judged_on_band=True,
        hidden_env=hidden,
        **exit_fields(record),
    )
