"""Read TensorFlow's "tested build configurations" page into CUDA table rows."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from reprobox.errors import InputError
from reprobox.gpu.table import format_mm, major_minor

# TensorFlow 2.14 was the first release whose `tensorflow[and-cuda]` extra pulls
# CUDA and cuDNN as nvidia-* wheels; from 2.20 that extra names version ranges
# instead of exact pins, so the lock must pin the nvidia-* wheels itself.
PIP_CUDA_FROM = (2, 14)
NVIDIA_RANGES_FROM = (2, 20)
OLDEST_TF = (2, 0)

_TF_CELL = re.compile(r"^tensorflow(?:_gpu|-gpu)?-(\d+\.\d+)(?:\.\d+)*\s*$")
_PY_RANGE = re.compile(r"(\d+\.\d+)\s*-\s*(\d+\.\d+)")


class _Tables(HTMLParser):
    """Collect headings and tables in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, Any]] = []
        self._heading: list[str] | None = None
        self._table: list[list[str]] | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "h3", "h4", "h5"):
            self._heading = []
        elif tag == "table":
            self._table = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("h2", "h3", "h4", "h5") and self._heading is not None:
            self.items.append(("heading", " ".join("".join(self._heading).split())))
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.items.append(("table", self._table))
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._heading is not None:
            self._heading.append(data)


def linux_gpu_table(html: str) -> list[list[str]]:
    """Return the rows (header first) of the Linux GPU table of the page."""
    parser = _Tables()
    parser.feed(html)
    parser.close()
    section = None
    for kind, value in parser.items:
        if kind == "heading":
            lowered = value.lower()
            if lowered in ("linux", "macos", "windows"):
                section = lowered
            elif lowered == "gpu" and section == "linux":
                section = "linux-gpu"
            elif lowered == "cpu" and section in ("linux", "linux-gpu"):
                section = "linux"
        elif section == "linux-gpu" and value and _has_gpu_header(value[0]):
            return value
    raise InputError(
        "no Linux GPU table found in the page",
        hint="save https://www.tensorflow.org/install/source as HTML "
        "and pass that file",
    )


def _has_gpu_header(header: list[str]) -> bool:
    names = {cell.lower() for cell in header}
    return {"version", "cudnn", "cuda"} <= names


def parse_tested_configurations(html: str) -> list[dict[str, Any]]:
    """Return one row per TensorFlow minor release from the page's Linux GPU table."""
    table = linux_gpu_table(html)
    header = [cell.lower() for cell in table[0]]
    col = {name: header.index(name) for name in ("version", "cudnn", "cuda")}
    col["python"] = next(
        i for i, name in enumerate(header) if name.startswith("python")
    )
    by_minor: dict[tuple[int, int], dict[str, Any]] = {}
    for cells in table[1:]:
        match = _TF_CELL.match(cells[col["version"]])
        if not match:
            continue
        minor = major_minor(match.group(1))
        if minor < OLDEST_TF or minor in by_minor:
            continue
        by_minor[minor] = _row(minor, cells[col["python"]], cells, col)
    if not by_minor:
        raise InputError("the Linux GPU table holds no TensorFlow 2.x rows")
    return [by_minor[key] for key in sorted(by_minor)]


def _row(minor, python_cell: str, cells: list[str], col) -> dict[str, Any]:
    ranges = [
        (major_minor(lo), major_minor(hi))
        for lo, hi in _PY_RANGE.findall(python_cell)
        if lo.startswith("3.")
    ]
    if not ranges:
        raise InputError(f"cannot read the Python range {python_cell!r}")
    lo, hi = ranges[-1]
    pip_cuda = minor >= PIP_CUDA_FROM
    wheels = None
    if pip_cuda:
        wheels = "ranges" if minor >= NVIDIA_RANGES_FROM else "pinned"
    return {
        "first": format_mm(minor),
        "last": format_mm(minor),
        "python": [format_mm(lo), format_mm(hi)],
        "cuda": _dotted(cells[col["cuda"]]),
        "cudnn": _dotted(cells[col["cudnn"]]),
        "pip_cuda": pip_cuda,
        "nvidia_wheels": wheels,
    }


def _dotted(cell: str) -> str:
    text = cell.strip()
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        raise InputError(f"cannot read the CUDA/cuDNN version {cell!r}")
    return text if "." in text else f"{text}.0"


def merge_series(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive minor releases that share every field into one range."""
    merged: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: major_minor(r["first"])):
        if merged and _same_build(merged[-1], row) and _next_minor(merged[-1], row):
            merged[-1] = {**merged[-1], "last": row["last"]}
        else:
            merged.append(dict(row))
    return merged


def _same_build(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("python", "cuda", "cudnn", "pip_cuda", "nvidia_wheels")
    return all(a[key] == b[key] for key in keys)


def _next_minor(a: dict[str, Any], b: dict[str, Any]) -> bool:
    last, first = major_minor(a["last"]), major_minor(b["first"])
    return first == (last[0], last[1] + 1)


def expand_series(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split range rows into one row per minor release (the inverse of merging)."""
    out = []
    for row in rows:
        first, last = major_minor(row["first"]), major_minor(row["last"])
        for minor in range(first[1], last[1] + 1):
            name = format_mm((first[0], minor))
            out.append({**row, "first": name, "last": name})
    return out


def refresh_tensorflow_rows(
    current: list[dict[str, Any]], page: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Overlay the page's rows on the table's; return merged rows and what changed.

    A release the page no longer lists keeps its current row, so refreshing from
    an older saved page never drops newer releases.
    """
    by_minor = {row["first"]: row for row in expand_series(current)}
    changes = []
    for row in page:
        old = by_minor.get(row["first"])
        if old != row:
            verb = "add" if old is None else "change"
            changes.append(f"{verb} tensorflow {row['first']}: {_describe(row)}")
            by_minor[row["first"]] = row
    return merge_series(list(by_minor.values())), changes


def _describe(row: dict[str, Any]) -> str:
    wheels = f", nvidia wheels {row['nvidia_wheels']}" if row["pip_cuda"] else ""
    python = "-".join(row["python"])
    return f"python {python}, CUDA {row['cuda']}, cuDNN {row['cudnn']}{wheels}"
