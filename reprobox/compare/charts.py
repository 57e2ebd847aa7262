"""Draw the training curves of several runs as inline SVG, one chart per metric."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from reprobox.compare.history import epoch_rows
from reprobox.compare.records import Record, as_number

WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 70, 250, 34, 46
LABEL_CHARS = 34  # legend labels beyond this are shortened to fit
LEGEND_LIMIT = 16
MARKER_LIMIT = 20  # draw point markers only for this many runs or fewer
PALETTE = (
    "#1864ab",
    "#e67700",
    "#2b8a3e",
    "#c92a2a",
    "#7048e8",
    "#0c8599",
    "#d6336c",
    "#8d5524",
    "#5c940d",
    "#495057",
)


@dataclass(frozen=True)
class Series:
    """One run's values of one metric: (x, y) points, None where a line breaks."""

    label: str
    color: str
    dash: str
    is_reference: bool
    points: tuple[tuple[float, float | None], ...]


def run_color(index: int) -> tuple[str, str]:
    """Return a distinct colour and dash pattern for the run at index."""
    if index < len(PALETTE):
        return PALETTE[index], ""
    hue = (index * 137.508) % 360
    return f"hsl({hue:.0f},65%,40%)", "6 3" if index % 2 else "2 2"


def curve_series(
    records: Sequence[Record], metric: str, reference: str
) -> list[Series]:
    """Collect each run's per-epoch values of metric over all fit calls in order."""
    series = []
    for index, record in enumerate(records):
        points: list[tuple[float, float | None]] = []
        offset = 0
        for call in record.history:
            rows = epoch_rows(call)
            for position, row in enumerate(rows):
                epoch = as_number(row.get("epoch"))
                finite = epoch is not None and math.isfinite(epoch)
                x = offset + (epoch if finite else position)
                y = as_number(row.get(metric))
                points.append((x, y if y is not None and math.isfinite(y) else None))
            offset += len(rows)
        color, dash = run_color(index)
        is_ref = record.run_id == reference
        label = record.run_id + (" (ref)" if is_ref else "")
        series.append(Series(label, color, dash, is_ref, tuple(points)))
    return series


def render_chart(metric: str, series: Sequence[Series]) -> Markup:
    """Draw one metric's curves with axes, ticks, grid and a legend."""
    xs = [x for s in series for x, y in s.points if y is not None]
    ys = [y for s in series for _, y in s.points if y is not None]
    title = escape(metric)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        + f'width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{title}</title>",
        f'<text class="chart-title" x="{LEFT}" y="20">{title}</text>',
    ]
    if not ys:
        parts.append(
            f'<text x="{LEFT}" y="{HEIGHT // 2}">no finite values</text></svg>'
        )
        return Markup("".join(parts))

    x_ticks = nice_ticks(min(xs), max(xs), 8, integer=True)
    y_ticks = nice_ticks(min(ys), max(ys), 6)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + _fraction(x, x_ticks) * plot_w

    def sy(y: float) -> float:
        return TOP + plot_h - _fraction(y, y_ticks) * plot_h

    parts += _axes(x_ticks, y_ticks, sx, sy, plot_w, plot_h)
    ordered = sorted(series, key=lambda s: not s.is_reference)  # reference underneath
    for s in ordered:
        parts += _curve(s, sx, sy, markers=len(series) <= MARKER_LIMIT)
    parts += _legend(series)
    parts.append("</svg>")
    return Markup("".join(parts))


def nice_ticks(
    low: float, high: float, count: int, integer: bool = False
) -> list[float]:
    """Return evenly spaced round tick values that cover low..high.

    Works over the whole float range: halves keep high - low finite, a span
    too small to step through is widened, and no tick goes past the largest
    float.
    """
    raw = high / count - low / count
    if raw < _SMALLEST_STEP:
        middle = low / 2 + high / 2
        pad = abs(middle) * 0.05
        if pad / count < _SMALLEST_STEP:  # zero, or subnormal: a unit span
            pad = 1.0
        low, high = middle - pad, middle + pad
        raw = high / count - low / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = float(max(1, math.ceil(step)))
    # The slack keeps a bound that sits on a tick, give or take rounding, on it.
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    last = max(last, first + 1)  # an axis needs two ticks to have a scale
    return [_clamp(i * step) for i in range(first, last + 1)]


_SMALLEST_STEP = 1e-300  # below this, 10 ** floor(log10(step)) underflows to 0


def _clamp(value: float) -> float:
    return max(-sys.float_info.max, min(sys.float_info.max, value))


def _fraction(value: float, ticks: Sequence[float]) -> float:
    """Place value between the first and last tick, 0..1, without overflow."""
    return (value / 2 - ticks[0] / 2) / (ticks[-1] / 2 - ticks[0] / 2)


def tick_label(value: float, step: float) -> str:
    """Format a tick with just enough decimals for its step."""
    if not 1e-12 <= abs(step) < 1e9 or abs(value) >= 1e15:
        return f"{value:.4g}"
    decimals = max(0, -math.floor(math.log10(step)))
    scaled = step * 10**decimals
    if abs(scaled - round(scaled)) > 1e-9:  # steps like 2.5 need one digit more
        decimals += 1
    text = f"{value:.{min(decimals, 12)}f}"
    return "0" if float(text) == 0 else text


def _axes(x_ticks, y_ticks, sx, sy, plot_w, plot_h) -> list[str]:
    parts = []
    x_step, y_step = x_ticks[1] - x_ticks[0], y_ticks[1] - y_ticks[0]
    for y in y_ticks:
        py = f"{sy(y):.1f}"
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py}" y2="{py}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{py}" text-anchor="end" '
            f'dominant-baseline="middle">{tick_label(y, y_step)}</text>'
        )
    bottom = TOP + plot_h
    for x in x_ticks:
        px = f"{sx(x):.1f}"
        parts.append(
            f'<line class="grid" x1="{px}" x2="{px}" y1="{TOP}" y2="{bottom}"/>'
            f'<text class="tick" x="{px}" y="{bottom + 16}" text-anchor="middle">'
            f"{tick_label(x, x_step)}</text>"
        )
    parts.append(
        f'<path class="axis" d="M{LEFT},{TOP} V{bottom} H{LEFT + plot_w}"/>'
        f'<text class="axis-label" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" '
        f'text-anchor="middle">epoch</text>'
    )
    return parts


def _curve(s: Series, sx, sy, *, markers: bool) -> list[str]:
    commands, pen_down = [], False
    for x, y in s.points:
        if y is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{sx(x):.2f},{sy(y):.2f}")
        pen_down = True
    if not commands:
        return []
    width, opacity = ("5", "0.45") if s.is_reference else ("2", "1")
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    label = escape(s.label)
    parts = [
        (
            f'<path class="curve" d="{" ".join(commands)}" fill="none" '
            f'stroke="{s.color}" stroke-width="{width}" stroke-opacity="{opacity}"'
            f'{dash} data-run="{label}"><title>{label}</title></path>'
        )
    ]
    if markers:
        parts += [
            f'<circle cx="{sx(x):.2f}" cy="{sy(y):.2f}" r="2.5" fill="{s.color}"/>'
            for x, y in s.points
            if y is not None
        ]
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    x = WIDTH - RIGHT + 16
    parts = []
    for row, s in enumerate(series[:LEGEND_LIMIT]):
        y = TOP + 8 + row * 18
        width = "5" if s.is_reference else "2"
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        parts.append(
            f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{s.color}" '
            f'stroke-width="{width}"{dash}/>'
            f'<text class="legend" x="{x + 28}" y="{y}" dominant-baseline="middle">'
            f"{escape(_shorten(s.label))}</text>"
        )
    hidden = len(series) - LEGEND_LIMIT
    if hidden > 0:
        y = TOP + 8 + LEGEND_LIMIT * 18
        parts.append(
            f'<text class="legend" x="{x}" y="{y}">and {hidden} more runs</text>'
        )
    return parts


def _shorten(label: str) -> str:
    if len(label) <= LABEL_CHARS:
        return label
    return label[: LABEL_CHARS - 1] + "\u2026"
