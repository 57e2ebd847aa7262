"""compare and report on the command line: flags, project settings, output paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "unit" / "compare"))
from fresh_python import run_reprobox  # noqa: E402
from synthetic import record_data, write_record  # noqa: E402

from reprobox.cli import app  # noqa: E402
from reprobox.manifest import SCHEMA_VERSION  # noqa: E402
from reprobox.seals import seal_manifest  # noqa: E402

reprobox = run_reprobox


def two_runs(runs: Path) -> Path:
    write_record(runs, record_data("A"))
    write_record(
        runs,
        record_data(
            "B",
            started_at="2024-01-01T00:00:01Z",
            metrics={"loss": 0.12, "accuracy": 0.9688},
        ),
    )
    return runs


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize("given", ["\u00b2", "\u0663", "9" * 5000, "2"])
def test_reference_position_is_ascii_digits_in_range(tmp_path, given):
    # brkc F1: '²' passed str.isdigit() and int() raised a traceback.
    runs = two_runs(tmp_path / "runs")
    line = one_line_error(
        reprobox("compare", str(runs), "--reference", given, cwd=tmp_path)
    )
    assert line.startswith("reprobox: error:")
    assert len(line) < 300


def test_negative_manifest_tolerance_names_the_file_and_metric(tmp_path):
    # brkc F11: the error named neither the manifest nor the metric.
    state = tmp_path / "proj" / ".reprobox"
    runs = two_runs(state / "runs")
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "metrics": {"compare": [], "tolerances": {"loss": {"abs": -0.1}}},
    }
    (state / "manifest.json").write_text(json.dumps(seal_manifest(manifest)))
    line = one_line_error(reprobox("compare", str(runs), cwd=tmp_path))
    assert f"{state / 'manifest.json'}: metrics.tolerances.loss.abs is -0.1" in line
    assert "finite number >= 0" in line


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_name_in_manifest_metrics_compare_is_refused(tmp_path, blank):
    # It was compared as a metric no run has: exit 1, a failed check.
    state = tmp_path / "proj" / ".reprobox"
    runs = two_runs(state / "runs")
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "metrics": {"compare": ["loss", blank]},
    }
    (state / "manifest.json").write_text(json.dumps(seal_manifest(manifest)))
    line = one_line_error(reprobox("compare", str(runs), cwd=tmp_path))
    assert line == (
        f"reprobox: error: {state / 'manifest.json'}: metrics.compare holds a "
        f"blank metric name {blank!r}; each item must name a metric (fix [metrics] "
        "compare in the project's config, then run `reprobox freeze` again)"
    )


@pytest.mark.parametrize("bound", ["-1", "nan", "inf", "-inf", "1e999"])
def test_tol_flag_bound_must_be_finite_and_not_negative(tmp_path, bound):
    runs = two_runs(tmp_path / "runs")
    line = one_line_error(
        reprobox("compare", str(runs), "--tol", f"loss=abs:{bound}", cwd=tmp_path)
    )
    assert f"--tol 'loss=abs:{bound}': abs must be a finite number >= 0" in line
    # brk r43 (BG 7): as the config says it, 1e999 reads as inf.
    past = "(1e999 is past the largest float, so it reads as inf)"
    assert (past in line) == (bound == "1e999"), line


def test_tol_flag_takes_the_largest_finite_bounds(tmp_path):
    # brk: a bound near the largest float overflowed where it met the values.
    write_record(tmp_path / "runs", record_data("A", metrics={"loss": -1.5e308}))
    write_record(tmp_path / "runs", record_data("B", metrics={"loss": 2e307}))
    runs = str(tmp_path / "runs")
    tol = ["--tol", "loss=abs:1e-6", "--json"]
    failed = reprobox("compare", runs, *tol, cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["results"][0]["reason"] == (
        "out of tolerance (abs 1e-06)"
    )
    tol = ["--tol", "loss=rel:1e308,abs:1.7976931348623157e308"]
    passed = reprobox("compare", runs, *tol, cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_report_outside_the_project_through_dotdot_gets_no_image_note(tmp_path):
    # brkc F12: p3/../elsewhere/x.html was taken for a file inside p3.
    runs = two_runs(tmp_path / "runs")
    project = tmp_path / "p3"
    project.mkdir()
    (project / "reprobox.toml").write_text('command = "python t.py"\n')
    (tmp_path / "elsewhere").mkdir()
    result = reprobox("report", str(runs), "-o", "../elsewhere/x.html", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "x.html").is_file()
    assert "note:" not in result.stderr

    inside = reprobox("report", str(runs), "-o", "../p3/x.html", cwd=project)
    assert "reprobox: warning: ../p3/x.html is inside project" in inside.stderr


def test_a_record_without_start_time_is_not_the_default_reference(tmp_path):
    # brkc F15: it used to sort first as the empty string.
    runs = tmp_path / "runs"
    write_record(runs, record_data("A", started_at="2024-01-01T05:00:00+05:00"))
    write_record(runs, record_data("B", started_at="2024-01-01T00:30:00Z"))
    write_record(
        runs, record_data("C", started_at=None, status="interrupted", exit_code=None)
    )
    result = reprobox("compare", str(runs), "--json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # C was interrupted: no verdict
    data = json.loads(result.stdout)
    assert data["reference"] == "A"
    assert [r["run_id"] for r in data["runs"]] == ["A", "B", "C"]


def test_tol_for_a_metric_the_project_leaves_out_compares_it(tmp_path):
    # brkc F20: it was silently not compared, whatever its tolerance.
    state = tmp_path / "proj" / ".reprobox"
    runs = two_runs(state / "runs")
    manifest = {"schema_version": SCHEMA_VERSION, "metrics": {"compare": ["accuracy"]}}
    (state / "manifest.json").write_text(json.dumps(seal_manifest(manifest)))
    result = reprobox(
        "compare", str(runs), "--json", "--tol", "loss=abs:1e-6", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr  # loss moved by 1e-4
    data = json.loads(result.stdout)
    assert data["metrics"] == ["accuracy", "loss"]
    [loss] = [r for r in data["results"] if r["metric"] == "loss"]
    assert not loss["passed"]


def test_newer_manifest_names_the_reprobox_version_needed(tmp_path):
    # brkc F11: docs/schemas.md promises the version needed, not just "upgrade".
    state = tmp_path / "proj" / ".reprobox"
    runs = two_runs(state / "runs")
    manifest = {"schema_version": 3, "reprobox_version": "9.0.1", "metrics": {}}
    (state / "manifest.json").write_text(json.dumps(manifest))
    line = one_line_error(reprobox("compare", str(runs), cwd=tmp_path))
    assert "schema_version 3 (written by reprobox 9.0.1)" in line
    assert line.endswith("(upgrade to reprobox 9.0.1 or later)")


def runs_judged_by(tmp_path: Path, settings: dict) -> Path:
    """Write runs A (acc 0.5) and B (acc 0.505) that recorded settings; return
    their project's .reprobox folder."""
    state = tmp_path / "proj" / ".reprobox"
    for run_id, acc, second in (("A", 0.5, "00"), ("B", 0.505, "01")):
        write_record(
            state / "runs",
            record_data(
                run_id,
                started_at=f"2024-01-01T00:00:{second}Z",
                metrics={"acc": acc},
                compare_settings=settings,
            ),
        )
    return state


def test_runs_copied_out_of_the_project_get_the_same_verdict(tmp_path):
    # brk: copied elsewhere, 0.5 vs 0.505 failed as "exact (default)" while the
    # same records beside their manifest passed within abs 0.01.
    settings = {"compare": [], "tolerances": {"acc": {"abs": 0.01, "rel": None}}}
    state = runs_judged_by(tmp_path, settings)
    manifest = {"schema_version": SCHEMA_VERSION, "metrics": settings}
    (state / "manifest.json").write_text(json.dumps(seal_manifest(manifest)))
    copied = tmp_path / "x"
    shutil.copytree(state / "runs", copied)

    for runs in (state / "runs", copied):
        result = reprobox("compare", str(runs), "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        [acc] = json.loads(result.stdout)["results"]
        assert acc["reason"] == "within tolerance (abs 0.01)"
        assert result.stderr == ""

    tight = reprobox("compare", str(copied), "--tol", "acc=abs:0.001", cwd=tmp_path)
    assert tight.returncode == 1, tight.stdout + tight.stderr


def test_a_manifest_refrozen_with_other_tolerances_is_named_not_used(tmp_path):
    # cc 1: the reference's own settings judge, in place as when copied away;
    # the refrozen manifest's tighter tolerance only earns a warning line.
    recorded = {"compare": [], "tolerances": {"acc": {"abs": 0.01, "rel": None}}}
    state = runs_judged_by(tmp_path, recorded)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "metrics": {"compare": [], "tolerances": {"acc": {"abs": 0.001, "rel": None}}},
    }
    (state / "manifest.json").write_text(json.dumps(seal_manifest(manifest)))
    copied = tmp_path / "x"
    shutil.copytree(state / "runs", copied)
    in_place = reprobox("compare", str(state / "runs"), "--json", cwd=tmp_path)
    away = reprobox("compare", str(copied), "--json", cwd=tmp_path)
    for result in (in_place, away):
        assert result.returncode == 0, result.stdout + result.stderr
        [acc] = json.loads(result.stdout)["results"]
        assert acc["reason"] == "within tolerance (abs 0.01)"
    assert away.stderr == ""
    assert in_place.stderr == (
        "reprobox: warning: metrics settings (metrics.compare or tolerances) "
        f"differ between reference run A and the manifest {state / 'manifest.json'}"
        "; run A's own are used, wherever its folder lies (--tol overrides either)\n"
    )
    tight = reprobox("compare", str(state / "runs"), "--tol", "acc=abs:0.001")
    assert tight.returncode == 1, tight.stdout + tight.stderr


def test_the_same_run_given_twice_is_named_so(tmp_path):
    # by 4d: "compare needs two or more run records, got 1", two paths given.
    runs = two_runs(tmp_path / "runs")
    run = runs / "A"
    line = one_line_error(reprobox("compare", str(run), str(run), cwd=tmp_path))
    assert line == (
        "reprobox: error: the 2 paths given hold 1 run record (the same run given "
        "twice?); compare needs two or more runs (give the records of other runs too)"
    )


@pytest.mark.parametrize("given", ["folder", "record.json", "run id"])
def test_a_reference_given_by_folder_brings_its_own_settings(tmp_path, given):
    # ce 1: `--reference runs/B` judged by run A's abs 0.01 (FAIL) although
    # B, the reference, recorded abs 0.03 (PASS for a delta of 0.015).
    runs = tmp_path / "runs"
    for run_id, acc, second, bound in (
        ("A", 0.905, "00", 0.01),
        ("B", 0.92, "01", 0.03),
    ):
        settings = {"compare": [], "tolerances": {"acc": {"abs": bound, "rel": None}}}
        write_record(
            runs,
            record_data(
                run_id,
                started_at=f"2024-01-01T00:00:{second}Z",
                metrics={"acc": acc},
                compare_settings=settings,
            ),
        )
    reference = {
        "folder": str(runs / "B"),
        "record.json": str(runs / "B" / "record.json"),
        "run id": "B",
    }[given]
    result = reprobox(
        "compare",
        str(runs / "B"),
        str(runs / "A"),
        "--reference",
        reference,
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [acc] = json.loads(result.stdout)["results"]
    assert (acc["run_id"], acc["reason"]) == ("A", "within tolerance (abs 0.03)")
    assert "reference run B" in result.stderr


def test_report_to_dash_writes_the_page_to_stdout_and_no_file(tmp_path):
    # cd: `report RUNS -o -` wrote a file named "-" into the project.
    runs = two_runs(tmp_path / "runs")
    result = reprobox("report", str(runs), "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert result.stdout.rstrip().endswith("</html>")
    assert not (tmp_path / "-").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_report_of_one_run_names_report(tmp_path):
    # cx 2: `report RUN` said "compare needs two or more run records".
    runs = two_runs(tmp_path / "runs")
    line = one_line_error(reprobox("report", str(runs / "A"), "-o", "-", cwd=tmp_path))
    assert line == (
        "reprobox: error: report needs two or more run records, got 1 (give more "
        "record.json files, run folders or a runs folder)"
    )


def test_a_tol_for_a_metric_that_metric_leaves_out_is_refused(tmp_path):
    # Round 34 (AS 10): `--metric loss --tol accuracy=abs:1` dropped the --tol
    # without a word; the config refuses a tolerance it would never use.
    runs = str(two_runs(tmp_path / "runs"))
    result = reprobox("compare", runs, "--metric", "loss", "--tol", "accuracy=abs:1")
    assert one_line_error(result) == (
        "reprobox: error: --tol accuracy: --metric leaves that metric out, so the "
        "tolerance would never be used (add --metric accuracy, or drop that --tol)"
    )
    kept = reprobox("compare", runs, "--metric", "loss", "--tol", "loss=abs:1")
    assert kept.returncode == 0, kept.stderr


def test_a_project_tolerance_that_metric_leaves_unused_names_metric(tmp_path):
    # Round 35: the note said "tolerance given for metrics no run compared:
    # acc" while both runs had acc: --metric had left it out.
    settings = {"compare": [], "tolerances": {"acc": {"abs": 0.01}}}
    for run_id, second in (("A", "00"), ("B", "01")):
        write_record(
            tmp_path / "runs",
            record_data(
                run_id,
                started_at=f"2024-01-01T00:00:{second}Z",
                metrics={"acc": 0.5, "loss": 0.1},
                compare_settings=settings,
            ),
        )
    result = reprobox("compare", str(tmp_path / "runs"), "--metric", "loss", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["notes"] == [
        "no tolerance given for loss: exact (default)",
        "tolerance given for acc, but --metric leaves it out, so no run compared it",
    ]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--metric", "loss", "--metric", "loss"], "--metric loss is given twice"),
        (
            ["--metric", "loss", "--metric", "accuracy", "--metric", "loss"],
            "--metric loss is given twice",
        ),
        (["--tol", "loss=abs:1", "--tol", "loss=rel:0.1"], "--tol loss is given twice"),
    ],
)
def test_a_metric_named_twice_on_the_command_line_is_refused(tmp_path, flags, message):
    # brk 37 #16: a repeated --metric was taken silently (compared once).
    runs = two_runs(tmp_path / "runs")
    line = one_line_error(reprobox("compare", str(runs), *flags, cwd=tmp_path))
    assert line.startswith(f"reprobox: error: {message} (give one "), line


def test_tol_names_a_metric_whose_name_holds_an_equals_sign(tmp_path):
    # brk 37 #13: 'a=b=abs:1' read the name as 'a' and failed on "'b=abs' is
    # not abs or rel", so a metric a run records and --metric names could
    # not be loosened.
    write_record(tmp_path / "runs", record_data("A", metrics={"a=b": 1.0}))
    write_record(
        tmp_path / "runs",
        record_data("B", started_at="2024-01-01T00:00:01Z", metrics={"a=b": 1.5}),
    )
    runs = str(tmp_path / "runs")
    exact = reprobox("compare", runs, "--metric", "a=b", cwd=tmp_path)
    assert exact.returncode == 1, exact.stdout + exact.stderr
    loosened = reprobox("compare", runs, "--tol", "a=b=abs:0.5", "--json", cwd=tmp_path)
    assert loosened.returncode == 0, loosened.stdout + loosened.stderr
    [row] = json.loads(loosened.stdout)["results"]
    assert (row["metric"], row["reason"]) == ("a=b", "within tolerance (abs 0.5)")


@pytest.mark.parametrize(
    ("item", "parsed"),
    [
        ("a=b=abs:1", {"a=b": {"abs": 1.0}}),
        ("a==rel:0.1,abs:2", {"a=": {"rel": 0.1, "abs": 2.0}}),
        ("loss=abs:0.1,rel:0.2", {"loss": {"abs": 0.1, "rel": 0.2}}),
    ],
)
def test_tol_name_ends_at_the_last_equals_sign_before_a_bound(item, parsed):
    from reprobox.cli_compare import _parse_tolerances

    assert _parse_tolerances([item]) == parsed


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("a=b", "--tol 'a=b': 'b' is not abs or rel"),
        ("loss=abs:1,rel=2", "--tol 'loss=abs:1,rel=2': 'rel=2' is not abs or rel"),
        ("=abs:1", "--tol '=abs:1' is not NAME=abs:X[,rel:Y]"),
    ],
)
def test_tol_without_a_bound_after_an_equals_sign_is_refused(item, message):
    from reprobox.cli_compare import _parse_tolerances
    from reprobox.errors import InputError

    with pytest.raises(InputError) as caught:
        _parse_tolerances([item])
    assert caught.value.message == message


@pytest.mark.parametrize("number", ["1e-400", "0.5e-330", "-3e-999"])
def test_a_tol_below_the_smallest_float_is_refused(number):
    # brk r44 (BI 4): rel:1e-400 read as 0 and made the tolerance exact.
    from reprobox.cli_compare import _parse_tolerances
    from reprobox.errors import InputError

    with pytest.raises(InputError) as caught:
        _parse_tolerances([f"acc=rel:{number}"])
    assert caught.value.message == (
        f"--tol 'acc=rel:{number}': {number!r} is too close to 0 for a float "
        "(the smallest is 5e-324), so it reads as 0"
    )


def test_a_tol_of_zero_written_small_is_read_as_zero():
    from reprobox.cli_compare import _parse_tolerances

    assert _parse_tolerances(["acc=abs:0e-400,rel:4.9e-324"]) == {
        "acc": {"abs": 0.0, "rel": 5e-324}
    }


@pytest.mark.parametrize("command", ["compare", "report"])
def test_an_epsilon_below_the_smallest_float_is_refused(tmp_path, command):
    runs = two_runs(tmp_path / "runs")
    line = one_line_error(
        reprobox(command, str(runs), "--epsilon=1e-400", cwd=tmp_path)
    )
    assert line == (
        "reprobox: error: invalid value for '--epsilon': '1e-400' is too close "
        "to 0 for a float (the smallest is 5e-324), so it reads as 0; write e.g. "
        f"--epsilon 1.5 (see reprobox {command} --help)"
    )


@pytest.mark.parametrize("command", ["compare", "report"])
@pytest.mark.parametrize("typed", ["-1", "-1e0", "-0.5", "nan", "1e400"])
def test_a_bad_epsilon_is_echoed_as_typed(tmp_path, command, typed):
    # BA 4: --epsilon -1 was echoed as -1.0, which the user never typed.
    runs = two_runs(tmp_path / "runs")
    line = one_line_error(
        reprobox(command, str(runs), f"--epsilon={typed}", cwd=tmp_path)
    )
    assert line == (
        f"reprobox: error: --epsilon {typed} is not a finite number >= 0 "
        "(0 compares curves bitwise, e.g. --epsilon 1e-6)"
    )


def test_a_run_linked_into_a_runs_folder_is_refused_in_one_line(tmp_path):
    # AZ 3: a fourth run whose record.json led to the first's was dropped:
    # compare listed 3 runs and exited 0.
    runs = two_runs(tmp_path / "runs")
    linked = runs / "20240101T000003Z-dddddd" / "record.json"
    linked.parent.mkdir()
    linked.symlink_to(runs / "A" / "record.json")
    line = one_line_error(reprobox("compare", str(runs), cwd=tmp_path))
    assert line == (
        f"reprobox: error: {linked}: is a symbolic link; run records are read only "
        "as regular files, never through a link (move that run folder out of the "
        "runs folder, or give the runs you mean one by one)"
    )


def test_a_reference_outside_the_runs_given_is_said_to_add_none(tmp_path):
    # brk r43 (BG 7): `compare A --reference B` said "needs two or more run
    # records, got 1" after two runs had, to the user's eye, been given.
    runs = two_runs(tmp_path / "runs")
    line = one_line_error(
        reprobox("compare", str(runs / "A"), "--reference", "B", cwd=tmp_path)
    )
    assert line == (
        "reprobox: error: compare needs two or more run records, got 1 "
        "(--reference 'B' picks one of the runs given, it adds none) (give more "
        "record.json files, run folders or a runs folder)"
    )


def test_result_and_progress_lines_cut_a_token_joined_to_a_path(tmp_path):
    # brk r44 (BI minor): errors cut out_ghp_... short, but `wrote PATH` on
    # stdout and progress lines on stderr printed it whole.
    token = "ghp_" + "k3" * 18
    runs = two_runs(tmp_path / f"runs_{token}")
    output = tmp_path / f"out_{token}" / "report.html"
    output.parent.mkdir()
    done = reprobox("report", str(runs), "-o", str(output), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {tmp_path}/out_ghp_***/report.html\n"
    assert token not in done.stderr
    shown = reprobox("compare", str(runs), cwd=tmp_path)
    assert shown.returncode == 1, shown.stderr  # B's accuracy differs from A's
    assert token not in shown.stdout + shown.stderr


def test_every_stderr_and_result_line_cuts_joined_tokens_only(capsys):
    from reprobox.cli import echo, say

    say("using /data/x_ghp_" + "k3" * 18 + "/set, acc:top5@epoch")
    echo("metric acc:top5@epoch in /data/x_ghp_" + "k3" * 18 + "/set")
    # A token is cut; what merely looks like user:password@ is a name here.
    assert capsys.readouterr() == (
        "metric acc:top5@epoch in /data/x_ghp_***/set\n",
        "using /data/x_ghp_***/set, acc:top5@epoch\n",
    )


def test_a_shortened_value_with_an_escaped_token_ends_without_half_an_escape():
    # brk r45 (BK 3): "--registry '127.0.0.1:5000/ghp_***%… is not ...".
    from reprobox.cli_output import _shown_error

    token = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
    escaped = "".join(f"%{ord(c):02X}" for c in token)
    shown = f"127.0.0.1:5000/{escaped}"[:119] + "…"
    assert _shown_error(f"--registry '{shown} is wrong") == (
        "--registry '127.0.0.1:5000/ghp_***… is wrong"
    )


@pytest.mark.parametrize("command", ["compare", "report"])
def test_reference_help_names_all_it_takes(command):
    # --reference takes a run folder or a record.json too, as its error says;
    # the help said "run id or position" only.
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=100)
    assert result.exit_code == 0
    words = " ".join(result.output.replace("│", " ").split())
    assert (
        "Reference run, one of the runs given: its run id, its run folder or its "
        "record.json, or its position among the runs (sorted by start time), "
        "counting from 0 (default: the earliest run that succeeded)."
    ) in words
