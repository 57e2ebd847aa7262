"""Seed noise and deltas with metric values near the largest float (±1.8e308).

Spreads, deviations and differences of such values pass the largest float:
they are judged exactly, shown as they are, and never crash or show nan.
"""

import json
import math
import statistics

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_markdown, render_text
from reprobox.report import render_report_html

BIGGEST = 1.7976931348623157e308


def sweep(values):
    base = make_record("S0")
    return [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw",
            metrics={"loss": value},
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i, value in enumerate(values)
    ]


def other_machine(run, run_id, loss, **changes):
    return clone(
        run,
        run_id,
        options__seed_sweep=None,
        metrics={"loss": loss},
        machine__cpu__vendor="AuthenticAMD",
        **changes,
    )


def rows(text, start):
    return [line for line in text.splitlines() if line.startswith(start)]


def test_a_band_whose_spread_and_std_pass_the_largest_float_is_shown_as_it_is():
    # statistics.stdev raised OverflowError here: compare crashed.
    comparison = compare_runs(sweep([-1.7e308, 1.7e308]))
    [band] = comparison.noise_bands

    assert (band.spread, band.std, band.mean) == (math.inf, math.inf, 0.0)
    assert (band.spread_text(), band.std_text(), band.std_text(2)) == (
        "3.4e+308",
        "2.4e+308",
        "4.81e+308",
    )
    text = render_text(comparison)
    assert rows(text, "  sw ") == [
        "  sw     loss    2  -1.7e+308  1.7e+308  3.4e+308  2.4e+308"
    ]
    assert rows(text, "  S1 ")[1].startswith(
        "  S1   loss    1.7e+308  -1.7e+308  +3.4e+308  +2 "
    )
    assert '<td class="num">3.4e+308</td><td class="num">2.4e+308</td>' in (
        render_report_html([], comparison)
    )
    assert json.loads(render_json(comparison))["noise_bands"][0]["spread"] == (
        "Infinity"
    )


def test_a_band_near_the_largest_float_has_its_exact_mean():
    # statistics.fmean overflowed adding 1e308 and 1.7e308.
    [band] = compare_runs(sweep([1e308, 1.7e308])).noise_bands

    assert band.mean == 1.35e308
    assert band.std == statistics.stdev([1e308, 1.7e308])
    # As written, 1.7e308 - 1e308 is 7e307 (the floats' difference is a hair
    # under it): the spread is of the values as every table shows them.
    assert (band.spread, band.spread_text()) == (7e307, "7e+307")


@pytest.mark.parametrize(
    "loss, beyond, reason",
    [
        # |delta| 2.5e308 overflowed to inf and the run was never set against
        # the noise: beyond the spread 2e308, whose float is inf as well.
        (1.5e308, True, "|delta| 2.5e+308 > seed spread 2e+308: beyond seed noise"),
        (
            0.9e308,
            False,
            "|delta| 1.9e+308 <= seed spread 2e+308 and 2 std 2.83e+308: "
            "within seed noise",
        ),
    ],
)
def test_a_difference_past_the_largest_float_is_judged_against_the_noise(
    loss, beyond, reason
):
    runs = sweep([-1e308, 1e308])
    comparison = compare_runs([*runs, other_machine(runs[0], "M1", loss)])

    [check] = comparison.noise_checks
    assert (check.run_id, check.beyond_noise, check.reason) == ("M1", beyond, reason)
    assert check.delta == math.inf  # the float field; the table shows it exactly
    [row] = rows(render_text(comparison), "  M1   loss    sw ")
    assert row.split()[3] == f"+{reason.split()[1]}"


def test_a_delta_as_wide_as_a_spread_past_the_largest_float_is_within_it():
    # Both are twice the largest float: equal, exactly, not inf against inf.
    runs = sweep([-BIGGEST, BIGGEST, -BIGGEST, BIGGEST])
    comparison = compare_runs([*runs, other_machine(runs[0], "M1", BIGGEST)])

    [check] = comparison.noise_checks
    assert not check.beyond_noise
    assert check.reason == (
        "|delta| 3.6e+308 <= seed spread 3.6e+308 and 2 std 4.15e+308: "
        "within seed noise"
    )


def test_a_run_with_no_value_beside_a_band_shows_no_nan_delta():
    runs = sweep([0.1, 0.2])
    nan_run = other_machine(runs[0], "M1", float("nan"), seed=7)
    comparison = compare_runs([*runs, nan_run])

    [check] = comparison.noise_checks
    assert (check.delta, check.beyond_noise) == (None, True)
    [row] = rows(render_text(comparison), "  M1   loss    sw ")
    assert row.split()[3] == "n/a"
    assert "| M1 | loss | sw | n/a | beyond noise |" in render_markdown(comparison)
    assert json.loads(render_json(comparison))["noise_checks"][0]["delta"] is None


def test_a_run_off_the_band_by_more_than_the_largest_float_says_how_far():
    runs = sweep([-1.7e308, -1.6e308])
    far = other_machine(runs[0], "M1", 1.7e308, seed=7)
    comparison = compare_runs([*runs, far])

    [result] = [r for r in comparison.results if r.run_id == "M1"]
    assert result.reason.startswith("3.3e+308 above the seed band [-1.7e+308, ")
    [check] = comparison.noise_checks
    assert check.reason.startswith("1.7e+308 lies 3.3e+308 above the seed band")


def test_repeats_that_differ_by_more_than_the_largest_float_say_their_spread():
    first = make_record("A", metrics={"loss": -1e308})
    second = clone(first, "B", metrics={"loss": 1e308})
    comparison = compare_runs([first, second])

    [finding] = comparison.nondeterminism
    assert finding.spread == math.inf
    assert finding.reason.startswith(
        "loss differs across 2 runs of the same image, seed and machine "
        "(-1e+308, 1e+308; spread 2e+308)"
    )
    [summary] = [r for r in comparison.runs if r.run_id == "B"]
    assert summary.headline.startswith("metrics differ (loss +2e+308)")


def test_a_difference_beyond_noise_that_passes_its_tolerance_says_both():
    # BC 6c (round 40): a run within its tolerance read "beyond noise" in a
    # "verdict" column, beside pass in the Metrics table.
    from reprobox.compare.metrics import Tolerance

    runs = sweep([0.5, 0.5001])
    near = other_machine(runs[0], "M1", 0.51, seed=0)
    far = other_machine(runs[0], "M2", 0.9, seed=0)
    comparison = compare_runs(
        [*runs, near, far], reference="S0", tolerances={"loss": Tolerance(abs=0.1)}
    )
    passed = {r.run_id: r.passed for r in comparison.results}
    assert (passed["M1"], passed["M2"]) == (True, False)
    text = render_text(comparison)
    section = text.split("Differences against seed noise\n")[1]
    assert "against noise" in section.splitlines()[0]
    [m1] = rows(section, "  M1 ")
    [m2] = rows(section, "  M2 ")
    assert "beyond noise, within tolerance" in m1
    assert "beyond noise" in m2 and "within tolerance" not in m2
    assert "| M1 | loss | sw | +0.01 | beyond noise, within tolerance |" in (
        render_markdown(comparison)
    )
