import math

import pytest

from reprobox.compare.metrics import EXACT, Tolerance, compare_metric
from reprobox.errors import InputError


def judge(ref, run, tolerance=EXACT, *, ref_has=True, run_has=True):
    return compare_metric(
        "B",
        "loss",
        ref,
        run,
        reference_has=ref_has,
        run_has=run_has,
        tolerance=tolerance,
        tolerance_given=tolerance is not EXACT,
    )


def test_exactly_at_abs_tolerance_passes_and_just_beyond_fails():
    assert judge(0.5, 0.75, Tolerance(abs=0.25)).passed
    assert judge(0.5, 0.25, Tolerance(abs=0.25)).passed
    assert not judge(0.5, 0.75, Tolerance(abs=0.25 * (1 - 1e-7))).passed


def test_exactly_at_rel_tolerance_passes_and_just_beyond_fails():
    # rel is of the larger magnitude (as math.isclose): 0.5 is 0.2 of 2.5.
    assert judge(2.0, 2.5, Tolerance(rel=0.2)).passed
    assert not judge(2.0, 2.5, Tolerance(rel=0.2 * (1 - 1e-7))).passed
    assert not judge(-2.0, -2.5, Tolerance(rel=0.19)).passed


@pytest.mark.parametrize(
    "a, b, rel",
    [
        (1.0, 1.105, 0.1),
        (1.0, 1.095, 0.1),
        (2.0, 2.5, 0.2),
        (-3.0, 3.0, 1.0),
        (0.0, 1e-9, 0.5),
        (1e308, 1.7e308, 0.45),
    ],
)
def test_a_rel_verdict_is_the_same_whichever_run_is_the_reference(a, b, rel):
    # cx 1: 1.0 against 1.105 failed rel 0.1, 1.105 against 1.0 passed: two
    # sweeps compared either way round got opposite verdicts.
    assert (
        judge(a, b, Tolerance(rel=rel)).passed is judge(b, a, Tolerance(rel=rel)).passed
    )


def test_a_bound_is_applied_exactly_to_the_numbers_as_written():
    # 0.905 - 0.9 is 0.0050000000000000044 in binary, but 0.005 as the two
    # values are written (and shown): exactly at abs 0.005, so it passes.
    result = judge(0.9, 0.905, Tolerance(abs=0.005))
    assert result.passed
    assert result.reason == "within tolerance (abs 0.005)"
    assert not judge(0.9, 0.905, Tolerance(abs=0.004999999999999999)).passed
    assert not judge(0.9, 0.9050000000000001, Tolerance(abs=0.005)).passed
    assert judge(0.25, 0.375, Tolerance(abs=0.125)).passed  # exactly at the bound
    assert not judge(0.25, math.nextafter(0.375, 1), Tolerance(abs=0.125)).passed
    # the float 1/3 is a hair under a third: 0.125 is over rel 1/3 of 0.375.
    assert not judge(0.25, 0.375, Tolerance(rel=1 / 3)).passed
    assert judge(0.25, 0.375, Tolerance(rel=0.3333333333333334)).passed
    assert judge(200.0, 201.0, Tolerance(rel=0.005)).passed  # 1 <= 0.005 * 201


@pytest.mark.parametrize(
    ("ref", "run"),
    [
        (0.3, 0.30000000000000004),
        (1.0, math.nextafter(math.nextafter(1.0, 2), 2)),  # 2 ulp
        (1e6, 1e6 + 2.33e-10),
    ],
)
def test_no_tolerance_grants_slack_beyond_its_bound(ref, run):
    # round 33 item 1: abs 1e-30 passed pairs that --tol abs:0 and exact failed.
    for tolerance in (EXACT, Tolerance(abs=0), Tolerance(abs=1e-30), Tolerance(rel=0)):
        assert not judge(ref, run, tolerance).passed, tolerance
    assert not judge(ref, run, Tolerance(rel=1e-30)).passed


def test_a_real_excess_over_the_bound_still_fails():
    assert not judge(0.9, 0.9051, Tolerance(abs=0.005)).passed
    assert not judge(0.9, 0.905 + 1e-9, Tolerance(abs=0.005)).passed
    assert not judge(200.0, 201.02, Tolerance(rel=0.005)).passed


def test_a_zero_bound_stays_bitwise():
    assert not judge(0.01, math.nextafter(0.01, 1), Tolerance(abs=0)).passed
    assert not judge(0.01, math.nextafter(0.01, 1), Tolerance(rel=0)).passed
    assert judge(0.01, 0.01, Tolerance(abs=0)).passed


def test_either_bound_is_enough():
    both = Tolerance(abs=0.1, rel=0.5)
    assert judge(2.0, 2.9, both).passed  # abs fails, rel passes
    assert judge(0.0, 0.05, both).passed  # rel of a zero reference fails, abs passes
    assert not judge(0.0, 0.2, both).passed


def test_default_is_bitwise_equality():
    result = judge(0.1, math.nextafter(0.1, 1))
    assert not result.passed
    assert result.reason == "out of tolerance (exact)"
    # As written: 0.10000000000000002 - 0.1 (the binary difference is 1.4e-17).
    assert result.delta == 2e-17
    assert judge(0.1, 0.1).identical


def test_delta_and_relative_delta_are_run_minus_reference():
    result = judge(0.5, 0.25, Tolerance(abs=1))
    assert result.delta == -0.25
    assert result.rel_delta == -0.5
    assert judge(0.0, 0.5, Tolerance(abs=1)).rel_delta is None


def test_nan_in_both_runs_counts_as_the_same_result():
    result = judge(float("nan"), float("nan"))
    assert result.passed and result.identical
    assert result.reason == "NaN in both runs"


@pytest.mark.parametrize(
    "ref, run, reason",
    [
        (float("nan"), 0.1, "NaN in the reference run only"),
        (0.1, float("nan"), "NaN in this run only"),
        (float("inf"), 1.0, "infinite in one run only"),
        (float("inf"), float("-inf"), "infinite in both runs, with opposite signs"),
    ],
)
def test_nan_or_infinity_on_one_side_fails_even_with_loose_tolerance(ref, run, reason):
    result = judge(ref, run, Tolerance(abs=1e9, rel=1e9))
    assert not result.passed
    assert result.reason == reason


def test_equal_infinities_are_identical():
    assert judge(float("inf"), float("inf")).identical


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"run_has": False}, "missing in this run"),
        ({"ref_has": False}, "missing in the reference run"),
        ({"ref_has": False, "run_has": False}, "missing in both runs"),
    ],
)
def test_missing_metric_fails_with_reason(kwargs, reason):
    result = judge(0.1, 0.1, Tolerance(abs=1), **kwargs)
    assert not result.passed
    assert result.reason == reason


@pytest.mark.parametrize("value", [None, "0.1", True])
def test_non_numbers_fail(value):
    result = judge(0.1, value, Tolerance(abs=1))
    assert not result.passed
    assert result.reason.startswith("not a number in this run")


@pytest.mark.parametrize("bad", [-1e-9, float("nan"), float("inf"), "1e-3", True])
def test_bad_tolerances_are_refused(bad):
    with pytest.raises(InputError, match="finite number >= 0"):
        Tolerance(abs=bad)


def test_tolerance_description():
    assert EXACT.describe() == "exact"
    assert Tolerance(abs=1e-6, rel=0.001).describe() == "abs 1e-06 or rel 0.001"
    assert Tolerance(abs=0).describe() == "abs 0"


def test_an_overflowing_delta_is_beyond_any_tolerance():
    result = compare_metric(
        "r",
        "loss",
        -1e308,
        1e308,
        reference_has=True,
        run_has=True,
        tolerance=Tolerance(abs=0.5, rel=0.5),
        tolerance_given=True,
    )
    assert result.delta == math.inf
    assert not result.passed
    assert result.reason == "out of tolerance (abs 0.5 or rel 0.5)"


def test_a_huge_integer_metric_is_described_not_printed():
    # brkc F8: 10**400 is no float; the reason says so in a few words.
    result = compare_metric(
        "r",
        "loss",
        0.1,
        10**400,
        reference_has=True,
        run_has=True,
        tolerance=EXACT,
        tolerance_given=False,
    )
    assert result.reason == "not a number in this run (an integer of 401 digits)"


BIGGEST = 1.7976931348623157e308


@pytest.mark.parametrize(
    "ref, run, tolerance, passed",
    [
        # |delta| is 1.7e308 but abs + ulp(operands) overflowed to inf: it passed.
        (-1.5e308, 2e307, Tolerance(abs=1e-6), False),
        # The delta 2e308 overflows; rel * |ref| = 2.5e308 (or 1e616) is above it.
        (1e308, -1e308, Tolerance(rel=2.5), True),
        (1e308, -1e308, Tolerance(rel=1e308), True),
        (1e308, -1e308, Tolerance(rel=1.9), False),
        (1e308, -1e308, Tolerance(abs=BIGGEST), False),
        (0.9, 0.95, Tolerance(abs=BIGGEST), True),
        (0.9, 0.95, Tolerance(abs=1e308, rel=1e308), True),
        (BIGGEST, -BIGGEST, Tolerance(rel=2.0), True),
        (BIGGEST, -BIGGEST, Tolerance(rel=1.99), False),
    ],
)
def test_huge_values_and_tolerances_are_judged_without_overflow(
    ref, run, tolerance, passed
):
    result = judge(ref, run, tolerance)
    assert result.passed is passed
    verdict = "within" if passed else "out of"
    assert result.reason == f"{verdict} tolerance ({tolerance.describe()})"


def test_no_rounding_slack_at_ordinary_sizes():
    # As written, 0.905 - 0.9 is 0.005: at abs 0.005, over anything less.
    assert judge(0.9, 0.905, Tolerance(abs=0.005)).passed
    assert not judge(0.9, 0.905, Tolerance(abs=0.00499999)).passed
    assert not judge(0.0, 5e-324, Tolerance(abs=0)).passed


@pytest.mark.parametrize(
    "ref, run, tolerance, passed",
    [
        # cg 5: a relative difference of 1 passed rel 0.5 where floats are
        # subnormal, their spacing (5e-324) as wide as the values themselves.
        (5e-324, 0.0, Tolerance(rel=0.5), False),
        (1e-320, 0.0, Tolerance(rel=0.5), False),
        (1e-320, 1.5e-320, Tolerance(rel=0.3), False),
        (1e-320, 1.5e-320, Tolerance(rel=0.5), True),
        (5e-324, 1e-323, Tolerance(abs=5e-324), True),
    ],
)
def test_subnormal_values_get_no_rounding_slack_as_wide_as_themselves(
    ref, run, tolerance, passed
):
    assert judge(ref, run, tolerance).passed is passed


def test_the_relative_difference_of_values_near_the_largest_float_is_exact():
    # bx 3: --json said rel_delta "-Infinity" for 1.7e308 against -1.7e308,
    # whose difference overflows but whose relative difference is -2.
    result = judge(1.7e308, -1.7e308, Tolerance(rel=3.0))
    assert result.delta == -math.inf
    assert result.rel_delta == -2.0
    assert result.passed
    tiny = judge(5e-324, 1.7e308, Tolerance(rel=3.0))
    assert tiny.rel_delta == math.inf  # past the largest float, as schemas.md says


BIG = 2**53  # the first integer past which floats skip integers


@pytest.mark.parametrize(
    "ref, run, tolerance, passed, identical",
    [
        # brk r35: as floats, 2**53 + 1 read 2**53: "identical".
        (BIG, BIG + 1, EXACT, False, False),
        (BIG + 1, BIG + 1, EXACT, True, True),
        (BIG, BIG + 1, Tolerance(abs=1.0), True, False),
        (BIG, BIG + 3, Tolerance(abs=2.0), False, False),
        (10**20, 10**20 + 1, EXACT, False, False),
    ],
)
def test_an_integer_past_2_53_is_judged_exactly(ref, run, tolerance, passed, identical):
    result = judge(ref, run, tolerance)
    assert (result.passed, result.identical) == (passed, identical)
    assert result.delta == run - ref
    assert (result.value, result.reference_value) == (run, ref)
