import json
import time

import pytest
from reprobox_synthetic import clone, make_record, many_records

from reprobox.compare import (
    Tolerance,
    compare_runs,
    exit_code,
    render_json,
    render_markdown,
    render_text,
)
from reprobox.errors import EXIT_FAILED, EXIT_OK, InputError


def onednn_pair():
    # cases/run/onednn-cpu-type.md: same image, TF_ENABLE_ONEDNN_OPTS=1 vs =0.
    on = make_record("ON", metrics={"loss": 0.1202998384})
    off = clone(
        on,
        "OFF",
        metrics={"loss": 0.1202998459},
        machine__onednn__TF_ENABLE_ONEDNN_OPTS="0",
        machine__env__TF_ENABLE_ONEDNN_OPTS="0",
    )
    return on, off


def test_onednn_pair_names_the_onednn_setting_and_the_delta():
    comparison = compare_runs(list(onednn_pair()))

    [result] = comparison.results
    assert result.delta == pytest.approx(0.1202998459 - 0.1202998384)
    assert not result.passed
    assert {d.category for d in comparison.differences} == {"onednn"}
    assert comparison.differences[0].reference_value == "1"
    assert comparison.differences[0].run_value == "0"
    summary = comparison.runs[1]
    assert summary.likely_cause == "machine.env.TF_ENABLE_ONEDNN_OPTS"
    assert summary.headline == (
        "metrics differ (loss +7.5e-09); most likely cause: onednn "
        "machine.env.TF_ENABLE_ONEDNN_OPTS 1 -> 0"
    )
    text = render_text(comparison)
    assert "+7.5e-09" in text and "0.1202998459" in text and "0.1202998384" in text
    assert exit_code(comparison) == EXIT_FAILED


def test_onednn_pair_passes_within_a_loose_tolerance():
    comparison = compare_runs(list(onednn_pair()), tolerances={"loss": {"abs": 1e-8}})
    assert comparison.passed
    assert exit_code(comparison) == EXIT_OK
    assert comparison.results[0].reason == "within tolerance (abs 1e-08)"


def test_reference_by_position_or_run_id():
    a, b = make_record("A"), make_record("B")
    c = clone(a, "C", metrics={"loss": 1.0, "accuracy": 0.5})
    assert compare_runs([a, b, c], reference="C").reference == "C"
    assert compare_runs([a, b, c], reference=-1).reference == "C"
    comparison = compare_runs([a, b, c], reference=1)
    assert comparison.reference == "B"
    assert {r.run_id for r in comparison.results} == {"A", "C"}


@pytest.mark.parametrize("reference", [3, -4, "Z", True])
def test_bad_reference_is_a_usage_error(reference):
    with pytest.raises(InputError):
        compare_runs(
            [make_record("A"), make_record("B"), make_record("C")], reference=reference
        )


def test_one_record_is_not_enough():
    with pytest.raises(InputError, match="two or more run records, got 1"):
        compare_runs([make_record("A")])


def test_only_the_named_metrics_are_compared_and_unknown_ones_fail():
    a = make_record("A")
    b = clone(a, "B", metrics={"loss": 0.5, "accuracy": 0.9688})
    comparison = compare_runs([a, b], metrics=["accuracy", "f1"])

    assert comparison.metrics == ("accuracy", "f1")
    reasons = {r.metric: (r.passed, r.reason) for r in comparison.results}
    assert reasons == {
        "accuracy": (True, "identical"),
        "f1": (False, "missing in both runs"),
    }
    assert not comparison.passed


def test_a_metric_only_a_third_run_has_is_not_listed_for_the_other_pair():
    a = make_record("A")
    b = clone(a, "B")
    c = clone(a, "C", metrics={**a.metrics, "f1": 0.9})
    comparison = compare_runs([a, b, c])

    rows = {(r.run_id, r.metric): r.reason for r in comparison.results}
    assert ("B", "f1") not in rows
    assert rows[("C", "f1")] == "missing in the reference run"
    assert all(r.passed for r in comparison.results if r.run_id == "B")
    assert not comparison.passed


def test_metric_missing_in_one_run_fails_the_comparison():
    a = make_record("A")
    b = clone(a, "B", metrics={"loss": 0.1202998384})
    comparison = compare_runs([a, b], tolerances={"accuracy": Tolerance(abs=1.0)})
    [missing] = [r for r in comparison.results if not r.passed]
    assert (missing.metric, missing.reason) == ("accuracy", "missing in this run")
    assert not comparison.runs[1].passed
    assert exit_code(comparison) == EXIT_FAILED


def test_notes_name_defaulted_and_unknown_tolerances_and_failed_runs():
    a = make_record("A")
    b = clone(a, "B", status="failed", exit_code=2, project="other")
    notes = compare_runs(
        [a, b], tolerances={"loss": {"rel": 0.1}, "f1": {"abs": 1}}
    ).notes
    assert notes == (
        "run B has status failed (exit code 2)",
        "runs come from different projects: digits, other",
        "no tolerance given for accuracy: exact (default)",
        "tolerance given for metrics no run compared: f1",
    )


def test_default_tolerance_can_be_set():
    a = make_record("A")
    b = clone(a, "B", metrics={"loss": 0.1202998384 + 1e-9, "accuracy": 0.9688})
    comparison = compare_runs([a, b], default_tolerance=Tolerance(rel=1e-6))
    assert comparison.passed
    assert (
        "no tolerance given for accuracy, loss: rel 1e-06 (default)" in comparison.notes
    )


def test_malformed_tolerance_is_refused():
    with pytest.raises(InputError, match="only abs and/or rel"):
        compare_runs(
            [make_record("A"), make_record("B")], tolerances={"loss": {"ab": 1}}
        )


def test_no_metrics_at_all_is_a_failure_that_says_nothing_was_checked():
    a = make_record("A", metrics={})
    comparison = compare_runs([a, clone(a, "B")])
    assert not comparison.passed
    assert exit_code(comparison) == EXIT_FAILED
    assert comparison.notes == (
        "no run recorded any metric, so nothing was checked: the verdict is a failure",
    )
    run = comparison.runs[1]
    assert not run.passed
    assert run.headline == "nothing compared: no run recorded any metric"
    # An empty list of names means every metric, like metrics.compare [].
    assert compare_runs([a, clone(a, "B")], metrics=[]) == comparison


def test_a_run_sharing_no_named_metric_with_the_reference_is_not_a_pass():
    a = make_record("A", metrics={"acc": 0.9})
    b = clone(a, "B", metrics={})
    c = clone(a, "C", metrics={"acc": 0.9, "f1": 0.8})
    comparison = compare_runs([a, b, c], metrics=["f1"])
    run = comparison.runs[1]
    assert (run.run_id, run.passed) == ("B", False)
    assert run.headline == "nothing compared: neither it nor the reference has f1"


def test_identical_runs_pass():
    a = make_record("A")
    comparison = compare_runs([a, clone(a, "B")])
    assert comparison.passed and exit_code(comparison) == EXIT_OK
    assert comparison.runs[1].headline == "metrics identical"


def test_hundred_records_compare_within_a_second():
    records = many_records(100)
    started = time.perf_counter()
    comparison = compare_runs(records)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"compare of 100 records took {elapsed:.2f} s"
    assert len(comparison.results) == 99 * 4


def test_thousand_records_compare_and_render_in_reasonable_time():
    records = many_records(1000)
    started = time.perf_counter()
    render_text(compare_runs(records))
    elapsed = time.perf_counter() - started
    assert elapsed < 10.0, f"compare and render of 1000 records took {elapsed:.2f} s"


@pytest.mark.parametrize("epsilon", [-1e-9, float("nan"), float("inf"), "0"])
def test_bad_curve_epsilon_is_a_usage_error(epsilon):
    with pytest.raises(InputError, match="curve epsilon must be a finite number"):
        compare_runs([make_record("A"), make_record("B")], epsilon=epsilon)


@pytest.mark.parametrize("status", ["failed", "interrupted", "running", None])
def test_a_run_that_did_not_succeed_fails_the_comparison(status):
    # F10: a failed run may still have written metrics, even identical ones.
    a = make_record("A")
    b = clone(a, "B", status=status, exit_code=1 if status == "failed" else None)
    shown = "failed (exit code 1)" if status == "failed" else (status or "unknown")
    comparison = compare_runs([a, b])

    # Identical values, yet no check of a run that did not succeed passes.
    assert [r.passed for r in comparison.results] == [False, False]
    assert {r.overruled for r in comparison.results} == {f"run B has status {shown}"}
    assert comparison.results[0].reason == (
        f"identical; but run B has status {shown}: it cannot pass"
    )
    assert not comparison.passed
    assert exit_code(comparison) == EXIT_FAILED
    summary = comparison.runs[1]
    assert not summary.passed
    assert summary.headline == f"metrics identical; but status {shown}: it cannot pass"
    assert render_text(comparison).splitlines()[1] == (
        f"verdict: FAIL (run B has status {shown}; "
        "0 of 2 metric checks out of tolerance)"
    )
    assert f"verdict: FAIL (run B has status {shown};" in render_markdown(comparison)


def test_a_failed_reference_run_fails_the_comparison_and_is_named():
    a = make_record("A", status="failed", exit_code=1)
    comparison = compare_runs([a, clone(a, "B", status="succeeded", exit_code=0)])

    assert not comparison.passed and exit_code(comparison) == EXIT_FAILED
    assert comparison.runs[0].headline == (
        "reference run; but status failed (exit code 1): its metrics prove nothing"
    )
    text = render_text(comparison)
    assert "verdict: FAIL (run A has status failed (exit code 1); 0 of 2" in text
    # F3 (round 35): the JSON said passed: true for the failed reference and
    # for the checks against its numbers; text showed '-' beside it.
    data = json.loads(render_json(comparison))
    # B's checks were against numbers that prove nothing: none can pass.
    assert [r["passed"] for r in data["runs"]] == [False, False]
    assert {r["passed"] for r in data["results"]} == {False}
    assert {r["overruled"] for r in data["results"]} == {
        "run A has status failed (exit code 1)"
    }
    assert "  A (ref)  42    failed (exit code 1)  FAIL" in text


def test_every_unsuccessful_run_is_named_in_the_verdict():
    a = make_record("A")
    b = clone(
        a, "B", status="failed", exit_code=1, metrics={"loss": 0.5, "accuracy": 0.9688}
    )
    c = clone(a, "C", status="interrupted", exit_code=None)
    line = render_text(compare_runs([a, b, c])).splitlines()[1]
    assert line == (
        "verdict: FAIL (run B has status failed (exit code 1); run C has status "
        "interrupted; 1 of 4 metric checks out of tolerance)"
    )


def test_a_seed_cause_is_named_once():
    ref = make_record("A", metrics={"loss": 0.10})
    other = clone(ref, "B", metrics={"loss": 0.12}, seed=7)
    summary = compare_runs([ref, other]).runs[1]
    assert summary.likely_cause == "seed"
    assert summary.headline == (
        "metrics differ (loss +0.02); most likely cause: seed 42 -> 7"
    )


@pytest.mark.parametrize("source", ["--metric", "metrics.compare"])
def test_a_tolerance_for_a_metric_left_out_says_what_left_it_out(source):
    # Round 35: "tolerance given for metrics no run compared: loss" while
    # every run had loss; --metric (or metrics.compare) had left it out.
    a = make_record("A")
    notes = compare_runs(
        [a, clone(a, "B")],
        tolerances={"loss": {"abs": 1}, "f1": {"abs": 1}},
        metrics=["accuracy"],
        metrics_from=source,
    ).notes
    said = (
        f"tolerance given for loss, but {source} leaves it out, so no run compared it"
    )
    assert said in notes
    assert "tolerance given for metrics no run compared: f1" in notes


def test_a_record_still_running_is_said_with_why_and_what_closes_it():
    # brk r44 (BI minor): "run B has status running" never said whether the
    # run trains now or was killed, nor how its record gets closed.
    a = make_record("A")
    b = clone(a, "B", status="running", exit_code=None)
    comparison = compare_runs([a, b])
    said = (
        "run B has status running (its record is not closed: the run is still "
        "going, or its reprobox was killed, and then the next `reprobox run`, "
        "`build` or `push` of the project, or `verify` for its runs folder, "
        "closes it as interrupted)"
    )
    assert said in comparison.notes
    assert said in render_text(comparison)
    # brk r45 (BK 4, BL F4): its missing machine facts are not gathered, not
    # "stopped before" they were; nor promised "yet" (brk r48 BP 10).
    from reprobox.compare.environment import UnrecordedFacts
    from reprobox.compare.render import describe_unrecorded

    assert describe_unrecorded(UnrecordedFacts("B", "running", ("x",))) == (
        "run B (running) has no machine facts (they are gathered as its script "
        "exits, which its record does not say it did); not compared: x"
    )
    assert describe_unrecorded(UnrecordedFacts("B", "interrupted", ("x",))) == (
        "run B (interrupted) stopped before its machine facts were gathered; not "
        "compared: x"
    )
    # A run that ended with a code is no open record: said as before.
    c = clone(a, "C", status="running", exit_code=0)
    assert "run C has status running (exit code 0)" in compare_runs([a, c]).notes


@pytest.mark.parametrize(
    ("lock", "said"),
    [
        ("held", "running (its reprobox holds the run lock: the run is still going)"),
        (
            "free",
            "running (its reprobox is gone without closing its record; the next "
            "`reprobox run`, `build` or `push` of the project, or `verify` for its "
            "runs folder, closes it as interrupted)",
        ),
        (
            "fifo",
            "running (its run lock is a FIFO (named pipe), not a file reprobox "
            "wrote, so no command closes it: move the lock away, then the next "
            "`reprobox run`, `build` or `push` of the project, or `verify` for its "
            "runs folder, closes it as interrupted if its reprobox is gone)",
        ),
    ],
)
def test_a_running_record_in_a_runs_folder_is_said_as_its_lock_tells(
    tmp_path, lock, said
):
    # brk r45 (BK 4) and r46 (BN 6): "still going, or killed", and "the next
    # run closes it", also for a live run and for one behind a FIFO lock.
    import fcntl
    import os

    from reprobox.compare.records import Record

    rid = "20260101T000002Z-bbbbbb"
    a = make_record("A")
    b = clone(a, rid, status="running", exit_code=None)
    path = tmp_path / "runs" / rid / "record.json"
    path.parent.mkdir(parents=True)
    b = Record(path=path, data=b.data)
    lock_path = tmp_path / "runs" / f".{rid}.lock"
    holder = None
    if lock == "fifo":
        os.mkfifo(lock_path)
    else:
        lock_path.write_text("{}")
    if lock == "held":
        holder = os.open(lock_path, os.O_RDWR)
        fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        notes = compare_runs([a, b]).notes
    finally:
        if holder is not None:
            os.close(holder)
    assert f"run {rid} has status {said}" in notes
