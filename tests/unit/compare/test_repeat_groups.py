"""Repeats (run --repeat) are runs of one setup on one engine: which fail."""

import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_text
from reprobox.compare.metrics import Tolerance
from reprobox.report import _cell

WITHIN = {"acc": Tolerance(abs=0.01)}


def _failing(comparison) -> set[str]:
    return {run.run_id for run in comparison.runs if run.passed is False}


def _sweep_of_repeats(values):
    """Seeds 0 and 1, each run twice (run --seeds 0-1 --repeat 2)."""
    base = make_record("S0")
    return [
        clone(
            base,
            f"A{i}",
            seed=i // 2,
            options__seed_sweep="sw1",
            options__repeat_index=i % 2,
            metrics={"acc": value},
            started_at=f"2024-01-01T00:00:0{i + 1}Z",
        )
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize("reference", [0, 1, 2, 3])
def test_a_sweep_seed_whose_repeats_differ_fails_its_runs_and_results(reference):
    # Round 36 A: seed 1's repeats differed, the verdict failed, yet both
    # seed-1 runs and results said noise with passed null, nothing overruled.
    runs = _sweep_of_repeats([0.9, 0.9, 0.8, 0.81])
    comparison = compare_runs(runs, reference=reference, tolerances=WITHIN)

    assert comparison.passed is False
    assert _failing(comparison) == {"A2", "A3"}
    data = json.loads(render_json(comparison))
    for result in data["results"]:
        if result["run_id"] in ("A2", "A3"):
            assert result["passed"] is False
            assert result["overruled"] == (
                "repeats of one setup (A2, A3) gave different acc: nondeterminism"
            )
        else:
            assert result["overruled"] == ""
    [finding] = data["nondeterminism"]
    assert finding["disagreeing_repeats"] == ["A2", "A3"]
    text = render_text(comparison)
    assert "its repeats gave different acc: nondeterminism" in text


def test_a_seed_noise_result_of_disagreeing_repeats_reads_fail_everywhere():
    runs = _sweep_of_repeats([0.9, 0.9, 0.8, 0.81])
    comparison = compare_runs(runs, tolerances=WITHIN)
    results = {(r.run_id, r.metric): r for r in comparison.results}
    run = next(r for r in comparison.runs if r.run_id == "A2")

    assert _cell(comparison, results, run, "acc")["state"] == "fail"
    row = next(
        line for line in render_text(comparison).splitlines() if "  A2   " in line
    )
    assert " FAIL " in row and " noise " not in row


@pytest.mark.parametrize("reference", [0, 1, 2])
def test_every_repeat_of_a_group_that_disagrees_fails_whichever_is_the_reference(
    reference,
):
    base = make_record("R")
    runs = [
        clone(base, f"R{i}", options__repeat_index=i, metrics={"acc": value})
        for i, value in enumerate([0.9, 0.9, 0.905])
    ]
    comparison = compare_runs(runs, reference=reference, tolerances=WITHIN)

    assert comparison.passed is False
    assert _failing(comparison) == {"R0", "R1", "R2"}
    assert all(r.passed is False and r.overruled for r in comparison.results)
    results = {(r.run_id, r.metric): r for r in comparison.results}
    for run in comparison.runs:
        if not run.is_reference:  # identical to the reference, yet failed
            assert _cell(comparison, results, run, "acc")["state"] == "fail"


def _repeats_on_two_engines(values):
    """run --repeat 2 -H A -H B: E0, E1 on engine A, E2, E3 on engine B."""
    base = make_record("E")
    return [
        clone(
            base,
            f"E{i}",
            options__repeat_index=i % 2,
            engine__host=f"unix:///engine{i // 2}.sock",
            metrics={"acc": value},
            started_at=f"2024-01-01T00:00:0{i + 1}Z",
        )
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize("reference", [0, 2])
def test_repeats_that_agree_on_each_engine_are_judged_across_engines_by_tolerance(
    reference,
):
    # Round 36 B: each engine's repeats agreed, the engines differed by 1e-4
    # (tolerance 0.01), and the verdict failed as if the repeats disagreed.
    runs = _repeats_on_two_engines([0.9, 0.9, 0.9001, 0.9001])
    comparison = compare_runs(runs, reference=reference, tolerances=WITHIN)

    assert comparison.passed is True
    assert _failing(comparison) == set()
    [finding] = comparison.nondeterminism
    assert (finding.engines, finding.repeats, finding.repeats_disagree) == (
        2,
        True,
        False,
    )
    assert finding.disagreeing_repeats == ()
    text = render_text(comparison)
    assert text.splitlines()[1].startswith("verdict: PASS (all 3 metric checks")
    assert "but runs of one setup gave different acc: nondeterminism" in text
    assert "(the repeats on each engine agree; judged by tolerance)" in text

    beyond = compare_runs(
        runs, reference=reference, tolerances={"acc": Tolerance(abs=1e-5)}
    )
    assert beyond.passed is False
    assert _failing(beyond) == ({"E2", "E3"} if reference == 0 else {"E0", "E1"})


@pytest.mark.parametrize("reference", [0, 1, 2, 3])
def test_repeats_that_disagree_on_one_engine_fail_there_whichever_is_the_reference(
    reference,
):
    runs = _repeats_on_two_engines([0.9, 0.9, 0.9001, 0.9002])
    comparison = compare_runs(runs, reference=reference, tolerances=WITHIN)

    assert comparison.passed is False
    assert _failing(comparison) == {"E2", "E3"}
    [finding] = comparison.nondeterminism
    assert finding.disagreeing_repeats == ("E2", "E3")
    assert "(repeats E2, E3 disagree)" in render_text(comparison)


def test_the_report_says_which_repeats_disagree_as_the_text_does():
    from reprobox.report import render_report_html

    agree = _repeats_on_two_engines([0.9, 0.9, 0.9001, 0.9001])
    html = render_report_html(agree, compare_runs(agree, tolerances=WITHIN))
    assert "(the repeats on each engine agree; judged by tolerance)" in html
    assert "(asked for as repeats)" not in html

    differ = _repeats_on_two_engines([0.9, 0.9, 0.9001, 0.9002])
    html = render_report_html(differ, compare_runs(differ, tolerances=WITHIN))
    assert "(repeats E2, E3 disagree)" in html


@pytest.mark.parametrize("reference", [0, 1])
def test_a_sweep_seed_whose_repeats_differ_is_no_seed_noise_in_json(reference):
    # brk r37 12: A2 and A3 failed, yet JSON kept seed_noise true on their
    # run and results, and the reason still began "seed noise:".
    runs = _sweep_of_repeats([0.9, 0.9, 0.8, 0.81])
    data = json.loads(render_json(compare_runs(runs, reference=reference)))
    noise = {r["run_id"]: r["seed_noise"] for r in data["runs"]}
    assert noise["A2"] is False and noise["A3"] is False
    for result in data["results"]:
        if result["run_id"] in ("A2", "A3"):
            assert (result["seed_noise"], result["passed"]) == (False, False)
            assert result["reason"] == (
                "seed 1 against the reference's 0, no seed noise: repeats of one "
                "setup (A2, A3) gave different acc: nondeterminism"
            )


def test_a_seed_whose_repeats_differ_is_left_out_of_the_noise_band():
    # brk r37 12: seed 1's first repeat (0.8) went into the band as its value.
    runs = _sweep_of_repeats([0.9, 0.9, 0.8, 0.81, 0.85, 0.85])
    comparison = compare_runs(runs, tolerances=WITHIN)
    [band] = comparison.noise_bands
    assert (band.seeds, band.values, band.minimum, band.maximum) == (
        (0, 2),
        (0.9, 0.85),
        0.85,
        0.9,
    )
    assert (
        "seed sweep sw1: acc of seed 1 differs among its repeats (A2, A3): "
        "left out of the noise band"
    ) in comparison.notes
    noise = {run.run_id: run.seed_noise for run in comparison.runs}
    assert noise == {
        "A0": False,
        "A1": False,
        "A2": False,
        "A3": False,
        "A4": True,
        "A5": True,
    }


def test_repeats_on_one_engine_reached_two_ways_are_judged_alike_anywhere(tmp_path):
    # brk r48 (BS 1): two `run --repeat 2` calls on one engine, one through a
    # link to its socket, in windows that gave other values: with the link
    # on the comparing machine it failed (repeats disagree), without it it
    # passed (two engines). Records keep the daemon's ID; that decides.
    socket = "unix:///run/reprobox-engine2/docker.sock"
    link = tmp_path / "e2link.sock"
    base = make_record("S0", engine__host=socket, engine__id="AAAA:BBBB")
    runs = [
        clone(
            base,
            f"R{i}",
            engine__host=socket if i < 2 else f"unix://{link}",
            options__repeat_index=i % 2,
            metrics={"acc": 0.9 if i < 2 else 0.901},
            started_at=f"2024-01-01T00:00:0{i + 1}Z",
        )
        for i in range(4)
    ]
    verdicts = []
    for present in (True, False):
        if present:
            link.symlink_to("/run/reprobox-engine2/docker.sock")
        else:
            link.unlink()
        comparison = compare_runs(runs, reference=0, tolerances=WITHIN)
        [finding] = comparison.nondeterminism
        verdicts.append((comparison.passed, finding.engines, _failing(comparison)))
    assert verdicts[0] == verdicts[1] == (False, 1, {"R0", "R1", "R2", "R3"})
