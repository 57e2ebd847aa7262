"""A run that succeeded, set against a reference that failed, says why it fails."""

import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_markdown, render_text
from reprobox.report import _cell, render_report_html

WHY = "but the reference run B has status failed (exit code 3): it cannot pass"


@pytest.fixture
def against_a_failed_reference():
    # Round 36 G: `compare --reference <failed run>` showed a healthy run as
    # 'FAIL  metrics identical despite setup differences', no reason given.
    good = make_record("A", metrics={"acc": 0.9})
    failed = clone(good, "B", status="failed", exit_code=3)
    other = clone(good, "C", machine__cpu__model="EPYC 9654")
    records = [good, failed, other]
    return records, compare_runs(records, reference="B")


def test_text_and_markdown_say_the_reference_failed(against_a_failed_reference):
    _, comparison = against_a_failed_reference
    for render in (render_text, render_markdown):
        rows = [
            line
            for line in render(comparison).splitlines()
            if "metrics identical" in line
        ]
        assert len(rows) == 2
        assert all("FAIL" in row and WHY in row for row in rows)


def test_json_runs_and_results_say_the_reference_failed(against_a_failed_reference):
    _, comparison = against_a_failed_reference
    data = json.loads(render_json(comparison))
    runs = {run["run_id"]: run for run in data["runs"]}
    assert runs["A"]["headline"] == f"metrics identical; {WHY}"
    assert runs["C"]["headline"].endswith(f"; {WHY}")
    assert [run["passed"] for run in data["runs"]] == [False, False, False]
    assert {r["overruled"] for r in data["results"]} == {
        "run B has status failed (exit code 3)"
    }


def test_the_report_says_the_reference_failed(against_a_failed_reference):
    records, comparison = against_a_failed_reference
    html = render_report_html(records, comparison)
    assert f"metrics identical; {WHY}" in html
    results = {(r.run_id, r.metric): r for r in comparison.results}
    run = next(r for r in comparison.runs if r.run_id == "A")
    # Identical values, but the check failed: the cell reads fail, not same.
    assert _cell(comparison, results, run, "acc")["state"] == "fail"


def test_a_failed_run_against_a_good_reference_is_not_told_the_reference_failed():
    good = make_record("A", metrics={"acc": 0.9})
    failed = clone(good, "B", status="failed", exit_code=3)
    comparison = compare_runs([good, failed])
    assert "has status" not in comparison.runs[0].headline
    assert "the reference run" not in comparison.runs[1].headline


def test_an_interrupted_reference_with_no_metrics_is_named_as_the_cause():
    # brk r37 (AY 10): the healthy run's line blamed only its "missing"
    # metrics, never that the reference was interrupted.
    good = make_record("A", metrics={"acc": 0.9})
    stopped = clone(good, "B", status="interrupted", exit_code=None, metrics={})
    comparison = compare_runs([good, stopped], reference="B")
    [run] = [r for r in comparison.runs if r.run_id == "A"]
    assert run.passed is False
    assert run.headline.endswith(
        "; but the reference run B has status interrupted: it cannot pass"
    )
