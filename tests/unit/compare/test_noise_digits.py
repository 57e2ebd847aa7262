"""Differences against seed noise show enough digits to read as judged."""

from decimal import Decimal
from fractions import Fraction

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_text
from reprobox.compare.metrics import Tolerance


def _noise_rows(text: str) -> list[str]:
    lines = text.splitlines()
    at = lines.index("Differences against seed noise") + 2
    end = lines.index("", at) if "" in lines[at:] else len(lines)
    return lines[at:end]


def _sweep(values):
    base = make_record("S0", metrics={"acc": values[0]})
    return [
        clone(base, f"S{i}", seed=i, options__seed_sweep="sw1", metrics={"acc": v})
        for i, v in enumerate(values)
    ]


def test_a_difference_just_over_the_seed_spread_is_shown_over_it():
    # Round 36 D: '|delta| 0.005 > seed spread 0.005' for 0.0050000000000001.
    runs = _sweep([0.9, 0.905])
    machine = clone(
        runs[0], "M", engine__host="unix:///e2.sock", options__seed_sweep=None
    )
    over = clone(machine, "M", metrics={"acc": 0.9050000000000001})
    comparison = compare_runs([*runs, over], tolerances={"acc": Tolerance(abs=0.01)})
    [row] = _noise_rows(render_text(comparison))
    assert " +0.0050000000000001 " in row
    assert row.endswith(
        "|delta| 0.0050000000000001 > seed spread 0.005: beyond seed noise"
    )

    level = clone(machine, "M", metrics={"acc": 0.905})
    comparison = compare_runs([*runs, level], tolerances={"acc": Tolerance(abs=0.01)})
    [row] = _noise_rows(render_text(comparison))
    assert " +0.005 " in row
    assert "|delta| 0.005 <= seed spread 0.005 and 2 std 0.00707" in row


def test_a_run_just_outside_a_seed_band_says_how_far_as_its_metrics_row_does():
    runs = _sweep([0.25, 0.5])
    lone = clone(
        runs[0],
        "L",
        seed=7,
        engine__host="unix:///e2.sock",
        options__seed_sweep=None,
        metrics={"acc": 0.5050000000000001},
    )
    comparison = compare_runs(
        [*runs, lone], reference="S0", tolerances={"acc": Tolerance(abs=0.005)}
    )
    [row] = _noise_rows(render_text(comparison))
    assert " +0.0050000000000001 " in row
    assert "0.5050000000000001 lies 0.0050000000000001 above the seed band" in row


@pytest.mark.parametrize("offset", [Fraction(1, 10**18), 0, -Fraction(1, 10**18)])
def test_delta_and_2_std_read_as_their_exact_order(offset):
    from reprobox.compare.noise import shown_beside_noise

    # Ten seeds with 2 std (0.4714...) under the spread (1): 2 std decides.
    [band] = compare_runs(_sweep([0.0] + [0.5] * 8 + [1.0])).noise_bands
    two_std = Fraction(Decimal(4 * band.exact_variance.numerator).sqrt()) / Fraction(
        Decimal(band.exact_variance.denominator).sqrt()
    )
    size = Fraction(str(round(float(two_std), 16))) + offset
    shown, (_, std) = shown_beside_noise(size, band)
    want = (size**2 > 4 * band.exact_variance) - (size**2 < 4 * band.exact_variance)
    read, bound = Fraction(Decimal(shown)), Fraction(Decimal(std))
    assert (read > bound) - (read < bound) == want
    assert shown != "0.471" or want == 0
