"""Integer metrics past 2**53 and non-finite ones, from record to every display."""

import json
import math

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_text
from reprobox.compare.exact import value_text
from reprobox.compare.metrics import EXACT, Tolerance, compare_metric
from reprobox.compare.records import as_number, same_number
from reprobox.report import render_report_html

NEG = -(2**60)  # a float holds it exactly; NEG - 1 it does not


def judge(ref, run, tolerance=EXACT):
    return compare_metric(
        "B",
        "neg",
        ref,
        run,
        reference_has=True,
        run_has=True,
        tolerance=tolerance,
        tolerance_given=tolerance is not EXACT,
    )


def sweep(values, metric="neg"):
    base = make_record("S0")
    return [
        clone(
            base,
            f"S{i}",
            seed=i,
            options__seed_sweep="sw",
            metrics={metric: value},
            started_at=f"2024-01-01T00:00:0{i}Z",
        )
        for i, value in enumerate(values)
    ]


def test_an_integer_past_2_53_reads_as_an_integer_even_where_a_float_holds_it():
    # brk r36 F2: -(2**60) read as -1.152921504606847e+18, 24 off as written.
    assert as_number(NEG) == NEG and isinstance(as_number(NEG), int)
    # brk r37 6: 5, 0 and 2**53 read 5.0, 0.0 and 9007199254740992.0.
    assert [as_number(n) for n in (5, 0, 2**53)] == [5, 0, 2**53]
    assert all(isinstance(as_number(n), int) for n in (5, 0, 2**53))
    assert isinstance(as_number(5.0), float) and as_number(True) is None


def test_two_integers_past_2_53_differ_by_their_true_difference():
    # brk r36 F2: table +23, JSON -1, FAIL against abs 2.
    result = judge(NEG, NEG - 1, Tolerance(abs=2.0))
    assert (result.passed, result.delta, result.exact_delta) == (True, -1, -1)


def test_a_float_against_an_integer_has_one_delta_in_table_and_json():
    # The float 2**60 is written 1.152921504606847e+18: as written, 23 from NEG - 1.
    result = judge(float(NEG), NEG - 1, Tolerance(abs=2.0))
    assert result.delta == result.exact_delta == 23
    assert result.passed is False


def test_a_seed_band_of_big_integers_runs_from_its_least_to_its_largest():
    # brk r36 F2: min -1152921504606846977, max -1.152921504606847e+18, spread -23.
    [band] = compare_runs(sweep([NEG, NEG - 1])).noise_bands
    assert (band.minimum, band.maximum, band.spread) == (NEG - 1, NEG, 1.0)
    # As written, the float 2**60 (1.152921504606847e+18) lies 23 below NEG - 1.
    [band] = compare_runs(sweep([float(NEG), NEG - 1])).noise_bands
    assert (band.maximum, band.spread, band.exact_spread) == (NEG - 1, 23.0, 23)
    data = json.loads(render_json(compare_runs(sweep([NEG, NEG - 1]))))
    assert data["noise_bands"][0]["minimum"] == NEG - 1


@pytest.mark.parametrize("infinite", [math.inf, -math.inf, "Infinity", "-Infinity"])
def test_an_infinity_against_an_exact_integer_fails_without_a_traceback(infinite):
    # brk r36 F3: OverflowError: cannot convert Infinity to integer ratio.
    assert same_number(as_number(infinite), 2**53 + 1) is False
    for ref, run in ((infinite, 2**53 + 1), (2**53 + 1, infinite)):
        result = judge(ref, run, Tolerance(abs=1e300))
        assert result.passed is False
        assert result.reason == "infinite in one run only"


def test_an_infinite_seed_beside_an_exact_integer_renders_everywhere():
    # brk r36 F3: run --seeds 0-1, compare, compare --json and report all crashed.
    comparison = compare_runs(sweep(["Infinity", 2**53 + 1]))
    assert comparison.passed is False
    assert "infinite in one run only" in render_text(comparison)
    json.loads(render_json(comparison))
    assert "9007199254740993" in render_report_html([], comparison)
    nan = compare_runs(sweep(["NaN", 2**53 + 1]))
    assert nan.passed is False


@pytest.mark.parametrize(
    "value, shown",
    [
        (10**30, "1e+30"),
        (10**30 + 1, "1000000000000000000000000000001"),
        (-(10**30), "-1e+30"),
        (12345 * 10**40, "1.2345e+44"),
        (2**100, "1267650600228229401496703205376"),
        (10**19 - 1, "9999999999999999999"),
    ],
)
def test_an_integer_is_shown_exactly_however_long(value, shown):
    # brk r36 F5: 10**30 and 10**30 + 1 both read 1e+30, with delta +1.
    assert value_text(value) == shown


def test_two_integers_that_differ_are_shown_apart_in_the_table():
    comparison = compare_runs(sweep([10**30, 10**30 + 1]))
    text = render_text(comparison)
    assert "1000000000000000000000000000001" in text and " 1e+30 " in text


def test_a_record_holding_a_blank_metric_name_is_compared_without_it():
    # brk r36 F6: compare failed on a row no --metric or --tol could name.
    base = make_record("A", metrics={" ": 1.0, "acc": 0.5})
    other = clone(base, "B", metrics={" ": 2.0, "acc": 0.5})
    comparison = compare_runs([base, other])
    assert comparison.passed is True
    assert comparison.metrics == ("acc",)
    assert (
        "' ' is a blank metric name, which --metric and --tol cannot name: left out"
        in comparison.notes
    )
    render_text(comparison)
    json.loads(render_json(comparison))


def test_an_unprintable_metric_name_in_a_record_is_called_unprintable():
    # Review, stop 17: an older record's "acc\u200b" was called "a blank name".
    base = make_record("A", metrics={"acc\u200b": 1.0, "acc": 0.5})
    other = clone(base, "B", metrics={"acc\u200b": 2.0, "acc": 0.5})
    comparison = compare_runs([base, other])
    assert comparison.metrics == ("acc",)
    assert (
        "'acc\\u200b' is an unprintable metric name, which --metric and --tol "
        "cannot name: left out"
    ) in comparison.notes
