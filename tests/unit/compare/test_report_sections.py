"""The report shows what compare shows: a reference judged on a seed band is
red with its reason (breaker BF 3: its cell read plain 'ref', no title, while
compare said FAIL), and every table compare's text has, the seed-noise
differences too (BF 4: the report had only a line under Seed noise)."""

import html as html_text
import math
import re

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_text
from reprobox.compare.metrics import Tolerance
from reprobox.compare.render import table_sections
from reprobox.report import render_report_html


def _sweep(**extra):
    """Seeds 0-2 of one sweep on one machine, loss 0.10, 0.12, 0.11."""
    base = make_record("S0")
    return [
        clone(
            base,
            f"A{seed}",
            seed=seed,
            options__seed_sweep="sw1",
            metrics={"loss": [0.10, 0.12, 0.11][seed], **extra},
            started_at=f"2024-01-01T00:00:0{seed + 1}Z",
        )
        for seed in range(3)
    ]


def _elsewhere(run_id, seed, loss, started_at):
    """A run of another engine and CPU, off the sweep."""
    return clone(
        make_record("S0"),
        run_id,
        seed=seed,
        engine__host="ssh://engine-b",
        machine__cpu__model="EPYC 9654",
        metrics={"loss": loss},
        started_at=started_at,
    )


def _metric_cells(html: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Map (run, metric) of the report's metrics table to its (class, title)."""
    table = html.split('<table class="metrics">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    runs = [
        re.sub(r" \(ref\)$", "", cell)
        for cell in re.findall(r"<th>(.*?)</th>", rows[0])[1:]
    ]
    cells = {}
    for row in rows[1:]:
        metric = re.search(r"<th>(.*?)</th>", row).group(1)
        found = re.findall(r'<td class="([^"]*)" title="([^"]*)">', row)
        for run, (css, title) in zip(runs, found, strict=True):
            cells[run, metric] = (css, html_text.unescape(title))
    return cells


def _tables(html: str) -> dict[str, list[list[str]]]:
    """Map each h2 heading of the page to its table's rows, header first."""
    tables = {}
    for heading, body in re.findall(
        r"<h2>(.*?)</h2>\s*<div class=\"scroll\"><table[^>]*>(.*?)</table>", html, re.S
    ):
        tables[html_text.unescape(heading)] = [
            [
                html_text.unescape(re.sub(r"<[^>]+>", "", cell))
                for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            ]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
        ]
    return tables


@pytest.mark.parametrize(
    ("loss", "css"),
    [
        (0.15, "num fail"),  # 0.03 above the band, tolerance 0.01
        (0.125, "num pass"),  # 0.005 above: within the widened band
        (math.nan, "num fail"),
    ],
)
def test_a_reference_judged_on_a_band_shows_its_verdict_and_reason(loss, css):
    reference = _elsewhere("B", 42, loss, "2024-01-01T00:00:00Z")
    records = [reference, *_sweep()]
    comparison = compare_runs(records, tolerances={"loss": Tolerance(abs=0.01)})
    [judged] = [r for r in comparison.results if r.run_id == "B"]
    assert comparison.reference == "B" and judged.seed_band == (0.1, 0.12)

    cells = _metric_cells(render_report_html(records, comparison))

    assert cells["B", "loss"] == (css, judged.reason)
    assert "seed band [0.1, 0.12] of sweep sw1" in judged.reason


def test_every_result_compare_shows_reaches_its_report_cell():
    # Band failure of the reference, seed noise and a sweep seed's NaN at once.
    reference = _elsewhere("B", 42, 0.9, "2024-01-01T00:00:00Z")
    sweep = _sweep()
    sweep[2] = clone(sweep[2], "A2", metrics={"loss": math.nan})
    records = [reference, *sweep]
    comparison = compare_runs(records, tolerances={"loss": Tolerance(abs=0.01)})

    cells = _metric_cells(render_report_html(records, comparison))

    assert {key: title for key, (_, title) in cells.items()} == {
        (r.run_id, r.metric): r.reason for r in comparison.results
    }
    assert cells["B", "loss"][0] == cells["A2", "loss"][0] == "num fail"


@pytest.mark.parametrize(
    ("loss", "against"),
    [
        (0.135, "within noise"),
        (0.145, "beyond noise, within tolerance"),
        (0.2, "beyond noise"),
    ],
)
def test_the_report_carries_the_differences_against_seed_noise(loss, against):
    records = [*_sweep(), _elsewhere("C", 1, loss, "2024-01-01T00:01:00Z")]
    comparison = compare_runs(records, tolerances={"loss": Tolerance(abs=0.03)})
    [(_, header, rows)] = [
        section
        for section in table_sections(comparison)
        if section[0] == "Differences against seed noise"
    ]

    tables = _tables(render_report_html(records, comparison))

    assert tables["Differences against seed noise"] == [header, *rows]
    assert header[4] == "against noise" and rows[0][:3] == ["C", "loss", "sw1"]
    assert rows[0][4] == against


def test_the_report_shows_every_section_compare_text_shows():
    # Nondeterminism, Missing metrics and Notes beside the seed-noise tables.
    sweep = _sweep(acc=0.5)
    other = _elsewhere("C", 1, 0.2, "2024-01-01T00:01:00Z")
    again = clone(other, "D", metrics={"loss": 0.21}, started_at="2024-01-01T00:02Z")
    records = [*sweep, other, again]
    comparison = compare_runs(
        records, tolerances={"loss": Tolerance(abs=0.03), "f1": Tolerance(abs=1)}
    )
    text = render_text(comparison)
    headings = [
        line
        for line in text.splitlines()[3:]
        if line and not line.startswith(" ") and not line.startswith("verdict")
    ]
    assert {"Nondeterminism", "Missing metrics", "Notes"} <= set(headings)

    html = render_report_html(records, comparison)
    shown = re.findall(r"<h2>(.*?)</h2>", html)

    # The report words one heading its own way: the part before "(" counts.
    assert sorted(html_text.unescape(h).split(" (")[0] for h in shown) == sorted(
        h.split(" (")[0] for h in headings
    )


def test_a_run_measured_by_its_seeds_sweep_run_says_so_in_every_table():
    # Training curves and Setup differences read "C (vs A1)" in compare's text
    # and plain "C" in the report, as if C were set against the reference.
    records = [*_sweep(), _elsewhere("C", 1, 0.2, "2024-01-01T00:01:00Z")]
    comparison = compare_runs(records, tolerances={"loss": Tolerance(abs=0.03)})
    sections = {
        heading.split(" (")[0]: rows for heading, _, rows in table_sections(comparison)
    }

    html = render_report_html(records, comparison)
    tables = {heading.split(" (")[0]: rows for heading, rows in _tables(html).items()}

    assert tables["Training curves"][1:] == sections["Training curves"]
    assert tables["Setup differences"][1:] == [
        row[1:] for row in sections["Setup differences"]
    ]
    assert ["C (vs A1)", "machine.cpu.model"] in [
        row[:2] for row in tables["Setup differences"]
    ]
    suspects = [row[1:3] for row in sections["Setup differences"] if row[0] == "*"]
    bold = re.findall(r'<tr class="suspect"><td>(.*?)</td><td><code>(.*?)</code>', html)
    assert suspects and [list(pair) for pair in bold] == suspects
