"""A sweep seed whose metric is NaN or infinite fails the sweep, named with its
metric, whatever the other seeds hold (breaker BC 2: all NaN passed as
'identical')."""

import json
import math

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_markdown, render_text
from reprobox.report import render_report_html

NAN, INF = math.nan, math.inf


def _sweep(values, metric="test_accuracy"):
    base = make_record("S0")
    return [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw1",
            metrics={metric: value},
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ((NAN, NAN, NAN), "NaN"),
        ((INF, INF), "Infinity"),
        ((-INF, -INF, -INF), "-Infinity"),
        ((0.5, NAN, NAN), "NaN"),
        ((NAN, 0.5, 0.6), "NaN"),
    ],
)
def test_a_non_finite_seed_fails_the_sweep_named(values, shown):
    comparison = compare_runs(_sweep(values))
    assert comparison.passed is False
    for run, value in zip(comparison.runs, values, strict=True):
        if math.isfinite(value):
            continue
        assert run.passed is False, run
        assert f"test_accuracy {shown} in seed" in run.headline
        assert "identical" not in run.headline
    for result in comparison.results:
        if not math.isfinite(result.value):
            assert result.passed is False and not result.identical
            assert not result.seed_noise


def test_every_seed_nan_reads_fail_in_every_rendering():
    records = _sweep((NAN, NAN))
    comparison = compare_runs(records)
    text = render_text(comparison)
    assert "verdict: FAIL" in text
    assert "PASS" not in text and "metrics identical" not in text
    assert "test_accuracy NaN in seed 1 of the sweep" in text
    assert "test_accuracy NaN in seed 0 of the sweep" in text
    markdown = render_markdown(comparison)
    assert "PASS" not in markdown and "metrics identical" not in markdown
    data = json.loads(render_json(comparison))
    assert data["passed"] is False
    assert [run["passed"] for run in data["runs"]] == [False, False]
    [result] = data["results"]
    assert result["passed"] is False and result["identical"] is False
    html = render_report_html(records, comparison)
    assert "test_accuracy NaN in seed 1 of the sweep" in html


def test_a_finite_sweep_still_passes():
    comparison = compare_runs(_sweep((0.5, 0.6, 0.55)))
    assert comparison.passed is True
    assert [r.passed for r in comparison.runs] == [True, None, None]


def test_nan_in_both_runs_of_a_pair_is_still_the_same_result():
    # README: compare counts NaN in both runs as the same result; a pair (two
    # repeats, two engines' runs of one setup) is no sweep.
    a = make_record("A", metrics={"loss": NAN})
    comparison = compare_runs([a, clone(a, "B", metrics={"loss": NAN})])
    assert comparison.passed is True


def test_a_nan_seed_beside_identical_other_metrics_is_not_said_identical():
    # brk r43 (BH F1): seed 1 wrote a NaN and an f equal to seed 0's; its line
    # read "a NaN in seed 1 ...; metrics identical despite setup differences",
    # and its seed row under Setup differences lost its "*".
    base = make_record("S0")
    records = [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw1",
            metrics={"a": value, "f": 1},
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i, value in enumerate((0.5, NAN, 0.6))
    ]
    comparison = compare_runs(records)
    [run] = [r for r in comparison.runs if r.run_id == "S1"]
    assert run.passed is False and run.metrics_differ is True
    assert "a NaN in seed" in run.headline
    assert " metrics identical" not in run.headline.replace("other metrics", "")
    assert "other metrics identical" in run.headline
    section = render_text(comparison).split("Setup differences")[1].split("\n\n")[0]
    rows = [line.split()[:3] for line in section.splitlines()]
    assert ["*", "S1", "seed"] in rows, section
