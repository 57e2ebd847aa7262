"""Two machines' seed sweeps given together: paired seed by seed, else on a band."""

import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import Tolerance, compare_runs, render_json, render_text

ENGINE2 = "unix:///run/reprobox-engine2/docker.sock"
TOLERANCE = {"acc": Tolerance(abs=0.0005)}


def two_sweeps(bumps, seeds_a=range(3), seeds_b=range(3)):
    """`run --seeds` on engine 1 (sweep A) and engine 2 with BUMP (sweep B).

    Like a train.py writing acc = 0.9 + (seed % 3) * 0.001 + BUMP, where bumps
    maps a seed to the BUMP of sweep B's run of it (unset elsewhere).
    """
    base = make_record("A0", metrics={"acc": 0.9})
    a = [
        clone(
            base,
            f"A{i}",
            seed=i,
            options__seed_sweep="swA",
            metrics={"acc": 0.9 + i % 3 * 0.001},
            machine__env__PYTHONHASHSEED=str(i),
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i in seeds_a
    ]
    b = [
        clone(
            base,
            f"B{i}",
            seed=i,
            options__seed_sweep="swB",
            engine__host=ENGINE2,
            options__env={"BUMP": str(bumps[i])} if i in bumps else {},
            metrics={"acc": 0.9 + i % 3 * 0.001 + bumps.get(i, 0)},
            machine__env__PYTHONHASHSEED=str(i),
            started_at=f"2024-01-01T00:01:0{i}Z",
        )
        for i in seeds_b
    ]
    return [*a, *b]


def verdicts(records):
    """Compare with every run as the reference: {reference: Comparison}."""
    return {
        r.run_id: compare_runs(records, reference=r.run_id, tolerances=TOLERANCE)
        for r in records
    }


def test_a_change_on_one_seed_fails_whichever_run_is_the_reference():
    # Only seed 2 differs on engine 2. Sweep B's runs were seed noise unless
    # the reference had seed 2: A2 or B2 as the reference failed, any other
    # passed.
    records = two_sweeps({2: 0.0008})

    for reference, comparison in verdicts(records).items():
        assert not comparison.passed, reference
        judged = [r for r in comparison.results if not r.seed_noise]
        assert sorted(r.run_id[1] for r in judged) == ["0", "1", "2"], reference
        [failed] = [r for r in judged if not r.passed]
        assert {failed.run_id, failed.compared_with or reference} == {"A2", "B2"}
        assert failed.delta == pytest.approx(
            0.0008 if failed.run_id == "B2" else -0.0008
        )
        [summary] = [r for r in comparison.runs if r.run_id == failed.run_id]
        assert summary.likely_cause == "options.env.BUMP", reference
        assert not any(r.judged_on_band for r in comparison.runs)


def test_each_run_of_the_other_sweep_is_measured_by_its_seeds_run():
    comparison = compare_runs(two_sweeps({2: 0.0008}), tolerances=TOLERANCE)

    assert comparison.reference == "A0"
    assert {r.run_id: (r.compared_with, r.seed_noise) for r in comparison.runs} == {
        "A0": (None, False),
        "A1": (None, True),
        "A2": (None, True),
        "B0": (None, False),  # the reference's seed: the reference measures it
        "B1": ("A1", False),
        "B2": ("A2", False),
    }
    [b2] = [r for r in comparison.runs if r.run_id == "B2"]
    assert b2.headline == (
        "against sweep run A2 (seed 2): metrics differ (acc +0.0008); most likely "
        "cause: env options.env.BUMP unset -> 0.0008"
    )
    text = render_text(comparison)
    assert (
        "verdict: FAIL (1 of 3 metric checks out of tolerance); 2 sweep run(s) "
        "with other seeds measure the noise"
    ) in text
    assert "  B2   acc     0.9028  0.902 (A2)  +0.0008" in text
    data = json.loads(render_json(comparison))
    assert [(r["run_id"], r["compared_with"]) for r in data["results"]] == [
        ("A1", None),
        ("A2", None),
        ("B0", None),
        ("B1", "A1"),
        ("B2", "A2"),
    ]


def test_two_sweeps_within_tolerance_pass_whichever_run_is_the_reference():
    records = two_sweeps({0: 0.0004, 1: -0.0003, 2: 0.0005})

    for reference, comparison in verdicts(records).items():
        assert comparison.passed, reference


def test_seeds_only_one_sweep_holds_are_judged_on_the_other_sweeps_band():
    # Sweep A has seeds 0-2 and 4, sweep B 0-3: 0-2 pair up, A4 is judged on
    # B's band and B3 on A's, whichever run is the reference.
    records = two_sweeps({3: 0.003}, seeds_a=[0, 1, 2, 4], seeds_b=range(4))

    for reference, comparison in verdicts(records).items():
        assert not comparison.passed, reference
        banded = {
            r.run_id: (r.seed_band, r.passed) for r in comparison.results if r.seed_band
        }
        assert banded == {
            "A4": ((0.9, 0.903), True),
            "B3": ((0.9, 0.902), False),  # 0.903, 0.001 above A's band
        }, reference
        summaries = {r.run_id: r for r in comparison.runs}
        assert summaries["A4"].headline.endswith(
            "acc within the seed band widened by tolerance"
        ), reference
        # The cause is named against the band's machine, also where the
        # reference ran beside B3 on engine 2 (and differs only in the seed).
        assert summaries["B3"].headline.endswith(
            "acc outside the seed band widened by tolerance; most likely cause: "
            "env options.env.BUMP unset -> 0.003"
        ), reference
        assert summaries["B3"].likely_cause == "options.env.BUMP"
        paired = [r for r in comparison.results if not r.seed_band and not r.seed_noise]
        assert len(paired) == 3 and all(r.passed for r in paired), reference


def test_unmatched_seeds_within_the_other_band_pass_whichever_run_is_the_reference():
    records = two_sweeps({}, seeds_a=[0, 1, 2, 4], seeds_b=range(4))

    for reference, comparison in verdicts(records).items():
        assert comparison.passed, reference


@pytest.mark.parametrize(("bump", "passed"), [(0.0008, False), (0.0004, True)])
def test_a_lone_run_beside_two_sweeps_gets_one_verdict(bump, passed):
    # Engine 2 ran a sweep and a lone run of seed 1, both with BUMP on seed 1.
    records = two_sweeps({1: bump})
    [b1] = [r for r in records if r.run_id == "B1"]
    records.append(clone(b1, "M", options__seed_sweep=None))

    for reference, comparison in verdicts(records).items():
        assert comparison.passed is passed, reference
        if not passed:
            failed = [r for r in comparison.runs if not (r.passed or r.seed_noise)]
            causes = {r.likely_cause for r in failed}
            assert causes == {"options.env.BUMP"}, reference


def test_sweeps_sharing_no_seed_are_judged_on_each_others_band():
    # AO 1: two machines' sweeps of other seeds passed as "seed noise" even
    # 0.49 apart under abs 0.05, while one run of that machine failed on the
    # band: a second seed made a FAIL a PASS.
    records = two_sweeps({}, seeds_a=range(3), seeds_b=range(3, 6))
    comparison = compare_runs(records, tolerances=TOLERANCE)
    assert [r.run_id for r in comparison.runs if r.seed_noise] == []
    assert {r.run_id for r in comparison.runs if r.judged_on_band} == {
        "A0", "A1", "A2", "B3", "B4", "B5",
    }  # fmt: skip
    for reference, verdict in verdicts(records).items():
        assert verdict.passed, reference  # the same noise on both machines

    off = {seed: 0.5 for seed in range(3, 6)}
    records = two_sweeps(off, seeds_a=range(3), seeds_b=range(3, 6))
    for reference, verdict in verdicts(records).items():
        assert not verdict.passed, reference
        failed = {r.run_id for r in verdict.runs if not r.passed}
        assert failed >= {"B3", "B4", "B5"} or failed >= {"A0", "A1", "A2"}


def test_a_sweeps_own_other_seeds_are_not_set_against_another_sweeps_noise():
    # ce 2: with A0 the reference, A1 (0.901) was shown "within noise" of
    # sweep B (0.92..): its delta was to A0, a seed difference, not to B.
    records = two_sweeps({0: 0.02, 1: 0.02, 2: 0.02})
    comparison = compare_runs(records, reference="A0", tolerances=TOLERANCE)
    checks = {(c.run_id, c.sweep): c.beyond_noise for c in comparison.noise_checks}
    assert checks == {
        ("B0", "swA"): True,
        ("B1", "swA"): True,
        ("B2", "swA"): True,
        # B0 stands for the reference's seed of sweep B: A0 is beyond its noise.
        ("B0", "swB"): True,
    }
    section = render_text(comparison).split("Differences against seed noise\n")[1]
    assert section.splitlines()[0].split() == [
        "run",
        "metric",
        "noise",
        "of",
        "sweep",
        "delta",
        "against",
        "noise",
        "detail",
    ]
    assert [line.split()[0] for line in section.splitlines()[1:5]] == [
        "B0",
        "B0",
        "B1",
        "B2",
    ]


def test_two_sweeps_under_a_rel_tolerance_get_one_verdict_either_way():
    # cx 1: sweeps at 1.0 and 1.105 under rel 0.1: FAIL with the 1.0 sweep as
    # reference (+0.105), PASS with the 1.105 sweep (-0.095).
    records = two_sweeps({0: 0.105 * 0.9, 1: 0.105 * 0.901})
    loose = {"acc": Tolerance(rel=0.1)}
    passed = {
        ref: compare_runs(records, reference=ref, tolerances=loose).passed
        for ref in ("A0", "B0", "A1", "B1")
    }
    assert passed == dict.fromkeys(passed, passed["A0"])


def test_a_failed_sweep_run_measures_no_run_of_its_seed():
    # Round 34 (AS 13): another machine's seed-1 run was set against the
    # sweep's seed-1 run that had exited 3, and passed as "identical".
    records = two_sweeps({})
    failed = {"A1"}
    records = [
        clone(r, r.run_id, status="failed", exit_code=3) if r.run_id in failed else r
        for r in records
    ]
    comparison = compare_runs(records, tolerances=TOLERANCE)
    pairs = {r.run_id: r.compared_with for r in comparison.runs}
    assert pairs["B1"] != "A1"
    assert pairs["B2"] == "A2"
