"""The report's runs table says each run's verdict and status as compare does,
from one source (breaker BC 3: the reference of differing repeats, or a failed
reference, read '-' where compare said FAIL, and the exit code was dropped)."""

import re

from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_markdown
from reprobox.report import render_report_html


def _runs_rows(html: str) -> dict[str, tuple[str, str]]:
    """Map each run of the report's runs table to its (status, verdict) cells."""
    rows = {}
    for row in re.findall(r"<tr><td><span class=\"swatch\".*?</tr>", html, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        run_id = re.sub(r"<[^>]+>", "", cells[0]).removesuffix(" (ref)")
        rows[run_id] = (cells[2], cells[3])
    return rows


def _markdown_rows(markdown: str) -> dict[str, tuple[str, str]]:
    """Map each run of compare --md's runs table to its (status, verdict)."""
    table = markdown.split("## Runs\n\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].removesuffix(" (ref)")] = (cells[2], cells[3])
    return rows


def _repeats(first, second):
    a = make_record("R1", options__repeat_index=0, metrics={"loss": first})
    b = clone(
        a,
        "R2",
        options__repeat_index=1,
        metrics={"loss": second},
        started_at="2024-01-01T00:00:09Z",
    )
    return [a, b]


def test_every_repeat_that_differs_reads_fail_in_the_report():
    records = _repeats(0.5, 0.51)
    for reference in (0, 1):
        comparison = compare_runs(records, reference=reference)
        rows = _runs_rows(render_report_html(records, comparison))
        assert rows == {
            "R1": ("succeeded", "FAIL"),
            "R2": ("succeeded", "FAIL"),
        }
        assert rows == _markdown_rows(render_markdown(comparison))


def test_a_failed_reference_reads_fail_with_its_exit_code():
    good = make_record("G", metrics={"loss": 0.5})
    failed = clone(good, "F", status="failed", exit_code=1)
    records = [good, failed]
    comparison = compare_runs(records, reference="F")
    rows = _runs_rows(render_report_html(records, comparison))
    assert rows["F"] == ("failed (exit code 1)", "FAIL")
    assert rows == _markdown_rows(render_markdown(comparison))


def test_a_reference_that_holds_still_reads_a_dash():
    records = _repeats(0.5, 0.5)
    rows = _runs_rows(render_report_html(records, compare_runs(records)))
    assert rows == {"R1": ("succeeded", "-"), "R2": ("succeeded", "pass")}
