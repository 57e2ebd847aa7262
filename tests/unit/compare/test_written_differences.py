"""Every difference of metric values is taken as written: integers exactly,
floats on their shortest decimals, in JSON as in the tables (breaker BA 3, 4)."""

import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_markdown, render_text
from reprobox.compare.history import find_divergence
from reprobox.report import render_report_html


def _pair(reference, value, name="steps"):
    a = make_record("A", metrics={name: reference})
    return [a, clone(a, "B", metrics={name: value})]


def _json(records, **options):
    return json.loads(render_json(compare_runs(records, **options)))


def _sweep(values):
    base = make_record("S0")
    return [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw1",
            metrics={"steps": value},
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize(("reference", "value", "delta"), [(5, 5, 0), (5, 7, 2)])
def test_integer_results_have_an_integer_delta(reference, value, delta):
    # BA 3: steps 5 against 5 gave "delta": 0.0, 5 against 7 gave 2.
    [result] = _json(_pair(reference, value))["results"]
    assert result["delta"] == delta and type(result["delta"]) is int


def test_an_integer_spread_of_one_setup_is_exact():
    # BA 3: 1 against 2**62 gave spread 4.611686018427388e+18, delta exact.
    data = _json(_pair(1, 2**62))
    [finding] = data["nondeterminism"]
    [result] = data["results"]
    assert finding["spread"] == result["delta"] == 2**62 - 1
    assert type(finding["spread"]) is int


@pytest.mark.parametrize(("values", "spread"), [((5, 5), 0), ((1, 2**62), 2**62 - 1)])
def test_an_integer_noise_band_spread_is_exact(values, spread):
    # BA 3: a band of steps 5 and 5 had spread 0.0.
    [band] = _json(_sweep(values))["noise_bands"]
    assert band["spread"] == spread and type(band["spread"]) is int
    [kept] = compare_runs(_sweep(values)).noise_bands
    assert kept.spread == spread and type(kept.spread) is int


def test_float_spreads_are_the_written_difference():
    # The binary 0.6 - 0.5 is 0.09999999999999998; both read 0.1 as written.
    [finding] = _json(_pair(0.5, 0.6, "loss"))["nondeterminism"]
    assert finding["spread"] == 0.1
    [band] = compare_runs(_sweep((0.5, 0.6))).noise_bands
    assert band.spread == 0.1


def test_rel_delta_is_the_written_ratio():
    # 0.1 against 0.3 is -2/3 as written, whose nearest float is ...666; the
    # float delta over the float reference rounded twice to ...667.
    [result] = _json(_pair(0.3, 0.1, "loss"))["results"]
    assert result["rel_delta"] == -0.6666666666666666


def test_curve_gaps_are_as_written():
    ref = make_record("A", history=[{"call": 0, "epochs": [{"epoch": 0, "n": 1}]}])
    run = clone(ref, "B", history=[{"call": 0, "epochs": [{"epoch": 0, "n": 2**62}]}])
    found = find_divergence(ref, run)
    assert found.deltas == {"n": 2**62 - 1} and type(found.deltas["n"]) is int
    assert found.max_abs_delta == {"n": 2**62 - 1}

    floats = clone(ref, "C", history=[{"call": 0, "epochs": [{"epoch": 0, "n": 0.6}]}])
    ref = clone(ref, "A", history=[{"call": 0, "epochs": [{"epoch": 0, "n": 0.5}]}])
    assert find_divergence(ref, floats).deltas == {"n": 0.1}


def _curves(reference, value):
    ref = make_record("A", history=[{"call": 0, "epochs": [{"epoch": 0, "loss": 0.5}]}])
    return ref, clone(
        ref, "B", history=[{"call": 0, "epochs": [{"epoch": 0, "loss": value}]}]
    )


def test_epsilon_judges_the_gap_as_written():
    # BA 4: 0.5 against 0.6 is 0.1 apart as written, over 0.09999999999999999,
    # yet the binary gap 0.09999999999999998 let them through as "within
    # epsilon 0.1 (largest gap loss 0.1)".
    ref, run = _curves(0.5, 0.6)
    found = find_divergence(ref, run, epsilon=0.09999999999999999)
    assert (found.epoch, found.deltas) == (0, {"loss": 0.1})
    assert found.reason == (
        "curves part: loss +0.1 (beyond epsilon 0.09999999999999999)"
    )
    within = find_divergence(ref, run, epsilon=0.1)
    assert (within.epoch, within.identical) == (None, False)
    assert within.reason == "curves within epsilon 0.1 (largest gap loss 0.1)"


def test_a_gap_shown_beside_epsilon_reads_on_its_side():
    # 0.1 over epsilon 0.1 by 1e-16 as written: three digits read level.
    ref, run = _curves(0.5, 0.6000000000000001)
    found = find_divergence(ref, run, epsilon=0.1)
    assert found.reason == (
        "curves part: loss +0.1000000000000001 (beyond epsilon 0.1)"
    )


def test_the_tables_and_report_say_the_curves_part():
    ref, run = _curves(0.5, 0.6)
    comparison = compare_runs([ref, run], epsilon=0.09999999999999999)
    said = "curves part: loss +0.1 (beyond epsilon 0.09999999999999999)"
    assert said in render_text(comparison)
    assert said in render_markdown(comparison)
    assert said in render_report_html([ref, run], comparison)
    [curve] = json.loads(render_json(comparison))["curves"]
    assert curve["deltas"] == {"loss": 0.1}


def test_a_nan_gap_is_not_said_to_be_beyond_epsilon():
    ref, run = _curves(0.5, float("nan"))
    found = find_divergence(ref, run, epsilon=0.1)
    assert found.reason == "curves part: loss nan (reference 0.5)"
