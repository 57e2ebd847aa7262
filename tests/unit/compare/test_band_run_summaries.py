"""A run judged on a seed band: its summary says what its metric rows say."""

import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_markdown, render_text


def sweep():
    """Seeds 0-2 of a sweep: acc spreads over [0.9, 0.902], loss [0.1, 0.102]."""
    base = make_record("S0", metrics={"acc": 0.9, "loss": 0.1})
    return [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw1",
            metrics={"acc": 0.9 + i * 0.001, "loss": 0.1 + i / 1000},
            machine__env__PYTHONHASHSEED=str(i),
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i in range(3)
    ]


def seed_five(run_id="M", **changes):
    """A run of seed 5, which the sweep lacks, so judged on its band."""
    fields = {
        "seed": 5,
        "options__seed_sweep": None,
        "machine__env__PYTHONHASHSEED": "5",
        "metrics": {"acc": 0.9005, "loss": 0.1005},
        "started_at": "2024-01-01T00:01:00Z",
    }
    return clone(sweep()[0], run_id, **(fields | changes))


def summary_of(comparison, run_id="M"):
    [run] = [r for r in comparison.runs if r.run_id == run_id]
    return run


@pytest.mark.parametrize(
    ("status", "code", "shown"),
    [
        ("failed", 3, "failed (exit code 3)"),
        ("interrupted", None, "interrupted"),
    ],
)
def test_a_run_that_did_not_succeed_inside_the_band_is_not_said_outside(
    status, code, shown
):
    # Breaker BQ 1: its rows said "within the seed band", its summary "acc,
    # loss outside the seed band", naming --env EQ_EXIT as the likely cause.
    run = seed_five(status=status, exit_code=code, options__env={"EQ_EXIT": "3"})
    comparison = compare_runs([*sweep(), run])

    headline = (
        "acc, loss within the seed band widened by tolerance; "
        f"but status {shown}: it cannot pass"
    )
    summary = summary_of(comparison)
    assert summary.headline == headline
    assert (summary.passed, summary.metrics_differ, summary.likely_cause) == (
        False,
        False,
        None,
    )
    assert f"  M         5     {shown}" in render_text(comparison)
    assert f"FAIL     {headline}\n" in render_text(comparison)
    assert f"| FAIL | {headline} |" in render_markdown(comparison)
    runs = json.loads(render_json(comparison))["runs"]
    [data] = [r for r in runs if r["run_id"] == "M"]
    assert (data["headline"], data["metrics_differ"], data["likely_cause"]) == (
        headline,
        False,
        None,
    )
    assert (data["exit_code"], data["passed"]) == (code, False)


def test_a_failed_run_names_outside_only_the_metrics_that_are():
    run = seed_five(
        status="interrupted", exit_code=None, metrics={"acc": 0.95, "loss": 0.1005}
    )
    summary = summary_of(compare_runs([*sweep(), run]))

    assert summary.headline == (
        "acc outside the seed band widened by tolerance; no numerics-relevant "
        "setup difference besides the seed; but status interrupted: it cannot pass"
    )
    assert summary.metrics_differ


def test_repeats_that_disagree_on_the_band_say_so_not_outside():
    runs = [
        seed_five(
            f"R{i}",
            options__repeat_index=i,
            metrics={"acc": 0.9005 + i / 10000, "loss": 0.1005},
        )
        for i in range(2)
    ]
    comparison = compare_runs([*sweep(), *runs])

    for run_id in ("R0", "R1"):
        summary = summary_of(comparison, run_id)
        assert summary.headline == (
            "acc, loss within the seed band widened by tolerance; "
            "its repeats gave different acc: nondeterminism"
        )
        assert (summary.passed, summary.metrics_differ) == (False, False)


def test_a_metric_the_banded_run_lacks_is_said_and_fails_it():
    # It passed, saying only "acc within the seed band", while its loss row
    # failed: missing in this run.
    comparison = compare_runs([*sweep(), seed_five(metrics={"acc": 0.9005})])

    summary = summary_of(comparison)
    assert summary.headline == (
        "acc within the seed band widened by tolerance; "
        "loss only in the reference (0.1), not in this run"
    )
    assert summary.passed is False
    assert "  M         5     succeeded  FAIL" in render_text(comparison)


def test_a_value_with_no_place_on_the_band_is_said_as_its_row_says():
    run = seed_five(metrics={"acc": "NaN", "loss": 0.1005})
    comparison = compare_runs([*sweep(), run])

    [row] = [r for r in comparison.results if (r.run_id, r.metric) == ("M", "acc")]
    assert row.reason.startswith("NaN in this run only; the seed band ")
    assert summary_of(comparison).headline == (
        "acc (NaN in this run only); no numerics-relevant setup difference "
        "besides the seed"
    )
