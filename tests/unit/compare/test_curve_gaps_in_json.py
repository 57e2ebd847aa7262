"""A curve's max_abs_delta in compare --json carries the gap the text shows,
within epsilon too, and says NaN or Infinity where a curve parts on such a
value (breaker BC 1: both read {})."""

import json
import math

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_text
from reprobox.compare.history import find_divergence


def _curves(reference, values):
    def history(losses):
        return [
            {
                "call": 0,
                "epochs": [{"epoch": i, "loss": v} for i, v in enumerate(losses)],
            }
        ]

    ref = make_record("A", history=history(reference))
    return ref, clone(ref, "B", history=history(values))


def _json_curve(ref, run, **options):
    [curve] = json.loads(render_json(compare_runs([ref, run], **options)))["curves"]
    return curve


def test_a_gap_within_epsilon_is_in_max_abs_delta():
    ref, run = _curves([0.5, 0.5], [0.5, 0.6])
    comparison = compare_runs([ref, run], epsilon=0.1)
    assert "curves within epsilon 0.1 (largest gap loss 0.1)" in render_text(comparison)
    curve = _json_curve(ref, run, epsilon=0.1)
    # No epoch parts the curves, so no parting epoch's deltas.
    assert (curve["epoch"], curve["deltas"]) == (None, {})
    assert curve["max_abs_delta"] == {"loss": 0.1}


def test_max_abs_delta_spans_every_shared_epoch():
    ref, run = _curves([0.5, 0.5, 0.5], [0.5, 0.55, 0.8])
    found = find_divergence(ref, run, epsilon=0.1)
    assert (found.epoch, found.deltas) == (2, {"loss": 0.3})
    assert found.max_abs_delta == {"loss": 0.3}
    assert find_divergence(ref, run).max_abs_delta == {"loss": 0.3}


@pytest.mark.parametrize(
    ("values", "largest"),
    [
        ([0.5, math.nan], "NaN"),
        ([0.5, math.inf], "Infinity"),
        ([0.5, -math.inf], "Infinity"),
        ([math.nan, math.inf], "NaN"),
    ],
)
def test_a_curve_parting_on_a_value_not_finite_says_so(values, largest):
    ref, run = _curves([0.5, 0.5], values)
    curve = _json_curve(ref, run)
    assert curve["deltas"] == {"loss": None}
    assert curve["max_abs_delta"] == {"loss": largest}


@pytest.mark.parametrize(
    ("reference", "values"),
    [([math.inf], [-math.inf]), ([-math.inf], [math.inf]), ([math.inf], [7])],
)
def test_opposite_infinities_are_an_infinite_gap_not_nan(reference, values):
    # Review, stop 17: inf against -inf said "NaN" (inf + -inf), where
    # docs/schemas.md says an infinite gap is "Infinity".
    ref, run = _curves(reference, values)
    curve = _json_curve(ref, run)
    assert curve["deltas"] == {"loss": None}
    assert curve["max_abs_delta"] == {"loss": "Infinity"}


def test_nan_in_both_curves_is_no_gap():
    ref, run = _curves([0.5, math.nan], [0.5, math.nan])
    found = find_divergence(ref, run)
    assert found.identical and found.max_abs_delta == {}


@pytest.mark.parametrize(
    ("reference", "values", "said"),
    [
        ([math.inf], [-math.inf], "loss -inf (reference inf)"),
        ([0.5], [math.inf], "loss inf (reference 0.5)"),
        ([-math.inf], [0.5], "loss 0.5 (reference -inf)"),
        ([0.5], [math.nan], "loss nan (reference 0.5)"),
    ],
)
def test_a_gap_that_is_no_number_says_both_values(reference, values, said):
    # brk r42 (BE 10, BF 5): inf against -inf, or a number, read
    # "curves part: loss NaN/absent", while neither value was NaN or absent.
    ref, run = _curves(reference, values)
    assert find_divergence(ref, run).reason == f"curves part: {said}"


def test_a_metric_one_curve_lacks_is_said_absent():
    ref = make_record(
        "A", history=[{"call": 0, "epochs": [{"epoch": 0, "loss": 0.5, "acc": 1}]}]
    )
    run = clone(ref, "B", history=[{"call": 0, "epochs": [{"epoch": 0, "loss": 0.5}]}])
    assert find_divergence(ref, run).reason == "curves part: acc absent (reference 1)"
