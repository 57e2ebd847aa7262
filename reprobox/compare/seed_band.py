"""Judge runs off a seed sweep: against its run of their seed, else on its band."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from reprobox.compare.environment import hidden_caveat
from reprobox.compare.headlines import (
    SUCCEEDED,
    RunSummary,
    exit_fields,
    format_value,
    named_difference,
    status_note,
)
from reprobox.compare.noise import NoiseBand
from reprobox.compare.records import Record


def same_seed_partners(records: Sequence[Record], ref: Record) -> dict[str, Record]:
    """Map each run off every sweep to the sweep run it is set against, if any.

    A run whose seed the reference lacks but a sweep holds is measured by the
    sweep's run of that seed, exactly as the reference would measure it: its
    seed band would let through a change the same seed shows, and the verdict
    would hang on which run is the reference. The reference's own sweep is
    taken where it holds the seed, else the first sweep (by id) that does.
    """
    ref_sweep = str(ref.options.get("seed_sweep"))
    held: dict[tuple[str, str], Record] = {}  # (sweep, seed) -> its first run
    for record in records:
        sweep = record.options.get("seed_sweep")
        if sweep is not None:
            held.setdefault((str(sweep), json.dumps(record.seed)), record)
    sweeps = sorted({sweep for sweep, _ in held}, key=lambda s: (s != ref_sweep, s))
    partners = {}
    for record in records:
        seed = json.dumps(record.seed)
        if (
            record is ref
            or record.options.get("seed_sweep") is not None
            or seed == json.dumps(ref.seed)
        ):
            continue
        for sweep in sweeps:
            if (sweep, seed) in held:
                partners[record.run_id] = held[sweep, seed]
                break
    return partners


def same_seed_run(partner: Record) -> str:
    """Name the sweep run that measures a run of its seed: 'sweep run X (seed 1)'."""
    return f"sweep run {partner.run_id} (seed {format_value(partner.seed)})"


def judged_on_a_band(
    records: Sequence[Record],
    ref: Record,
    bands: Sequence[NoiseBand],
    partners: Mapping[str, Record],
) -> dict[tuple[str, str], NoiseBand]:
    """Map (run, metric) to the band it is judged on, for runs off every sweep.

    Such a run is judged on a band when no same-seed run can be its measure:
    a run other than the reference whose seed neither the reference nor any
    sweep holds (partners: those a sweep run of their seed measures), or the
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
        if record.options.get("seed_sweep") is not None or record.run_id in partners:
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
