import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import pytest

from reprobox.compare import compare_runs
from reprobox.report import render_report_html


def _synthetic():
    """Load the shared synthetic record builders from tests/unit/compare."""
    if "reprobox_synthetic" not in sys.modules:
        path = Path(__file__).parent / "compare" / "synthetic.py"
        spec = importlib.util.spec_from_file_location("reprobox_synthetic", path)
        sys.modules["reprobox_synthetic"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["reprobox_synthetic"])
    return sys.modules["reprobox_synthetic"]


synthetic = _synthetic()
MARK = '<meta name="generator" content="reprobox report">'


def two_runs(**changes):
    ref = synthetic.make_record("A")
    run = synthetic.clone(
        ref,
        "B",
        metrics={"loss": 0.1202998459, "accuracy": 0.9688},
        machine__onednn__TF_ENABLE_ONEDNN_OPTS="0",
        history=[{"call": 0, "epochs": synthetic.curve_epochs(7, seed=1, wobble=0.02)}],
        **changes,
    )
    records = [ref, run]
    return records, compare_runs(records)


def test_page_is_self_contained():
    html = render_report_html(*two_runs())
    assert html.startswith("<!DOCTYPE html>")
    assert (
        re.search(r"https?:|//[a-z]|src=|href=|url\(|@import", html, re.IGNORECASE)
        is None
    )
    assert "default-src 'none'" in html


def test_page_has_the_verdict_metrics_differences_and_one_chart_per_metric():
    records, comparison = two_runs()
    html = render_report_html(records, comparison)

    assert '<span class="verdict fail">FAIL</span> 1 of 2 metric checks' in html
    assert re.search(
        r'<td class="num fail" title="out of tolerance \(exact\)">'
        r"0.1202998459<span class=\"delta\">\+7.5e-09</span>",
        html,
    )
    assert "<code>machine.onednn.TF_ENABLE_ONEDNN_OPTS</code>" in html
    assert '<tr class="suspect">' in html
    assert html.count('<svg class="chart"') == len(comparison.history_metrics) == 4
    curves = re.findall(r'<path class="curve" d="[^"]+"[^>]*stroke="([^"]+)"', html)
    assert len(curves) == 8
    assert len(set(curves)) == 2
    assert "<td>epoch 0</td><td>curves part" in html


@pytest.mark.parametrize("where", ["metric", "project"])
def test_untrusted_record_values_are_escaped(where):
    evil = '<script>alert("x")</script>'
    ref = synthetic.make_record("A")
    if where == "metric":
        ref.data["metrics"][evil] = 1.0
        ref.data["history"][0]["epochs"][0][evil] = 1.0
    else:
        ref.data["project"] = evil
    run = synthetic.clone(ref, "B", machine__env__X=evil)
    html = render_report_html([ref, run], compare_runs([ref, run]))

    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html


def test_thousand_runs_render_in_reasonable_time():
    records = synthetic.many_records(1000, epochs=10)
    comparison = compare_runs(records)
    started = time.perf_counter()
    html = render_report_html(records, comparison)
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"report of 1000 runs took {elapsed:.1f} s"
    assert "and 984 more runs" in html


def _write_records(folder: Path) -> list[str]:
    from reprobox.atomic import dump_json
    from reprobox.seals import seal_record

    records, _ = two_runs()
    paths = []
    for record in records:
        run_dir = folder / record.data["run_id"]
        run_dir.mkdir(parents=True)
        (run_dir / "record.json").write_text(dump_json(seal_record(record.data)))
        paths.append(str(run_dir))
    return paths


def _cli(*args, cwd):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROBOX_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        [sys.executable, "-m", "reprobox", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_report_in_a_project_folder_defaults_under_reprobox(tmp_path):
    """A report.html beside the code would go into the image and change its tag."""
    runs = _write_records(tmp_path / "runs")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "reprobox.toml").write_text('command = "python t.py"\n')
    result = _cli("report", *runs, cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote .reprobox/report.html"
    assert (project / ".reprobox" / "report.html").is_file()
    assert not (project / "report.html").exists()
    assert "note:" not in result.stderr


def test_report_outside_a_project_defaults_to_report_html(tmp_path):
    runs = _write_records(tmp_path / "runs")
    result = _cli("report", *runs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.html").is_file()
    assert "note:" not in result.stderr


def test_report_written_into_the_image_context_says_so(tmp_path):
    runs = _write_records(tmp_path / "runs")
    project = tmp_path / "proj"
    (project / "out").mkdir(parents=True)
    (project / "reprobox.toml").write_text('command = "python t.py"\n')
    result = _cli("report", *runs, "-o", "out/r.html", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == (
        f"reprobox: warning: out/r.html is inside project {project}: the next build "
        "copies it into the image, under a new tag; write it outside the project "
        "or under .reprobox/, or list it in .reproboxignore"
    )
    (project / ".reproboxignore").write_text("out/\n")
    quiet = _cli("report", *runs, "-o", "out/r.html", cwd=project)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_report_below_a_project_folder_defaults_to_its_reprobox(tmp_path):
    runs = _write_records(tmp_path / "runs")
    project = tmp_path / "proj"
    (project / "sub").mkdir(parents=True)
    (project / "reprobox.toml").write_text('command = "python t.py"\n')
    result = _cli("report", *runs, cwd=project / "sub")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote ../.reprobox/report.html"
    assert (project / ".reprobox" / "report.html").is_file()
    assert not (project / "sub" / "report.html").exists()


@pytest.mark.parametrize(
    "name, text",
    [
        ("train.py", "keep me\n"),
        ("reprobox.toml", "keep me\n"),
        (".gitignore", "keep me\n"),
        ("notes.html", "<html><body>My notes</body></html>\n"),
        # brk: notes that quote the generator mark were replaced.
        ("notes.md", f"# How reprobox marks its pages\n\n`{MARK}`\n"),
        ("page.html", f"<!DOCTYPE html>\n<head>{MARK}</head>\n</body>\n</html>\n"),
    ],
)
def test_report_never_replaces_a_file_it_did_not_write(tmp_path, name, text):
    runs = _write_records(tmp_path / "runs")
    target = tmp_path / name
    target.write_text(text)
    result = _cli("report", *runs, "-o", name, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"reprobox: error: --output {name} exists and is not a report reprobox "
        "wrote; reprobox will not replace it (choose another -o, or remove that "
        "file yourself)\n"
    )
    assert target.read_text() == text


def test_only_a_whole_report_counts_as_one(tmp_path):
    from reprobox.report import is_reprobox_report

    page = render_report_html(*two_runs())
    path = tmp_path / "r.html"
    path.write_text(page)
    assert is_reprobox_report(path)
    for shape in (
        page[: len(page) // 2],  # cut short: the rest may be someone's
        page + "\nmy notes below the report\n",
        "<!-- mine -->\n" + page,
        page.replace(MARK, MARK.replace("report", "notes")),
    ):
        path.write_text(shape)
        assert not is_reprobox_report(path)


def test_report_replaces_its_own_earlier_report(tmp_path):
    runs = _write_records(tmp_path / "runs")
    first = _cli("report", *runs, "-o", "r.html", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = _cli("report", *runs[:2], "-o", "r.html", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (
        '<meta name="generator" content="reprobox report">'
        in (tmp_path / "r.html").read_text()
    )


@pytest.mark.parametrize(
    "manifest",
    [
        '{"schema_version": 1, "metrics": [1]}',
        "[]",
        '{"schema_version": 1, "metrics": {"compare": "test_accuracy"}}',
        '{"schema_version": 99}',
        "{not json",
    ],
)
def test_a_damaged_manifest_beside_the_runs_is_named(tmp_path, manifest):
    state = tmp_path / "proj" / ".reprobox"
    runs = _write_records(state / "runs")
    (state / "manifest.json").write_text(manifest)
    result = _cli("compare", *runs, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{state / 'manifest.json'}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_default_reference_is_the_earliest_run_that_succeeded(tmp_path):
    ref = synthetic.make_record("20240101T000000Z-aaaaaa").data
    runs = []
    for run_id, status in [
        ("20240101T000000Z-aaaaaa", "interrupted"),
        ("20240101T000001Z-bbbbbb", "succeeded"),
        ("20240101T000002Z-cccccc", "succeeded"),
    ]:
        data = {
            **ref,
            "run_id": run_id,
            "status": status,
            "started_at": f"2024-01-01T00:00:0{run_id[14]}+00:00",
        }
        runs.append(str(synthetic.write_record(tmp_path / "runs", data).parent))
    result = _cli("compare", *runs, "--json", cwd=tmp_path)
    assert json.loads(result.stdout)["reference"] == "20240101T000001Z-bbbbbb"


def _metric_cells(html, name):
    """Return (class, title, text) of each cell in the metrics table row of name."""
    row = re.search(rf"<tr><th>{name}</th>(.*?)</tr>", html).group(1)
    return re.findall(r'<td class="num ([^"]*)" title="([^"]*)">(.*?)</td>', row)


def three_runs_one_new_metric():
    """A reference, a run that crashed before metrics, a run with a new metric."""
    ref = synthetic.make_record("A", metrics={"acc": 0.9})
    crashed = synthetic.clone(
        ref, "B", status="failed", exit_code=1, metrics={}, history=[]
    )
    epochs = synthetic.curve_epochs(5, seed=0)
    for row in epochs:
        row["f1"] = 0.5 + row["epoch"] / 20
    newer = synthetic.clone(
        ref,
        "C",
        metrics={"acc": 0.9, "f1": 0.8},
        history=[{"call": 0, "epochs": epochs}],
    )
    return [ref, crashed, newer]


def test_a_metric_only_one_run_has_shows_absent_where_it_was_not_compared():
    records = three_runs_one_new_metric()
    html = render_report_html(records, compare_runs(records))

    assert _metric_cells(html, "f1") == [
        ("ref", "", "absent"),
        (
            "absent",
            "not compared: missing in this run and in the reference run",
            "absent",
        ),
        ("fail", "missing in the reference run", '0.8<span class="delta">n/a</span>'),
    ]
    assert _metric_cells(html, "acc") == [
        ("ref", "", "0.9"),
        ("fail", "missing in this run", 'absent<span class="delta">n/a</span>'),
        ("same", "identical", "0.9"),
    ]
    # The f1 chart draws the one run that has the curve; the others are absent.
    chart = re.search(r"<svg[^>]*><title>f1</title>.*?</svg>", html).group()
    assert re.findall(r'<path class="curve"[^>]*data-run="([^"]+)"', chart) == ["C"]


def test_report_counts_missing_metrics_apart_and_lists_them():
    records = three_runs_one_new_metric()
    html = render_report_html(records, compare_runs(records))

    assert (
        '<span class="verdict fail">FAIL</span> run B has status failed '
        "(exit code 1); "
        "0 of 1 metric checks out of tolerance, "
        "2 missing metrics in the checks of 2 runs." in html
    )
    assert (
        '<h2>Missing metrics</h2>\n<ul class="notes">\n'
        "<li>run B: acc only in the reference (0.9), not in this run</li>\n"
        "<li>run C: f1 only in this run (0.8), not in the reference</li>\n"
    ) in html
    assert "Nondeterminism" not in html
    assert (
        "<td>failed (exit code 1) and has no metrics to compare: "
        "its failure is the finding</td>" in html
    )
    assert (
        "<td>shared metrics identical; f1 only in this run (0.8), "
        "not in the reference</td>" in html
    )


def test_a_metric_flag_naming_a_metric_one_run_has_renders():
    records = three_runs_one_new_metric()
    comparison = compare_runs(records, metrics=["f1"])
    html = render_report_html(records, comparison)

    assert [row[0] for row in _metric_cells(html, "f1")] == ["ref", "absent", "fail"]
    assert re.search(r"<tr><th>acc</th>", html) is None


def test_records_without_metrics_say_nothing_was_checked():
    ref = synthetic.make_record("A", metrics={})
    records = [ref, synthetic.clone(ref, "B")]
    html = render_report_html(records, compare_runs(records))
    assert (
        '<span class="verdict fail">FAIL</span> no run recorded any metric, so '
        "nothing was checked." in html
    )
    assert "0 of 0" not in html


def test_the_verdict_line_says_what_compare_says_after_it():
    # brk r37 (AY 9): compare said "...; but runs of one setup gave different
    # accuracy: nondeterminism", the report's verdict line left it out.
    from reprobox.compare import Tolerance, render_text

    ref = synthetic.make_record("A", metrics={"accuracy": 0.9})
    run = synthetic.clone(ref, "B", metrics={"accuracy": 0.9001})
    records = [ref, run]
    comparison = compare_runs(records, tolerances={"accuracy": Tolerance(0.01)})
    said = "but runs of one setup gave different accuracy: nondeterminism"
    assert comparison.passed and said in render_text(comparison)
    assert said in render_report_html(records, comparison)


LEGEND = (
    "<p>Each cell is coloured by its check, its reason shown on hover. Blue: the "
    "reference's own value (where the reference is judged on a seed band, "
    "coloured by that check as any run's is); green: identical to the run it "
    "is set against (the reference, or the sweep run of its seed); yellow: within "
    "tolerance, or within the seed band widened by tolerance; red: the check "
    "fails, even where the value equals the other's: out of tolerance or "
    "outside the seed band widened by tolerance; missing in this run, in the run "
    "it is set against, or in every run; NaN or infinite in only one of the two, "
    "infinite with opposite signs, or not a number; NaN or infinite in a seed of "
    "a sweep; this run or the run it is set against failed, was interrupted or "
    "did not succeed otherwise; or repeats of one setup gave different values; "
    "lilac: a sweep run's other seed that succeeded, the noise itself; grey: not "
    "compared, in neither this run nor the run it is set against while another "
    "run has it (a metric no run has is red, as compare fails it).</p>"
)


def test_the_legend_says_every_case_that_colours_a_cell():
    # brk r46 (BN minor): a checked metric missing from both runs is red; r47
    # (BO 3): the reference's own (blue) cells had no entry; r48 (BQ 3): it
    # said "red: out of tolerance or missing" where a value equal to the
    # reference is red when its run, or the reference, failed.
    html = render_report_html(*two_runs())

    assert LEGEND in html


@pytest.mark.parametrize("failed", ["A", "B"])
def test_an_equal_value_of_a_failed_pair_is_red_as_the_legend_says(failed):
    ref = synthetic.make_record("A", metrics={"acc": 0.9})
    records = [ref, synthetic.clone(ref, "B")]
    at = ["A", "B"].index(failed)
    records[at] = synthetic.clone(records[at], failed, status="failed", exit_code=3)
    html = render_report_html(records, compare_runs(records))

    [_, (state, why, value)] = _metric_cells(html, "acc")
    assert (state, value) == ("fail", "0.9")
    assert why == (
        f"identical; but run {failed} has status failed (exit code 3): it cannot pass"
    )
    assert "this run or the run it is set against failed, was interrupted" in html


def test_a_checked_metric_another_run_has_is_grey_as_the_legend_says():
    records = three_runs_one_new_metric()
    html = render_report_html(records, compare_runs(records, metrics=["f1"]))

    assert [row[0] for row in _metric_cells(html, "f1")] == ["ref", "absent", "fail"]
    assert "grey: not compared, in neither this run nor the run it is set " in html


def test_a_failed_sweep_seed_is_red_not_lilac():
    # breakers r49 (BS 4, BR 6): seed 2 exited 3, and its cells were lilac
    # noise while its run's verdict was FAIL and the band left it out.
    base = synthetic.make_record("S0", metrics={"acc": 0.9})
    records = [
        synthetic.clone(
            base,
            f"S{seed}",
            seed=seed,
            options__seed_sweep="sw1",
            metrics={"acc": value},
            started_at=f"2024-01-01T00:00:0{seed}Z",
        )
        for seed, value in enumerate([0.9, 0.905, 0.91])
    ]
    records[2] = synthetic.clone(records[2], "S2", status="failed", exit_code=3)
    html = render_report_html(records, compare_runs(records))

    [_, noise, failed] = _metric_cells(html, "acc")
    assert (noise[0], failed[0]) == ("noise", "fail")
    assert failed[1] == (
        "seed 2 of the sweep, left out of its noise band; but run S2 has status "
        "failed (exit code 3): it cannot pass"
    )
