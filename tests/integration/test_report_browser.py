"""Open a rendered report in headless Chromium: no console errors, curves drawn."""

import importlib.util
import os
import re
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

from reprobox.compare import compare_runs
from reprobox.compare.charts import PALETTE
from reprobox.proc import run_command
from reprobox.report import render_report_html

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE_LINE = re.compile(r":CONSOLE[:(]")


def _synthetic():
    """Load the shared synthetic record builders from tests/unit/compare."""
    if "reprobox_synthetic" not in sys.modules:
        path = Path(__file__).parents[1] / "unit" / "compare" / "synthetic.py"
        spec = importlib.util.spec_from_file_location("reprobox_synthetic", path)
        sys.modules["reprobox_synthetic"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["reprobox_synthetic"])
    return sys.modules["reprobox_synthetic"]


@pytest.fixture(scope="module")
def chromium() -> str:
    """Return the chromium binary, installing the Debian package when missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("chromium is missing and apt-get as root is not available")
    result = run_command(
        ["apt-get", "install", "-y", "chromium"], check=False, timeout=900
    )
    found = shutil.which("chromium")
    if result.returncode != 0 or not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        pytest.skip(f"chromium could not be installed: {' '.join(tail)}")
    return found


def open_page(chromium: str, page: Path, tmp_path: Path, *extra: str):
    argv = [
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'profile'}",
        *extra,
        page.as_uri(),
    ]
    return run_command(argv, check=False, timeout=120)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE_LINE.search(line)]


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG into rows of pixel bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    offset, idat, header = 8, bytearray(), None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert (depth, interlace) == (8, 0) and colour_type in (2, 6)
    channels = 4 if colour_type == 6 else 3
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, row, previous, channels)
        rows.append(bytes(row))
        previous = row
    return width, channels, rows


def _unfilter(kind: int, row: bytearray, up: bytearray, bpp: int) -> None:
    if kind == 1:
        for i in range(bpp, len(row)):
            row[i] = (row[i] + row[i - bpp]) & 255
    elif kind == 2:
        for i in range(len(row)):
            row[i] = (row[i] + up[i]) & 255
    elif kind == 3:
        for i in range(len(row)):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + (left + up[i]) // 2) & 255
    elif kind == 4:
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b, c = up[i], (up[i - bpp] if i >= bpp else 0)
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            row[i] = (row[i] + pred) & 255


def pixel_colours(path: Path) -> dict[tuple[int, int, int], int]:
    width, channels, rows = read_png(path)
    counts: dict[tuple[int, int, int], int] = {}
    for row in rows:
        for x in range(0, width * channels, channels):
            colour = (row[x], row[x + 1], row[x + 2])
            counts[colour] = counts.get(colour, 0) + 1
    return counts


def hex_colour(text: str) -> tuple[int, int, int]:
    return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    synthetic = _synthetic()
    ref = synthetic.make_record("20240101T000000Z-aaaaaa")
    run = synthetic.clone(
        ref,
        "20240101T010000Z-bbbbbb",
        metrics={"loss": 0.1202998459, "accuracy": 0.9688},
        machine__onednn__TF_ENABLE_ONEDNN_OPTS="0",
        history=[{"call": 0, "epochs": synthetic.curve_epochs(8, seed=3, wobble=0.04)}],
    )
    page = tmp_path_factory.mktemp("report") / "report.html"
    page.write_text(render_report_html([ref, run], compare_runs([ref, run])))
    return page


def test_console_check_catches_a_planted_error(chromium, tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><p>x</p><script>console.error("planted")</script>')
    result = open_page(chromium, page, tmp_path, "--dump-dom")
    assert any('"planted"' in line for line in console_messages(result.stderr))


def test_report_loads_without_console_errors_and_has_curve_paths(
    chromium, report_page, tmp_path
):
    result = open_page(chromium, report_page, tmp_path, "--dump-dom")

    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    dom = result.stdout
    assert dom.count('<svg class="chart"') == 4
    paths = re.findall(r'<path class="curve" d="(M[^"]+)"', dom)
    assert len(paths) == 8
    assert all(d.count("L") >= 4 for d in paths)


def test_screenshot_shows_the_curves(chromium, report_page, tmp_path):
    shot = tmp_path / "report.png"
    result = open_page(
        chromium,
        report_page,
        tmp_path,
        "--window-size=1100,1400",
        f"--screenshot={shot}",
    )
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]

    colours = pixel_colours(shot)
    total = sum(colours.values())
    white = colours.get((255, 255, 255), 0)
    assert len(colours) > 100, f"only {len(colours)} distinct colours: blank page?"
    assert white / total < 0.97
    for run_colour in PALETTE[:2]:  # the two runs' legend lines and markers
        assert colours.get(hex_colour(run_colour), 0) > 50, run_colour
