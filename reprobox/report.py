"""Render a comparison as one self-contained HTML page with inline SVG curves."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from reprobox.compare.charts import Series, curve_series, render_chart, run_color
from reprobox.compare.comparison import Comparison, format_value
from reprobox.compare.metrics import delta_text
from reprobox.compare.records import Record
from reprobox.compare.render import (
    format_number,
    list_sections,
    run_status,
    run_verdict,
    table_sections,
    verdict_aside,
    verdict_parts,
)
from reprobox.shown_text import cut_tokens
from reprobox.templates_dir import environment, templates_dir

REPORT_TEMPLATE = "report.html.j2"
REPORT_MARK = '<meta name="generator" content="reprobox report">'
REPORT_END = "</body>\n</html>\n"
# Compare's tables the page places or draws in its own way: swatches, one
# column per run, bold suspects, curves above their charts; from the same cells
# where it can. Every other table compare shows, the page shows as compare
# builds it (table_sections), so none can go missing.
DRAWN_APART = ("Runs", "Metrics", "Training curves", "Setup differences")
# A cell of those tables that is a number alone (0.1, +3.4e+308, NaN) is set
# in the monospace its digits line up in.
_NUMBER_CELL = re.compile(r"[+-]?(\d[\d.]*(e[+-]?\d+)?|NaN|Infinity|n/a)")


def render_report_html(records: Sequence[Record], comparison: Comparison) -> str:
    """Render the report page: verdict, every table and list compare has, curves."""
    by_id = {record.run_id: record for record in records}
    ordered = [by_id[run.run_id] for run in comparison.runs if run.run_id in by_id]
    results = {(r.run_id, r.metric): r for r in comparison.results}
    sections = {
        _short(heading): (heading, header, rows)
        for heading, header, rows in table_sections(comparison)
    }

    metric_rows = [
        {
            "name": name,
            "cells": [_cell(comparison, results, run, name) for run in comparison.runs],
        }
        for name in comparison.metrics
    ]
    # A chart is drawn and escaped here, not in the template: its title and
    # labels are cut before that, and before a long label is shortened.
    charts = [
        render_chart(
            cut_tokens(name),
            _shown_series(curve_series(ordered, name, comparison.reference)),
        )
        for name in comparison.history_metrics
    ]
    return (
        _environment()
        .get_template(REPORT_TEMPLATE)
        .render(
            comparison=comparison,
            projects=sorted({record.project for record in records if record.project}),
            colors={
                run.run_id: run_color(i)[0] for i, run in enumerate(comparison.runs)
            },
            verdict=_verdict(comparison),
            metric_rows=metric_rows,
            differences=sections.get("Setup differences", ("", [], []))[2],
            curves=sections.get("Training curves"),
            charts=charts,
            tables=[
                section
                for short, section in sections.items()
                if short not in DRAWN_APART
            ],
            lists=list_sections(comparison),
        )
    )


def _shown_series(series: list[Series]) -> list[Series]:
    """Return curves labelled as the page shows run ids: tokens cut."""
    return [dataclasses.replace(s, label=cut_tokens(s.label)) for s in series]


def _shown(value: Any) -> Any:
    """Cut tokens from what a template expression shows, before it is escaped.

    Every value the page shows comes from records (run ids, labels, metric
    names, setup values, notes) and passes here, as each line compare prints
    passes cli_output's cut. Markup the page built itself (a table, a chart)
    was cut before its escaping; it is cut again as it stands, which only
    changes a token, never a tag.
    """
    if hasattr(value, "__html__"):
        return Markup(cut_tokens(value.__html__()))
    return cut_tokens(str(value))


def _short(heading: str) -> str:
    """Return a table's heading without what its parenthesis adds."""
    return heading.split(" (")[0]


def _verdict(comparison: Comparison) -> tuple[str, str]:
    """Return the verdict word and what it rests on, as compare's line says it,
    what it leaves out (noise runs, a setup that gave different numbers) too."""
    word, detail = verdict_parts(comparison)
    return word, detail + verdict_aside(comparison)


def _cell(comparison: Comparison, results, run, name: str) -> dict:
    """Describe one run's value of one metric for the metrics table.

    A result of the reference's own (judged on a seed band) is shown as any
    run's: coloured by its verdict, its reason as the cell's title.
    """
    value = comparison.values.get(run.run_id, {}).get(name)
    result = results.get((run.run_id, name))
    if result is None and run.is_reference:
        return {"value": format_number(value), "delta": "", "state": "ref", "why": ""}
    if result is None:  # neither this run nor the reference has it: not compared
        return {
            "value": format_number(value),
            "delta": "",
            "state": "absent",
            "why": "not compared: missing in this run and in the reference run",
        }
    if result.seed_noise and result.passed is None:
        state = "noise"  # another seed of a sweep: the noise, not a failure
    elif result.passed is False:  # overruled ones too: identical, yet failed
        state = "fail"
    else:
        state = "same" if result.identical else "pass"
    delta = "" if result.identical else delta_text(result)
    return {
        "value": format_number(value),
        "delta": delta,
        "state": state,
        "why": result.reason,
    }


def _environment() -> jinja2.Environment:
    """Return the shared template environment, autoescaping, with value filters;
    every value shown has its tokens cut first (_shown)."""
    env = environment(autoescape=True)
    env.finalize = _shown
    env.filters.update(
        value=format_value,
        run_status=run_status,
        run_verdict=run_verdict,
    )
    env.tests["number_cell"] = lambda text: bool(_NUMBER_CELL.fullmatch(text))
    return env


@functools.cache
def report_head() -> bytes:
    """Return how every report starts: the template up to its generator mark."""
    source = (templates_dir() / REPORT_TEMPLATE).read_text(encoding="utf-8")
    return source[: source.index(REPORT_MARK) + len(REPORT_MARK) + 1].encode()


def is_reprobox_report(path: Path) -> bool:
    """Tell whether path holds, whole, a report as reprobox writes it.

    It must start with the template's fixed head, generator mark in its place,
    and end as the page does. A file that merely quotes the mark (notes about
    reprobox, a Markdown page) is someone's, whatever its name.
    """
    head, end = report_head(), REPORT_END.encode()
    try:
        with open(path, "rb") as fh:
            start = fh.read(len(head))
            size = fh.seek(0, 2)
            fh.seek(max(size - len(end), 0))
            tail = fh.read()
    except OSError:
        return False
    return start == head and size >= len(head) + len(end) and tail == end
