"""A sweep alone: noise is shown not judged; a NaN, inf or missing seed fails."""

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


def sweep(values, *, status=None):
    base = make_record("S0", metrics={"acc": 0.9})
    return [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw1",
            metrics={} if value is None else {"acc": value},
            status=(status or {}).get(i, "succeeded"),
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("values", "bad", "reason"),
    [
        ([0.9, math.nan, 0.91], "S1", "NaN in this run only; seed 1 of the sweep"),
        ([0.9, math.inf, 0.91], "S1", "infinite in one run only; seed 1 of the sweep"),
        ([0.9, 0.905, None], "S2", "missing in this run; seed 2 of the sweep"),
    ],
)
def test_a_seed_without_a_finite_value_fails_the_sweep(values, bad, reason):
    # round 33 item 3: seed 1 wrote NaN, and the sweep passed on a band of 2.
    comparison = compare_runs(sweep(values))
    assert not comparison.passed
    [judged] = [r for r in comparison.results if not r.seed_noise]
    assert (judged.run_id, judged.metric, judged.passed) == (bad, "acc", False)
    assert judged.reason == reason
    [run] = [r for r in comparison.runs if r.run_id == bad]
    assert (run.seed_noise, run.passed) == (False, False)
    text = render_text(comparison)
    assert "verdict: FAIL (1 " in text and "PASS" not in text
    if values[1] is math.nan:
        assert (
            "seed sweep sw1: acc of run S1 (seed 1) is nan, not finite: left out "
            "of the noise band"
        ) in comparison.notes


def test_a_nan_reference_seed_fails_every_other_seed():
    comparison = compare_runs(sweep([math.nan, 0.9, 0.91]))
    assert not comparison.passed
    assert [(r.run_id, r.passed, r.reason) for r in comparison.results] == [
        ("S1", False, "NaN in the reference run only; seed 1 of the sweep"),
        ("S2", False, "NaN in the reference run only; seed 2 of the sweep"),
    ]


def test_nan_in_every_seed_fails_every_seed():
    # breaker BC 2: NaN beside NaN read "identical" and the sweep passed.
    comparison = compare_runs(sweep([math.nan, math.nan]))
    assert not comparison.passed
    assert [r.passed for r in comparison.runs] == [False, False]
    assert [r.reason for r in comparison.results] == [
        "acc NaN in seed 1 of the sweep: a seed whose metric is NaN or infinite "
        "fails the sweep"
    ]


@pytest.mark.parametrize("tolerance", [None, Tolerance(abs=0.0045)])
def test_seed_noise_is_never_judged_in_json(tolerance):
    # round 33 item 4: exact tolerances gave passed false on every other seed
    # while the text said noise and the sweep passed; abs 0.0045 gave true.
    tolerances = {"acc": tolerance} if tolerance else {}
    comparison = compare_runs(sweep([0.9, 0.905, 0.91]), tolerances=tolerances)
    data = json.loads(render_json(comparison))
    assert data["passed"] is True
    assert [(r["run_id"], r["passed"], r["seed_noise"]) for r in data["runs"]] == [
        ("S0", True, False),
        ("S1", None, True),
        ("S2", None, True),
    ]
    assert [(r["run_id"], r["passed"]) for r in data["results"]] == [
        ("S1", None),
        ("S2", None),
    ]
    assert "verdict: PASS (nothing beyond seed noise)" in render_text(comparison)


def test_a_failed_seed_of_a_sweep_is_judged_failed():
    comparison = compare_runs(sweep([0.9, 0.905, 0.91], status={2: "failed"}))
    assert not comparison.passed
    [run] = [r for r in comparison.runs if r.run_id == "S2"]
    assert run.passed is False
    text = render_text(comparison)
    row = [line for line in text.splitlines() if "S2 " in line][0]
    assert " FAIL " in row
    assert "; 1 sweep run(s) with other seeds measure the noise" in text


@pytest.mark.parametrize("plain_reference", [True, False])
def test_a_sweep_of_one_seed_is_judged_as_any_run(plain_reference):
    # brk r37 (AX 2): `run --seeds 3` and `run --seeds 5` with acc 0.05 apart
    # (a setup difference) passed as "nothing beyond seed noise": a sweep of
    # one seed shows no noise, and its run was never judged.
    base = make_record("A", metrics={"acc": 0.9})
    first = clone(
        base,
        "A",
        seed=3,
        started_at="2024-01-01T00:00:00Z",
        **({} if plain_reference else {"options__seed_sweep": "swA"}),
    )
    second = clone(
        base,
        "B",
        seed=5,
        options__seed_sweep="swB",
        metrics={"acc": 0.95},
        started_at="2024-01-01T00:00:01Z",
    )
    comparison = compare_runs([first, second], tolerances={"acc": Tolerance(0.005)})
    assert not comparison.passed
    [result] = comparison.results
    assert (result.run_id, result.seed_noise, result.passed) == ("B", False, False)
    assert "verdict: FAIL" in render_text(comparison)


def test_two_seeds_of_one_sweep_are_still_noise():
    values = sweep([0.9, 0.95])
    comparison = compare_runs(values, tolerances={"acc": Tolerance(0.005)})
    [result] = comparison.results
    assert (result.run_id, result.seed_noise, result.passed) == ("S1", True, None)


def test_a_sweep_of_which_one_seed_succeeded_forms_no_band():
    # BA small: seeds 1-3 failed, so no band formed, yet the verdict ended
    # "nothing beyond seed noise". As for a sweep of one seed, its runs are
    # judged by the tolerances, and a note says why there is no band.
    failed = {i: "failed" for i in (1, 2, 3)}
    comparison = compare_runs(sweep([0.9, 0.91, 0.92, 0.9], status=failed))
    assert comparison.noise_bands == ()
    assert [(r.run_id, r.seed_noise, r.passed) for r in comparison.results] == [
        ("S1", False, False),
        ("S2", False, False),
        ("S3", False, False),
    ]
    assert [r.overruled for r in comparison.results] == [
        "",
        "",
        "run S3 has status failed (exit code 0)",
    ]
    text = render_text(comparison)
    assert "seed noise" not in text.splitlines()[1]
    assert text.splitlines()[1].endswith("; 2 of 3 metric checks out of tolerance)")
    assert (
        "seed sweep sw1: 1 of its 4 seeds succeeded, and a noise band needs two "
        "or more: no band, its runs are judged by the tolerances"
    ) in comparison.notes


def test_two_seeds_that_succeeded_still_make_the_others_noise():
    comparison = compare_runs(sweep([0.9, 0.91, 0.92], status={2: "failed"}))
    [band] = comparison.noise_bands
    assert band.run_ids == ("S0", "S1")
    assert [(r.run_id, r.seed_noise) for r in comparison.results] == [
        ("S1", True),
        ("S2", False),
    ]


FAILED_ROW = (
    "seed 2 of the sweep, left out of its noise band; but run S2 has status "
    "{shown}: it cannot pass"
)


@pytest.mark.parametrize(
    ("status", "exit_code", "shown"),
    [("failed", 3, "failed (exit code 3)"), ("interrupted", None, "interrupted")],
)
def test_a_failed_seed_left_out_of_the_band_is_no_noise_in_its_rows(
    status, exit_code, shown
):
    # breakers r49 (BS 4, BR 6): seed 2 exited 3 and its band left it out, yet
    # its rows said "noise ... seed noise: seed 2 against the reference's 0",
    # with seed_noise true and passed null in the JSON, beside its FAIL.
    records = sweep([0.9, 0.905, 0.91], status={2: status})
    records[2] = clone(records[2], "S2", exit_code=exit_code)
    comparison = compare_runs(records)
    reason = FAILED_ROW.format(shown=shown)
    data = json.loads(render_json(comparison))
    assert data["passed"] is False
    assert [
        (r["run_id"], r["seed_noise"], r["passed"], r["overruled"], r["reason"])
        for r in data["results"]
    ] == [
        ("S1", True, None, "", "seed noise: seed 1 against the reference's 0"),
        ("S2", False, False, f"run S2 has status {shown}", reason),
    ]
    assert [r["out_of_band"] for r in data["results"]] == [False, True]
    assert [(r["run_id"], r["seed_noise"], r["passed"]) for r in data["runs"]] == [
        ("S0", False, True),
        ("S1", True, None),
        ("S2", False, False),
    ]
    text = render_text(comparison).splitlines()
    assert text[1] == (
        f"verdict: FAIL (run S2 has status {shown}; nothing beyond seed noise); "
        "1 sweep run(s) with other seeds measure the noise"
    )
    [row] = [line for line in text if line.startswith("  S2   acc")]
    assert row.split()[-len(reason.split()) - 1 :] == ["FAIL", *reason.split()]
    [md_row] = [
        line
        for line in render_markdown(comparison).splitlines()
        if line.startswith("| S2 | acc |")
    ]
    assert md_row.endswith(f"| FAIL | {reason} |")


@pytest.mark.parametrize("ids", [("swA", "swB"), ("swZ", "swB")])
def test_a_run_beside_two_sweeps_gets_one_verdict_whichever_is_the_reference(ids):
    # brk r50 (BU 1): seeds 0-3 on one engine (acc 0.900-0.903), seeds 0-2 on
    # another (0.9045-0.9065), and a seed-9 run there at 0.91, abs 0.005: the
    # seed-9 run was judged on the reference's own sweep's band, so it failed
    # against the first (0.007 beyond it) and passed against the second.
    base = make_record("A0", metrics={"acc": 0.9})
    one = [
        clone(
            base,
            f"A{i}",
            seed=i,
            options__seed_sweep=ids[0],
            metrics={"acc": round(0.9 + i / 1000, 4)},
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i in range(4)
    ]
    two = [
        clone(
            base,
            f"B{i}",
            seed=i,
            options__seed_sweep=ids[1],
            engine__host="unix:///run/e2.sock",
            metrics={"acc": round(0.9045 + i / 1000, 4)},
            started_at=f"2024-01-01T00:01:0{i}Z",
        )
        for i in range(3)
    ]
    lone = clone(
        base,
        "L9",
        seed=9,
        engine__host="unix:///run/e2.sock",
        metrics={"acc": 0.91},
        started_at="2024-01-01T00:02:00Z",
    )
    runs = [*one, *two, lone]
    within = {"acc": Tolerance(abs=0.005)}
    verdicts = {
        reference: compare_runs(runs, reference=reference, tolerances=within).passed
        for reference in range(len(runs))
    }
    # Judged on the band it lies farthest outside, whatever the sweeps' ids:
    # 0.91 is 0.007 beyond the first machine's noise.
    assert set(verdicts.values()) == {False}, verdicts
