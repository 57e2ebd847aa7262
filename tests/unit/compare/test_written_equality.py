"""A float against the integer it holds: identical, delta and verdict as written."""

import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_markdown, render_text
from reprobox.compare.metrics import EXACT, Tolerance, compare_metric
from reprobox.compare.records import same_number
from reprobox.report import render_report_html

BIG = -(2**60)  # its float is written -1.152921504606847e+18: 24 below it
BIG_FLOAT = -1.152921504606847e18


def judge(ref, run, tolerance=EXACT):
    return compare_metric(
        "B",
        "e",
        ref,
        run,
        reference_has=True,
        run_has=True,
        tolerance=tolerance,
        tolerance_given=tolerance is not EXACT,
    )


def pair(ref_metrics, run_metrics):
    a = make_record("A", metrics=ref_metrics)
    b = clone(a, "B", metrics=run_metrics, started_at="2024-01-01T00:00:05Z")
    return [a, b]


@pytest.mark.parametrize("ref, run", [(BIG, BIG_FLOAT), (BIG_FLOAT, BIG)])
def test_an_integer_and_its_float_written_apart_differ_by_what_is_written(ref, run):
    # brk r37 1: == said equal (pass identical, JSON delta 0.0) while every
    # table showed delta -24.
    assert not same_number(ref, run)
    delta = 24 if isinstance(run, int) else -24  # (BIG == BIG_FLOAT in Python)
    for tolerance in (EXACT, Tolerance(abs=1)):
        result = judge(ref, run, tolerance)
        assert (result.identical, result.passed, result.delta) == (False, False, delta)
        assert result.reason.startswith("out of tolerance")
    assert judge(ref, run, Tolerance(abs=24)).passed is True


@pytest.mark.parametrize("ref, run", [(1e30, 10**30), (10**30, 1e30)])
def test_an_integer_written_as_a_float_is_identical(ref, run):
    # brk r37 1: 1e+30 against 10**30 read delta +0, 'within tolerance',
    # identical false: the float 1e30 holds ...19884624838656, not 10**30.
    assert same_number(ref, run)
    for tolerance in (EXACT, Tolerance(abs=1)):
        result = judge(ref, run, tolerance)
        assert (result.identical, result.passed, result.delta) == (True, True, 0.0)
        assert result.reason == "identical"


def test_every_display_agrees_on_an_integer_against_a_float():
    records = pair({"e": BIG, "a": 1e30}, {"e": BIG_FLOAT, "a": 10**30})
    comparison = compare_runs(records, tolerances={"e": Tolerance(abs=1)})
    rows = {r["metric"]: r for r in json.loads(render_json(comparison))["results"]}
    assert (rows["e"]["delta"], rows["e"]["identical"], rows["e"]["passed"]) == (
        -24,
        False,
        False,
    )
    assert (rows["a"]["delta"], rows["a"]["identical"], rows["a"]["passed"]) == (
        0.0,
        True,
        True,
    )
    assert comparison.passed is False
    text = render_text(comparison)
    [e_line] = [line for line in text.splitlines() if line.startswith("  B    e ")]
    assert " -24 " in e_line and "FAIL" in e_line and "out of tolerance" in e_line
    [a_line] = [line for line in text.splitlines() if line.startswith("  B    a ")]
    assert a_line.rstrip().endswith("pass     identical")
    [md_line] = [ln for ln in render_markdown(comparison).splitlines() if "| e |" in ln]
    assert "-24" in md_line and "FAIL" in md_line
    assert "-24" in render_report_html(records, comparison)


def test_an_old_whole_float_is_identical_to_the_integer_a_script_now_writes():
    # A record from before integers were kept holds 5.0; a new one holds 5.
    records = pair({"steps": 5.0, "zero": 0.0}, {"steps": 5, "zero": 0})
    comparison = compare_runs(records)
    assert comparison.passed is True
    assert all(r.identical for r in comparison.results)


def test_an_integer_metric_is_shown_whole_in_every_display():
    # brk r37 6: a record holding 5 was compared and shown as 5.0.
    comparison = compare_runs(pair({"steps": 5}, {"steps": 6}))
    [line] = [ln for ln in render_text(comparison).splitlines() if "B    steps" in ln]
    assert line.split()[2:5] == ["6", "5", "+1"]
    [row] = json.loads(render_json(comparison))["results"]
    shown = [(row[k], type(row[k])) for k in ("value", "reference_value", "delta")]
    assert shown == [(6, int), (5, int), (1, int)]
