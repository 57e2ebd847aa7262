"""Another machine's run beside a seed sweep: same seed against that seed's run."""

import json
import math

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import (
    Tolerance,
    compare_runs,
    render_json,
    render_markdown,
    render_text,
)

ENGINE2 = "unix:///run/reprobox-engine2/docker.sock"
TOLERANCE = {"acc": Tolerance(abs=0.0005)}


def sweep_and_machine(seed, bump):
    """A sweep (seeds 0-2, acc 0.9 + seed/1000) and another engine's run with BUMP.

    Like a train.py writing acc = 0.9 + seed * 0.001 + BUMP, run with
    `--seeds 0-2`, then with `--seed SEED -e BUMP=...` on a second engine.
    """
    base = make_record("S0", metrics={"acc": 0.9})
    runs = [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw1",
            metrics={"acc": 0.9 + i * 0.001},
            machine__env__PYTHONHASHSEED=str(i),
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i in range(3)
    ]
    machine = clone(
        base,
        "M",
        seed=seed,
        engine__host=ENGINE2,
        options__env={"BUMP": str(bump)},
        machine__env__PYTHONHASHSEED=str(seed),
        metrics={"acc": 0.9 + seed * 0.001 + bump},
        started_at="2024-01-01T00:01:00Z",
    )
    return [*runs, machine]


@pytest.mark.parametrize(
    ("seed", "bump"),
    [(1, 0.0008), (2, -0.0015)],  # both inside the band [0.9, 0.902]
)
@pytest.mark.parametrize("reference", ["S0", "S1", "S2", "M"])
def test_a_seed_of_the_sweep_fails_whichever_run_is_the_reference(
    seed, bump, reference
):
    # It passed "within the seed band" unless the sweep's run of its seed
    # was made the reference: the band hid a change the same seed shows.
    records = sweep_and_machine(seed, bump)
    comparison = compare_runs(records, reference=reference, tolerances=TOLERANCE)

    assert not comparison.passed
    [judged] = [r for r in comparison.results if not r.seed_noise]
    assert judged.seed_band is None and not judged.passed
    assert judged.delta == pytest.approx(bump if reference != "M" else -bump)
    assert {judged.run_id, judged.compared_with or reference} == {"M", f"S{seed}"}
    assert not any(run.judged_on_band for run in comparison.runs)


def test_the_machine_run_is_measured_by_the_sweep_run_of_its_seed():
    comparison = compare_runs(sweep_and_machine(1, 0.0008), tolerances=TOLERANCE)

    assert comparison.reference == "S0"
    [machine] = [r for r in comparison.runs if r.run_id == "M"]
    assert (machine.passed, machine.compared_with, machine.likely_cause) == (
        False,
        "S1",
        "options.env.BUMP",
    )
    assert machine.headline == (
        "against sweep run S1 (seed 1): metrics differ (acc +0.0008); most likely "
        "cause: env options.env.BUMP unset -> 0.0008"
    )
    [result] = [r for r in comparison.results if r.run_id == "M"]
    assert (result.value, result.reference_value) == (0.9 + 0.001 + 0.0008, 0.901)
    assert result.reason == (
        "out of tolerance (abs 0.0005); against sweep run S1 (seed 1)"
    )
    # Its setup is set against S1's too: the seed is no difference, BUMP is.
    assert [(d.field, d.reference_value) for d in comparison.differences
            if d.run_id == "M"] == [
        ("options.env.BUMP", None),
        ("engine.host", "unix:///run/docker.sock"),
    ]  # fmt: skip
    [curve] = [d for d in comparison.curves if d.run_id == "M"]
    assert curve.identical


def test_a_same_seed_run_within_tolerance_passes_whichever_run_is_the_reference():
    records = sweep_and_machine(1, 0.0004)
    for reference in ("S0", "S1", "S2", "M"):
        comparison = compare_runs(records, reference=reference, tolerances=TOLERANCE)
        assert comparison.passed, reference


def test_a_seed_the_sweep_lacks_is_still_judged_on_the_band():
    comparison = compare_runs(sweep_and_machine(7, 0.0), tolerances=TOLERANCE)

    [machine] = [r for r in comparison.runs if r.run_id == "M"]
    assert machine.judged_on_band and machine.compared_with is None
    [result] = [r for r in comparison.results if r.run_id == "M"]
    assert result.seed_band == (0.9, 0.902)


def test_the_same_seed_run_is_named_in_text_markdown_and_json():
    comparison = compare_runs(sweep_and_machine(1, 0.0008), tolerances=TOLERANCE)

    text = render_text(comparison)
    assert "verdict: FAIL (1 of 1 metric checks out of tolerance)" in text
    assert "  M    acc     0.9018  0.901 (S1)  +0.0008" in text
    assert "  *  M (vs S1)  options.env.BUMP" in text
    md = render_markdown(comparison)
    assert "| M | acc | 0.9018 | 0.901 (S1) | +0.0008 |" in md
    data = json.loads(render_json(comparison))
    [run] = [r for r in data["runs"] if r["run_id"] == "M"]
    assert (run["compared_with"], run["judged_on_band"], run["passed"]) == (
        "S1",
        False,
        False,
    )
    [result] = [r for r in data["results"] if r["run_id"] == "M"]
    assert (result["compared_with"], result["reference_value"]) == ("S1", 0.901)
    assert [r["compared_with"] for r in data["results"] if r["run_id"] != "M"] == [
        None,
        None,
    ]


def test_the_reference_sweep_run_of_the_seed_is_taken_over_another_sweep():
    first = sweep_and_machine(1, 0.0)
    second = [
        clone(run, "B" + run.run_id, options__seed_sweep="sw0") for run in first[:3]
    ]
    records = [*first, *second]
    for reference, partner in (("S0", "S1"), ("BS0", "BS1"), ("S2", "S1")):
        comparison = compare_runs(records, reference=reference, tolerances=TOLERANCE)
        [machine] = [r for r in comparison.runs if r.run_id == "M"]
        assert machine.compared_with == partner, reference
    # Neither sweep the reference's: the first by id.
    outside = clone(first[0], "R", seed=2, options__seed_sweep=None)
    comparison = compare_runs([outside, *records], tolerances=TOLERANCE)
    [machine] = [r for r in comparison.runs if r.run_id == "M"]
    assert machine.compared_with == "BS1"


def test_a_metric_the_same_seed_run_lacks_names_that_run():
    records = sweep_and_machine(1, 0.0)
    records[-1] = clone(records[-1], "M", metrics={"acc": 0.901, "f1": 0.5})
    comparison = compare_runs(records, tolerances=TOLERANCE)

    [gap] = comparison.missing_metrics
    assert (gap.run_id, gap.missing_in, gap.reason) == (
        "M",
        "reference",
        "only in this run (0.5), not in sweep run S1 (seed 1)",
    )
    [f1] = [r for r in comparison.results if r.metric == "f1"]
    assert f1.reason == "missing in sweep run S1 (seed 1)"
    [machine] = [r for r in comparison.runs if r.run_id == "M"]
    assert machine.headline == (
        "against sweep run S1 (seed 1): shared metrics identical despite setup "
        "differences; f1 only in this "
        "run (0.5), not in sweep run S1 (seed 1)"
    )


def test_a_same_seed_run_cut_short_measures_no_other_run():
    # S1 was interrupted before its machine facts were gathered: its metrics
    # prove nothing, so M (of seed 1) is not set against it (round 34, AS 13:
    # a failed sweep run measured another machine's run of its seed) but
    # judged on the band of the runs that succeeded.
    records = sweep_and_machine(1, 0.0008)
    records[1] = clone(records[1], "S1", status="interrupted", exit_code=None,
                       machine=None)  # fmt: skip
    records[-1] = clone(records[-1], "M", options__env={})
    comparison = compare_runs(records, tolerances=TOLERANCE)

    [machine] = [r for r in comparison.runs if r.run_id == "M"]
    assert machine.compared_with is None
    assert machine.headline == "acc within the seed band widened by tolerance"
    assert not comparison.passed  # S1 itself cannot pass


def test_a_band_edge_grants_no_rounding_slack():
    # round 33 item 1: a run 2 ulp outside the band [1.0, 1.0] passed abs 1e-30.
    base = make_record("S0", metrics={"acc": 1.0})
    runs = [
        clone(base, f"S{i}", seed=i, options__seed_sweep="sw1", metrics={"acc": 1.0})
        for i in range(2)
    ]
    above = math.nextafter(math.nextafter(1.0, 2), 2)
    lone = clone(base, "L", seed=7, engine__host=ENGINE2, metrics={"acc": above})
    for tolerance in (Tolerance(abs=1e-30), Tolerance(rel=1e-30), Tolerance(abs=0)):
        comparison = compare_runs(
            [*runs, lone], reference="S0", tolerances={"acc": tolerance}
        )
        [judged] = [r for r in comparison.results if r.run_id == "L"]
        assert judged.seed_band == (1.0, 1.0)
        assert not judged.passed and not comparison.passed
    comparison = compare_runs(
        [*runs, lone], reference="S0", tolerances={"acc": Tolerance(abs=4.5e-16)}
    )
    assert comparison.passed  # 2 ulp of 1.0 is 4.44e-16


def test_a_band_distance_is_shown_in_the_digits_its_bound_needs():
    base = make_record("S0", metrics={"acc": 0.9})
    runs = [
        clone(base, f"S{i}", seed=i, options__seed_sweep="sw1", metrics={"acc": v})
        for i, v in enumerate([0.25, 0.5])
    ]
    lone = clone(base, "L", seed=7, engine__host=ENGINE2, metrics={"acc": 0.5050001})
    comparison = compare_runs(
        [*runs, lone], reference="S0", tolerances={"acc": Tolerance(abs=0.005)}
    )
    [judged] = [r for r in comparison.results if r.run_id == "L"]
    assert judged.reason.startswith("0.0050001 above the seed band")
    assert judged.reason.endswith(": out of tolerance (abs 0.005)")


@pytest.mark.parametrize(
    ("value", "reference_value", "delta"),
    [(0.3, 0.3, 0.0), (0.2, 0.25, -0.05), (0.75, 0.5, 0.25)],
)
def test_a_banded_reference_value_is_the_bands_point_nearest_the_value(
    value, reference_value, delta
):
    # round 33 item 7: docs said "the nearest edge"; inside it is the value.
    base = make_record("S0", metrics={"acc": 0.9})
    runs = [
        clone(base, f"S{i}", seed=i, options__seed_sweep="sw1", metrics={"acc": v})
        for i, v in enumerate([0.25, 0.5])
    ]
    lone = clone(base, "L", seed=7, engine__host=ENGINE2, metrics={"acc": value})
    comparison = compare_runs([*runs, lone], reference="S0")
    [judged] = json.loads(render_json(comparison))["results"][-1:]
    assert judged["run_id"] == "L" and judged["seed_band"] == [0.25, 0.5]
    assert (judged["reference_value"], judged["delta"]) == (reference_value, delta)
