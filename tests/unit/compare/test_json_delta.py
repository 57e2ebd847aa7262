"""--json's delta is the difference of the values as written, re-checkable."""

import json
import random

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_text
from reprobox.compare.metrics import Tolerance, compare_metric


def _judged(reference, value, bound):
    return compare_metric(
        "R",
        "acc",
        reference,
        value,
        reference_has=True,
        run_has=True,
        tolerance=Tolerance(abs=bound),
        tolerance_given=True,
    )


def test_json_delta_is_the_written_difference_beside_the_bound():
    # Round 36 C: 0.905 vs 0.9 wrote delta 0.0050000000000000044 beside abs
    # 0.005 and passed true; a reader re-checking |delta| <= abs got false.
    a = make_record("A", metrics={"acc": 0.9})
    b = clone(a, "B", metrics={"acc": 0.905})
    comparison = compare_runs([a, b], tolerances={"acc": Tolerance(abs=0.005)})
    [result] = json.loads(render_json(comparison))["results"]

    assert result["delta"] == 0.005
    assert result["passed"] is True
    assert (abs(result["delta"]) <= result["tolerance"]["abs"]) is True


def test_a_difference_just_over_the_bound_is_written_over_it():
    # 1e-20 - (-0.005) is 0.00500000000000000001: over abs 0.005, yet its
    # nearest float is 0.005 itself, which a reader would take as within.
    result = _judged(-0.005, 1e-20, 0.005)
    assert result.passed is False
    assert result.delta > 0.005
    assert result.delta == pytest.approx(0.005, rel=1e-15)
    below = _judged(0.005, -1e-20, 0.005)
    assert below.passed is False and below.delta < -0.005


@pytest.mark.parametrize("seed", range(5))
def test_a_reader_of_json_gets_every_verdict_back_from_delta(seed):
    draw = random.Random(seed)
    for _ in range(400):
        bound = float(f"{draw.randint(1, 999)}e-{draw.randint(1, 8)}")
        reference = float(f"{draw.uniform(-2, 2):.{draw.randint(1, 17)}g}")
        step = draw.choice([bound, bound * (1 + 1e-16), bound * (1 - 1e-16)])
        value = float(repr(reference + draw.choice([-1, 1]) * step))
        for tiny in (0.0, 1e-20, -1e-20):
            result = _judged(reference, value + tiny, bound)
            assert (abs(result.delta) <= bound) is result.passed, (
                reference,
                value + tiny,
                bound,
            )


@pytest.mark.parametrize(
    ("reference", "value", "sign"),
    [(0.9, 0.905, "+"), (-0.9, -0.905, "-"), (-0.9, -0.895, "+"), (0.9, 0.895, "-")],
)
def test_rel_has_the_sign_of_delta_whatever_the_reference_sign(reference, value, sign):
    # Round 36 E: docs said 'the difference over the reference's value', which
    # for -0.905 against -0.9 gives +0.00556 where compare shows -0.00556:
    # rel is over the reference's magnitude, its sign the difference's.
    a = make_record("A", metrics={"acc": reference})
    b = clone(a, "B", metrics={"acc": value})
    comparison = compare_runs([a, b], tolerances={"acc": Tolerance(rel=0.01)})
    [result] = comparison.results
    assert result.rel_delta == pytest.approx(result.delta / abs(reference))
    assert (result.rel_delta > 0) is (result.delta > 0) is (sign == "+")
    text = render_json(comparison)
    assert json.loads(text)["results"][0]["rel_delta"] == result.rel_delta
    lines = render_text(comparison).splitlines()
    row = lines[lines.index("Metrics") + 2]
    assert row.startswith("  B    acc")
    assert f" {sign}0.00556 " in row
