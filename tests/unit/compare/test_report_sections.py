"""The report shows what compare shows: a reference judged on a seed band is
red with its reason (breaker BF 3: its cell read plain 'ref', no title, while
compare said FAIL)."""

import html as html_text
import math
import re

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs
from reprobox.compare.metrics import Tolerance
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
