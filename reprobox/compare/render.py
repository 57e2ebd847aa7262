"""Turn a Comparison into terminal text, Markdown or JSON (strings only)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from reprobox.atomic import dump_json
from reprobox.compare.comparison import (
    Comparison,
    RunSummary,
    format_value,
    left_out_of_band,
    nothing_to_check,
    status_problem,
    unsuccessful_runs,
)
from reprobox.compare.environment import UnrecordedFacts
from reprobox.compare.exact import (
    beside_bound,
    exact_text,
    sides_agree,
    three_digits,
    value_text,
)
from reprobox.compare.headlines import status_with_exit
from reprobox.compare.metrics import MetricResult, MissingMetric, delta_text
from reprobox.compare.noise import (
    NoiseCheck,
    NondeterminismFinding,
    shown_beside_noise,
)
from reprobox.errors import escape_controls
from reprobox.shown_text import cut_tokens

# Markdown syntax a record string could carry into a rendered page: emphasis,
# code spans, links and images (both need "["), strikethrough, table cells;
# '<', '>' and '&' become entities, so no HTML or autolink either.
_MD_INLINE = re.compile(r"([\\`*_\[\]~|])")
# Block syntax counts only at the start of a line: list items and headings.
_MD_BLOCK_START = re.compile(r"^(\s*)(#|[-+](?=\s|$)|\d+(?=[.)](?:\s|$)))")


def render_json(comparison: Comparison) -> str:
    """Render as stable JSON; NaN and infinities become the strings NaN/Infinity."""
    return dump_json(_json_safe(dataclasses.asdict(comparison)))


def render_text(comparison: Comparison) -> str:
    """Render as aligned plain-text tables for a terminal."""
    out = [_title(comparison), ""]
    for heading, header, rows in table_sections(comparison):
        out.append(heading)
        out.extend("  " + line for line in _align([header, *rows]))
        out.append("")
    for heading, items in list_sections(comparison):
        out.append(heading)
        out.extend(f"  - {_clean(item)}" for item in items)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_markdown(comparison: Comparison) -> str:
    """Render as GitHub-flavoured Markdown tables."""
    out = [
        f"# {_md(_title(comparison).splitlines()[0])}",
        "",
        _md(_verdict(comparison)),
        "",
    ]
    for heading, header, rows in table_sections(comparison):
        out += [f"## {heading}", "", _md_row(header), _md_row(["---"] * len(header))]
        out += [_md_row(row) for row in rows]
        out.append("")
    for heading, items in list_sections(comparison):
        out += [f"## {heading}", ""] + [f"- {_md(item)}" for item in items] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def format_number(value: float | None) -> str:
    """Show a metric value exactly (shortest round-trip form), or 'absent'."""
    if value is None:
        return "absent"
    return value_text(value)


def format_delta(value: float | Fraction | None) -> str:
    """Show a difference in three significant digits with its sign.

    An exact difference (see MetricResult.exact_delta) is shown as it is past
    the largest float, where its float reads inf.
    """
    if value is None or value != value:  # no difference, or NaN
        return "n/a"
    return three_digits(value, sign=True)


def _title(comparison: Comparison) -> str:
    return (
        f"reprobox compare: {len(comparison.runs)} runs, reference "
        f"{comparison.reference}\n{_verdict(comparison)}"
    )


def _verdict(comparison: Comparison) -> str:
    word, detail = verdict_parts(comparison)
    return f"verdict: {word} ({detail})" + verdict_aside(comparison)


def verdict_aside(comparison: Comparison) -> str:
    """Say after the verdict what it leaves out: noise runs, and runs of one
    setup that differ within tolerance (not asked for as repeats)."""
    # A failed sweep run is judged (it fails), so it measures nothing.
    noise = sum(r.seed_noise and r.passed is None for r in comparison.runs)
    aside = (
        f"; {noise} sweep run(s) with other seeds measure the noise" if noise else ""
    )
    told = [f for f in comparison.nondeterminism if not f.repeats_disagree]
    return aside + "".join(f"; but {part}" for part in _nondeterminism_said(told))


def verdict_parts(comparison: Comparison) -> tuple[str, str]:
    """Return the verdict, PASS or FAIL, and what it rests on in a few words."""
    word = "PASS" if comparison.passed else "FAIL"
    reasons = [status_problem(run) for run in unsuccessful_runs(comparison)]
    reasons += _nondeterminism_said(
        [f for f in comparison.nondeterminism if f.repeats_disagree]
    )
    nothing = nothing_to_check(comparison.metrics)
    if nothing:
        return word, "; ".join([*reasons, nothing])
    # A failed sweep seed's rows fail for its status, said above; no tolerance
    # or band judged them, so they count in no check count.
    judged = [
        r for r in comparison.results if not r.seed_noise and not left_out_of_band(r)
    ]
    if not judged:  # a sweep only, or a sweep and its noise
        beyond = sum(c.beyond_noise for c in comparison.noise_checks)
        what = (
            f"{beyond} difference(s) beyond seed noise"
            if beyond
            else ("nothing beyond seed noise")
        )
        return word, "; ".join([*reasons, what])
    # A metric one side lacks fails its check, but nothing was out of any
    # tolerance: it is counted apart, so the count of differences stays true.
    compared = [r for r in judged if not r.missing]
    missing = [r for r in judged if r.missing]
    banded = sum(r.seed_band is not None for r in compared)
    if banded and banded == len(compared):
        within, out = "within the seed band widened by tolerance", "outside it"
    else:
        within, out = "within tolerance", "out of tolerance"
        if banded:  # some runs judged on a band, the others on the reference
            within += f", {banded} of them on the seed band"
            out += f", {banded} judged on the seed band"
    if comparison.passed:
        return word, f"all {len(compared)} metric checks {within}"
    counts = []
    if compared:
        # A check overruled (a failed run, one setup's numbers) was within it.
        failed = sum(not r.passed and not r.overruled for r in compared)
        if out == "outside it":
            out = "outside the seed band widened by tolerance"
        counts.append(f"{failed} of {len(compared)} metric checks {out}")
    if missing:
        counts.append(_missing_count(comparison.missing_metrics))
    reasons.append(", ".join(counts))
    return word, "; ".join(reasons)


def _missing_count(missing: Sequence[MissingMetric]) -> str:
    """Say how many entries the Missing metrics list holds, in how many runs.

    One entry per check a metric is missing from, as the list and the JSON
    missing_metrics have them: acc missing in runs B and C is two. A metric
    only the run has is missing in the reference, yet listed (and counted)
    under the run whose check it fails.
    """
    runs = len({gap.run_id for gap in missing})
    where = "a run" if runs == 1 else f"{runs} runs"
    return (
        f"{len(missing)} missing metric{'' if len(missing) == 1 else 's'} "
        f"in the checks of {where}"
    )


def _nondeterminism_said(findings: Sequence[NondeterminismFinding]) -> list[str]:
    """Say for the verdict line that one setup gave different numbers, if it did.

    Findings where repeats disagree fail the verdict, whatever the tolerance.
    """
    if not findings:
        return []
    metrics = sorted({f.metric for f in findings})
    asked = any(f.repeats_disagree for f in findings)
    hidden = sorted({n for f in findings for n in f.hidden_env})
    return [
        f"{'repeats' if asked else 'runs'} of one setup gave different "
        f"{', '.join(metrics)}: nondeterminism"
        + (", which no tolerance allows" if asked else "")
        + (
            f", though hidden --env values ({', '.join(hidden)}) may differ"
            if hidden
            else ""
        )
        + " (see below)"
    ]


def table_sections(c: Comparison) -> list[tuple[str, list[str], list[list[str]]]]:
    """Build every table as (heading, header, rows), in reading order.

    The one source of compare's tables: text, --md and the report draw them.
    """
    # A run measured by the sweep run of its seed says so wherever that run's
    # values stand in the reference's place.
    against = {r.run_id: f" (vs {r.compared_with})" for r in c.runs if r.compared_with}
    sections = [
        (
            "Runs",
            ["run", "seed", "status", "verdict", "summary"],
            [
                [
                    r.run_id + (" (ref)" if r.is_reference else ""),
                    format_value(r.seed),
                    run_status(r),
                    run_verdict(r),
                    r.headline,
                ]
                for r in c.runs
            ],
        )
    ]
    sections.append(
        (
            "Metrics",
            [
                "run",
                "metric",
                "value",
                "reference",
                "delta",
                "rel",
                "tolerance",
                "verdict",
                "reason",
            ],
            [
                [
                    r.run_id,
                    r.metric,
                    format_number(r.value),
                    _reference_cell(r),
                    delta_text(r),
                    _rel_cell(r),
                    _tolerance_cell(r),
                    _result_verdict(r),
                    r.reason,
                ]
                for r in c.results
            ],
        )
    )
    if c.curves:
        sections.append(
            (
                "Training curves",
                ["run", "epochs ref", "epochs run", "parted at", "detail"],
                [
                    [
                        d.run_id + against.get(d.run_id, ""),
                        _counts(d.epochs_reference),
                        _counts(d.epochs_run),
                        "-" if d.call is None else _where(d.call, d.epoch),
                        d.reason,
                    ]
                    for d in c.curves
                ],
            )
        )
    if c.differences:
        differ = {r.run_id for r in c.runs if r.metrics_differ}
        sections.append(
            (
                "Setup differences "
                "(most likely cause first; * = may explain the change)",
                ["", "run", "field", "reference", "run value", "category", "why"],
                [
                    [
                        "*" if d.changes_numerics and d.run_id in differ else "",
                        d.run_id + against.get(d.run_id, ""),
                        d.field,
                        format_value(d.reference_value),
                        format_value(d.run_value),
                        d.category,
                        d.explanation,
                    ]
                    for d in c.differences
                ],
            )
        )
    if c.noise_bands:
        sections.append(
            (
                "Seed noise",
                ["sweep", "metric", "n", "min", "max", "spread", "std"],
                [
                    [
                        b.sweep,
                        b.metric,
                        str(b.n),
                        format_number(b.minimum),
                        format_number(b.maximum),
                        b.spread_text(),
                        b.std_text(),
                    ]
                    for b in c.noise_bands
                ],
            )
        )
    if c.noise_checks:
        # The check's delta is its result's: shown exactly, as in Metrics.
        results = {(r.run_id, r.metric): r for r in c.results}
        sections.append(
            (
                "Differences against seed noise",
                # The sweep whose seed-to-seed spread the delta is set against.
                # "against noise", not "verdict": a difference beyond seed
                # noise can still be within its tolerance, and the Metrics
                # table's pass stands (BC 6c: "beyond noise" read as a fail).
                ["run", "metric", "noise of sweep", "delta", "against noise", "detail"],
                [
                    [
                        n.run_id,
                        n.metric,
                        n.sweep,
                        _noise_delta_cell(c, n, results.get((n.run_id, n.metric))),
                        _noise_cell(n, results.get((n.run_id, n.metric))),
                        n.reason,
                    ]
                    for n in c.noise_checks
                ],
            )
        )
    return sections


def _noise_cell(check, result) -> str:
    """Say where a difference stands to seed noise, and that a difference
    beyond it passed its tolerance check where it did."""
    if not check.beyond_noise:
        return "within noise"
    if result is not None and result.passed is True:
        return "beyond noise, within tolerance"
    return "beyond noise"


def _noise_delta_cell(
    c: Comparison, check: NoiseCheck, result: MetricResult | None
) -> str:
    """Show a noise check's delta with the digits its detail shows it in.

    Beside the seed spread and 2 std, as many as those need; for a run on a
    seed band, as its Metrics row shows it beside the tolerance.
    """
    if result is None:
        return format_delta(check.delta)
    exact = result.exact_delta
    if not isinstance(exact, Fraction) or result.seed_band is not None:
        return delta_text(result)
    band = next(
        (
            b
            for b in c.noise_bands
            if (b.sweep, b.metric) == (check.sweep, check.metric)
        ),
        None,
    )
    if band is None:
        return format_delta(exact)
    shown, _ = shown_beside_noise(abs(exact), band)
    return ("+" if exact >= 0 else "-") + shown


def run_status(run: RunSummary) -> str:
    """Say a run's status with its exit code, e.g. 'failed (exit code 1)'."""
    return status_with_exit(run.status, run.exit_code)


def run_verdict(run: RunSummary) -> str:
    """Say a run's verdict: '-' for a reference that holds, FAIL for one that not.

    The one source of the runs table's verdict cell: text, --md and the report.
    """
    if run.passed is False:
        return "FAIL"
    if run.is_reference and not run.judged_on_band:
        return "-"
    return "noise" if run.passed is None else "pass"


def _rel_cell(result: MetricResult) -> str:
    """Show rel_delta; as many digits as the rel bound needs where it is the
    ratio judged (the reference the larger of the two values)."""
    exact = result.exact_rel_delta
    bound = result.tolerance.rel
    if (
        bound is None
        or result.seed_noise
        or not isinstance(exact, Fraction)
        or abs(result.reference_value) < abs(result.value)
    ):
        return format_delta(exact)
    return beside_bound(exact, bound, sign=True)


def _tolerance_cell(result: MetricResult) -> str:
    """Say the tolerance; a bound's exact value too where its short form reads
    on the wrong side of the delta shown (its hidden digits decide)."""
    text = result.tolerance.describe()
    exact, bound = result.exact_delta, result.tolerance.abs
    if (
        bound is not None
        and not result.seed_noise
        and isinstance(exact, Fraction)
        and not sides_agree(delta_text(result), exact, bound)
    ):
        text += f" (exactly {exact_text(bound)})"
    return text + ("" if result.tolerance_given else " (default)")


def _reference_cell(result: MetricResult) -> str:
    """Show what a metric was set against: the reference, a same-seed run or a band."""
    if result.seed_band is not None:
        low, high = result.seed_band
        return f"band {format_number(low)}..{format_number(high)}"
    if result.compared_with is not None:
        return f"{format_number(result.reference_value)} ({result.compared_with})"
    return format_number(result.reference_value)


def _result_verdict(result: MetricResult) -> str:
    """Say a metric check's verdict; a sweep run's other seed is the noise itself."""
    if result.seed_noise and result.passed is None:
        return "noise"  # a repeat whose repeats differ fails, noise or not
    return "pass" if result.passed else "FAIL"


def repeats_said(finding: NondeterminismFinding) -> str:
    """Say which of a finding's runs are repeats that disagree, if any are."""
    if finding.repeats_disagree:
        if finding.disagreeing_repeats == finding.run_ids:
            return " (asked for as repeats)"
        runs = ", ".join(finding.disagreeing_repeats)
        return f" (repeats {runs} disagree)"
    if finding.repeats:  # run --repeat 2 -H A -H B: the engines differ
        return " (the repeats on each engine agree; judged by tolerance)"
    return ""


def list_sections(c: Comparison) -> list[tuple[str, list[str]]]:
    """Build every list as (heading, items), in reading order, for all renderers."""
    lists = []
    if c.nondeterminism:
        lists.append(
            (
                "Nondeterminism",
                [
                    f"{f.reason}; runs {', '.join(f.run_ids)}" + repeats_said(f)
                    for f in c.nondeterminism
                ],
            )
        )
    if c.unrecorded:
        lists.append(
            (
                "Machine facts not recorded (not setup differences)",
                [describe_unrecorded(u) for u in c.unrecorded],
            )
        )
    if c.missing_metrics:
        lists.append(
            (
                "Missing metrics",
                [f"run {m.run_id}: {m.metric} {m.reason}" for m in c.missing_metrics],
            )
        )
    if c.notes:
        lists.append(("Notes", list(c.notes)))
    return lists


def describe_unrecorded(facts: UnrecordedFacts) -> str:
    """Say which machine facts a run lacks as it stopped before they were taken."""
    shown = ", ".join(facts.fields[:5])
    more = len(facts.fields) - 5
    # Gathered as the script exits: a record still running is of a run that
    # has not got there yet, or never will (its reprobox killed, which the
    # note on its status tells; "yet" promised facts to come, brk r48 BP 10).
    when = (
        "has no machine facts (they are gathered as its script exits, which "
        "its record does not say it did)"
        if facts.status == "running"
        else "stopped before its machine facts were gathered"
    )
    return (
        f"run {facts.run_id} ({facts.status or 'unknown'}) {when}; not compared: "
        f"{shown}" + (f" and {more} more" if more > 0 else "")
    )


def _where(call: int | None, epoch: int | None) -> str:
    shown = "end" if epoch is None else f"epoch {epoch}"
    return shown if not call else f"fit {call}, {shown}"


def _counts(counts: Sequence[int]) -> str:
    return "+".join(str(n) for n in counts) or "0"


def _clean(text: str) -> str:
    """Escape control and bidi characters so a record cannot drive the terminal,
    tokens cut first: Markdown's escapes (ghp\\_...) hid one from the cut the
    printed line gets, and a table's columns are sized to the cut width."""
    return escape_controls(cut_tokens(str(text)))


def _align(rows: list[list[str]]) -> list[str]:
    rows = [[_clean(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=False)
        ).rstrip()
        for row in rows
    ]


def _md(text: str) -> str:
    """Escape text so that Markdown shows it as written: no links, images or code."""
    text = _MD_INLINE.sub(r"\\\1", _clean(text))
    text = _MD_BLOCK_START.sub(_escape_block_start, text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _escape_block_start(match: re.Match) -> str:
    lead, marker = match.group(1), match.group(2)
    if marker[0].isdigit():  # "1." or "1)": escape the punctuation after it
        return lead + marker + "\\"
    return lead + "\\" + marker


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_md(cell) for cell in cells) + " |"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
