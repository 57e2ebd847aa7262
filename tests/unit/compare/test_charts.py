import math
import re

import pytest
from reprobox_synthetic import clone, curve_epochs, make_record

from reprobox.compare.charts import (
    PALETTE,
    curve_series,
    nice_ticks,
    render_chart,
    run_color,
    tick_label,
)


@pytest.mark.parametrize(
    "low, high, count, integer, expected",
    [
        (0.0, 1.0, 5, False, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.13, 0.87, 6, False, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),  # step 0.2 >= 0.74/6
        (0.1202, 0.1209, 6, False, [0.1202, 0.1204, 0.1206, 0.1208, 0.121]),
        (0, 4, 8, True, [0.0, 1.0, 2.0, 3.0, 4.0]),  # never a fractional epoch
        (0, 30, 8, True, [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]),
        (5.0, 5.0, 4, False, [4.6, 4.8, 5.0, 5.2, 5.4]),  # flat line: padded 5%
    ],
)
def test_nice_ticks_cover_the_range_with_round_steps(
    low, high, count, integer, expected
):
    assert nice_ticks(low, high, count, integer) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value, step, label",
    [
        (0.30000000000000004, 0.1, "0.3"),
        (0.25, 0.25, "0.25"),
        (3.0, 1.0, "3"),
        (2.5e-5, 2.5e-5, "0.000025"),
        (-1e-17, 0.1, "0"),
    ],
)
def test_tick_labels_have_just_enough_decimals(value, step, label):
    assert tick_label(value, step) == label


def test_run_colours_are_distinct_far_beyond_the_palette():
    colours = {run_color(i) for i in range(60)}
    assert len(colours) == 60
    assert run_color(0) == (PALETTE[0], "")


def test_chart_draws_one_path_per_run_with_its_colour_and_escapes_names():
    ref = make_record("A", history=[{"call": 0, "epochs": curve_epochs(5)}])
    run = clone(
        ref, "B<b>", history=[{"call": 0, "epochs": curve_epochs(7, wobble=0.1)}]
    )
    svg = str(render_chart("<loss>", curve_series([ref, run], "loss", "A")))

    paths = re.findall(r'<path class="curve" d="([^"]+)"[^>]*stroke="([^"]+)"', svg)
    assert [colour for _, colour in paths] == [PALETTE[0], PALETTE[1]]
    assert [d.count("L") for d, _ in paths] == [4, 6]
    assert "&lt;loss&gt;" in svg and "<loss>" not in svg
    assert "B&lt;b&gt;" in svg and "<b>" not in svg
    assert "A (ref)" in svg


def test_non_finite_points_break_the_line():
    epochs = curve_epochs(5)
    epochs[2]["loss"] = float("nan")
    ref = make_record("A", history=[{"call": 0, "epochs": epochs}])
    svg = str(render_chart("loss", curve_series([ref], "loss", "A")))
    [d] = re.findall(r'<path class="curve" d="([^"]+)"', svg)
    assert d.count("M") == 2 and d.count("L") == 2


def test_later_fit_calls_continue_the_epoch_axis():
    ref = make_record(
        "A",
        history=[
            {"call": 0, "epochs": curve_epochs(3)},
            {"call": 1, "epochs": curve_epochs(2)},
        ],
    )
    [series] = curve_series([ref], "loss", "A")
    assert [x for x, _ in series.points] == [0, 1, 2, 3, 4]


def test_chart_without_values_says_so():
    ref = make_record("A", history=[])
    assert "no finite values" in render_chart("loss", curve_series([ref], "loss", "A"))


@pytest.mark.parametrize(
    "low, high",
    [(0.0, 5e-324), (-1e308, 1e308), (0.0, 1.7e308), (-1.79e308, 1.79e308)],
)
def test_nice_ticks_work_over_the_whole_float_range(low, high):
    # brkc F4: these raised OverflowError or a math domain error.
    ticks = nice_ticks(low, high, 6)
    assert ticks[0] <= low and ticks[-1] >= high
    assert len(nice_ticks(low, high, 6, integer=True)) >= 2
    assert all(math.isfinite(t) for t in ticks)
    assert len(ticks) >= 2 and ticks == sorted(ticks)


@pytest.mark.parametrize(
    "epoch, values",
    [
        ("Infinity", (0.5, 0.4)),
        ("NaN", (0.5, 0.4)),
        (0, (1e308, -1e308)),
        (0, (0.0, 5e-324)),
        (0, (1e-322, 1e-322)),  # brkg F2: subnormal and flat: the step underflowed
        (0, (3e-322, 3e-322)),
        (1e-16, (0.5, 0.4)),  # brkg F3: epochs too close for two integer ticks
    ],
)
def test_report_chart_draws_extreme_histories(epoch, values):
    a = make_record(
        "A", history=[{"call": 0, "epochs": [{"epoch": epoch, "loss": values[0]}]}]
    )
    b = clone(
        a, "B", history=[{"call": 0, "epochs": [{"epoch": epoch, "loss": values[1]}]}]
    )
    svg = str(render_chart("loss", curve_series([a, b], "loss", "A")))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert not re.search(r'[">]-?(nan|inf)', svg, re.IGNORECASE)


def test_epochs_closer_than_one_still_get_an_x_axis():
    # brkg F3: epochs 0.0 and 1e-16 gave one integer tick and an IndexError.
    epochs = [{"epoch": 0.0, "loss": 0.5}, {"epoch": 1e-16, "loss": 0.4}]
    a = make_record("A", history=[{"call": 0, "epochs": epochs}])
    svg = str(render_chart("loss", curve_series([a, clone(a, "B")], "loss", "A")))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
