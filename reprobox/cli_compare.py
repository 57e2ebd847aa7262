"""CLI commands that read run records: compare and report."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import typer

from reprobox.atomic import atomic_write_text, check_output_target, missing_folder
from reprobox.cli_app import app
from reprobox.cli_output import echo, warn
from reprobox.cli_project import project_holding, warn_if_it_enters_an_image
from reprobox.errors import InputError
from reprobox.metric_names import is_metric_name, metric_name_fault
from reprobox.number_options import NotAPlainNumber, decimal_number, typed_text

# A spec holds no "=", but a metric name may ("a=b" is a name a run records and
# metrics.compare takes): the name ends at the last "=" that starts abs: or rel:.
_TOL_ITEM = re.compile(r"(.*)=((?:abs|rel):.*)", re.DOTALL)


def _parse_tolerances(values: list[str]) -> dict:
    """Parse NAME=abs:X[,rel:Y] flags into compare's tolerance mapping."""
    out = {}
    for item in values:
        found = _TOL_ITEM.fullmatch(item)
        name, sep, spec = found.group(1, 0, 2) if found else item.partition("=")
        if not sep or not name:
            raise InputError(
                f"--tol {item!r} is not NAME=abs:X[,rel:Y]",
                hint="e.g. --tol test_accuracy=abs:0.005",
            )
        bounds = {}
        for part in spec.split(","):
            kind, _, number = part.partition(":")
            if kind not in ("abs", "rel"):
                raise InputError(
                    f"--tol {item!r}: {kind!r} is not abs or rel",
                    hint="e.g. --tol test_accuracy=abs:0.005,rel:0.01",
                )
            if kind in bounds:
                raise InputError(
                    f"--tol {item!r} gives {kind} twice",
                    hint="give each of abs and rel once",
                )
            try:  # as every number flag: float() takes "1_0", " 1", "+1"
                bounds[kind] = decimal_number(number)
            except NotAPlainNumber as exc:
                raise InputError(
                    f"--tol {item!r}: {number!r} {exc}",
                    hint="e.g. --tol test_accuracy=abs:0.005",
                ) from None
            if not 0 <= bounds[kind] < math.inf:
                # As the config says it: 1e400 reads as inf.
                past = (
                    f" ({number} is past the largest float, so it reads as inf)"
                    if bounds[kind] == math.inf and "inf" not in number.lower()
                    else ""
                )
                raise InputError(
                    f"--tol {item!r}: {kind} must be a finite number >= 0{past}",
                    hint="e.g. --tol test_accuracy=abs:0.005",
                )
        if name in out:
            raise InputError(
                f"--tol {name} is given twice", hint="give one --tol per metric"
            )
        out[name] = bounds
    return out


def _project_settings(paths: list[Path]) -> tuple[dict | None, Path | None]:
    """Return the metrics settings of the manifest beside the runs, and its path.

    (None, None) when no manifest is beside them. A manifest that is there but
    damaged is an error naming it: silently comparing without its tolerances
    would turn a pass into a fail (or back).
    """
    from reprobox.manifest import check_metrics, read_manifest

    for path in paths:
        for parent in [path.resolve(), *path.resolve().parents]:
            manifest = parent / "manifest.json"
            if parent.name != ".reprobox" or not manifest.is_file():
                continue
            # Sealed like build's: a hand-edited tolerance must not judge runs.
            fix = f"run `reprobox freeze {parent.parent}` again"
            data = read_manifest(manifest, fix)
            check_metrics(manifest, data)
            return data.get("metrics") or {}, manifest
    return None, None


def _check_epsilon(epsilon: float) -> float:
    """Refuse an --epsilon below 0 or not finite, echoed as it was typed."""
    if not 0 <= epsilon < math.inf:
        raise InputError(
            f"--epsilon {typed_text(epsilon)} is not a finite number >= 0",
            hint="0 compares curves bitwise, e.g. --epsilon 1e-6",
        )
    return float(epsilon) or 0.0  # -0 is 0


def _comparison(paths, reference, tol, metric, epsilon, command="compare"):
    from reprobox.compare import compare_runs, load_records
    from reprobox.compare.compare_settings import judging_settings
    from reprobox.compare.comparison import reference_index

    epsilon = _check_epsilon(epsilon)
    records = load_records(paths)
    flag_tolerances = _parse_tolerances(tol)
    _refuse_repeated_metric(metric)
    _check_metric_names(records, "--metric", metric)
    _check_metric_names(records, "--tol", list(flag_tolerances))
    unused = sorted(set(flag_tolerances) - set(metric)) if metric else []
    if unused:
        # As the config refuses a tolerance metrics.compare leaves out.
        raise InputError(
            f"--tol {unused[0]}: --metric leaves that metric out, so the "
            "tolerance would never be used",
            hint=f"add --metric {unused[0]}, or drop that --tol",
        )
    if len(records) < 2 <= len(paths):  # after the flags: their errors come first
        raise InputError(
            f"the {len(paths)} paths given hold {len(records)} run record "
            f"(the same run given twice?); {command} needs two or more runs",
            hint="give the records of other runs too",
        )
    if len(records) < 2:
        # `compare A --reference B` read as two runs to compare: say that
        # --reference only picks one of the runs given.
        picks = (
            f" (--reference {reference!r} picks one of the runs given, it adds none)"
            if reference is not None
            else ""
        )
        raise InputError(
            f"{command} needs two or more run records, got {len(records)}{picks}",
            hint="give more record.json files, run folders or a runs folder",
        )
    if reference is None:
        # The earliest run that succeeded: an interrupted or failed run has no
        # numbers to hold the others to.
        ref = next((i for i, r in enumerate(records) if r.status == "succeeded"), 0)
    else:
        ref = _reference_position(reference, len(records))
    # Tolerances and metric names are the reference run's, so that the verdict
    # depends neither on the order the runs were given in nor on where their
    # folders lie; it is found as compare_runs finds it (a run id, its folder
    # or record.json, a position).
    ref_record = records[reference_index(records, ref)]
    try:
        found, manifest = _project_settings([ref_record.path])
    except InputError as exc:
        from reprobox.compare.environment import recorded_settings

        if recorded_settings(ref_record) is None:
            raise  # its tolerances are the manifest's: none to judge by
        # The record keeps its own, which judge it wherever its folder lies:
        # the damaged manifest beside it is said, not a reason to refuse
        # (brk r50 BT 3: the same folders copied elsewhere compared fine).
        warn(
            f"{exc.message}; the runs are judged by the settings the reference "
            f"run's record keeps ({exc.hint})"
        )
        found, manifest = None, None
    settings = judging_settings(records, ref_record, found, manifest)
    if settings.note:
        warn(settings.note)
    tolerances = {**settings.tolerances, **flag_tolerances}
    metrics = list(metric) or settings.compare
    if not metric and metrics is not None:
        # A metric given a tolerance on the command line is one the user wants
        # checked, even where the project's metrics.compare leaves it out.
        metrics = [*metrics, *(n for n in flag_tolerances if n not in metrics)]
    return records, compare_runs(
        records,
        reference=ref,
        tolerances=tolerances,
        metrics=metrics,
        epsilon=epsilon,
        metrics_from="--metric" if metric else "metrics.compare",
    )


def _reference_position(reference: str, count: int) -> int | str:
    """Read --reference as a position (ASCII digits only) or else a run id."""
    if not re.fullmatch(r"[0-9]+", reference):
        return reference
    if len(reference) > 9 or int(reference) >= count:
        raise InputError(
            f"--reference {reference[:20]}: position out of range for {count} "
            + ("run" if count == 1 else "runs"),
            hint=f"give 0 to {count - 1}, or a run id, its folder or record.json",
        )
    return int(reference)


def _refuse_repeated_metric(names: list[str]) -> None:
    """Refuse a --metric given twice, as a --tol given twice is refused."""
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InputError(
                f"--metric {name} is given twice",
                hint="give one --metric per metric",
            )


def _check_metric_names(records, flag: str, names: list[str]) -> None:
    """Refuse a metric named on the command line that is blank, unprintable
    or in no record."""
    known = sorted({name for record in records for name in record.metrics})
    for name in names:
        if not is_metric_name(name):
            # A blank or unprintable name is a slip (an unset shell variable, a
            # stray quote, a pasted zero-width space), not a metric: compared,
            # it would only read as missing everywhere.
            raise InputError(
                f"{flag} {name!r}: a metric name cannot be empty or blank"
                if metric_name_fault(name) == "a blank metric name"
                else f"{flag} {name!r} is {metric_name_fault(name)}",
                hint="give a metric name, e.g. "
                + (
                    "--tol accuracy=abs:0.005"
                    if flag == "--tol"
                    else f"{flag} accuracy"
                ),
            )
        if name not in known:
            have = ", ".join(known) if known else "none"
            raise InputError(
                f"{flag} {name!r}: no run record has a metric of that name",
                hint=f"the records have: {have}",
            )


def _check_output(output: Path) -> None:
    """Refuse an --output that is a folder or lies in a folder that is not there."""
    if output.is_dir():
        raise InputError(
            f"--output {output} is a directory",
            hint=f"name a file, e.g. -o {output / 'report.html'}",
        )
    if not output.absolute().parent.is_dir():
        problem, fix = missing_folder(output)
        raise InputError(f"--output {output}: {problem}", hint=fix)


RunsArg = typer.Argument(..., help="record.json files, run folders or runs/ folders.")
RefOpt = typer.Option(
    None,
    "--reference",
    help="Reference run, one of the runs given: its run id, its run folder or "
    "its record.json, or its position among the runs (sorted by start time), "
    "counting from 0 (default: the earliest run that succeeded).",
)
TolOpt = typer.Option(
    [],
    "--tol",
    metavar="NAME=abs:X[,rel:Y]",
    help="Tolerance for one metric; overrides the project's, and the metric is "
    "compared even where the project's metrics.compare leaves it out; may be "
    "repeated. NAME may hold '=': it ends at the last '=' before abs: or rel:.",
)
MetricOpt = typer.Option(
    [], "--metric", metavar="NAME", help="Metric to compare; may be repeated."
)
EpsOpt = typer.Option(0.0, "--epsilon", help="Curves part where they differ by more.")


@app.command(short_help="Compare runs within tolerances; exit 0 within, 1 not.")
def compare(
    runs: list[Path] = RunsArg,
    reference: str | None = RefOpt,
    tol: list[str] = TolOpt,
    metric: list[str] = MetricOpt,
    epsilon: float = EpsOpt,
    as_json: bool = typer.Option(False, "--json", help="JSON on stdout."),
    as_md: bool = typer.Option(False, "--md", help="Markdown on stdout."),
) -> None:
    """Compare runs within tolerances; exit 0 within, 1 outside, 2 bad input."""
    from reprobox.compare import exit_code, render_json, render_markdown, render_text

    if as_json and as_md:
        raise InputError("--json and --md exclude each other")
    _, comparison = _comparison(runs, reference, tol, metric, epsilon)
    render = render_json if as_json else render_markdown if as_md else render_text
    echo(render(comparison), nl=False)
    raise typer.Exit(exit_code(comparison))


@app.command()
def report(
    runs: list[Path] = RunsArg,
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="HTML file to write, - for standard output (default: "
        ".reprobox/report.html inside a project folder, else report.html).",
    ),
    reference: str | None = RefOpt,
    tol: list[str] = TolOpt,
    metric: list[str] = MetricOpt,
    epsilon: float = EpsOpt,
) -> None:
    """Write a self-contained HTML page: metrics, differences, curves."""
    from reprobox.report import is_reprobox_report, render_report_html

    if output is not None and str(output) == "-":
        # As Unix tools read it: the page to standard output, no file named -.
        records, comparison = _comparison(
            runs, reference, tol, metric, epsilon, command="report"
        )
        typer.echo(render_report_html(records, comparison), nl=False)
        return
    given = output is not None
    if output is None:
        here = Path.cwd()
        project = project_holding(here)
        if project is not None:  # in the project folder or below it
            (project / ".reprobox").mkdir(exist_ok=True)
            output = Path(os.path.relpath(project / ".reprobox" / "report.html"))
        else:
            output = Path("report.html")
    if (output.is_file() or output.is_symlink()) and not is_reprobox_report(output):
        # The default path too (brk r50 BU 4: a file of one's own notes at
        # .reprobox/report.html was overwritten, which -o refuses).
        shown = f"--output {output}" if given else str(output)
        raise InputError(
            f"{shown} exists and is not a report reprobox wrote; reprobox will "
            "not replace it",
            hint=f"choose another {'-o' if given else 'path with -o'}, or remove "
            "that file yourself",
        )
    _check_output(output)
    warn_if_it_enters_an_image(output)
    records, comparison = _comparison(
        runs, reference, tol, metric, epsilon, command="report"
    )
    check_output_target(output, "--output", [r.path for r in records])
    atomic_write_text(output, render_report_html(records, comparison))
    echo(f"wrote {output}")
