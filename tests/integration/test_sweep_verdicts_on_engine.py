"""The verdict of run --seeds / --repeat and compare of a sweep, on a real engine."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from conftest import freeze_and_build

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
# PLAN=1=nan,2=fail: seed 1 writes NaN, seed 2 exits 3; any other seed 0.9+seed/1000.
# RND=1: a value that differs from run to run. F=1: also f 1, in every run.
# EXIT=N: exit N once the metrics are written (EXIT_SEED=S: in seed S's run only).
BY_SEED = """import json, os, sys
seed = os.environ["REPROBOX_SEED"]
plan = dict(p.split("=") for p in os.environ.get("PLAN", "").split(",") if p)
value = plan.get(seed, str(0.9 + int(seed) / 1000))
if os.environ.get("RND"):  # differs run to run, whatever seeds boot sets
    value = str(0.9 + int.from_bytes(os.urandom(4), "big") / 2**40)
if value == "fail":
    sys.exit(3)
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    json.dump({"acc": float(value), **({"f": 1} if os.environ.get("F") else {})}, out)
if os.environ.get("EXIT_SEED", seed) == seed:
    sys.exit(int(os.environ.get("EXIT", "0")))
"""


@pytest.fixture(scope="module")
def by_seed(tmp_path_factory, cli, engine_cleanup):
    """A project writing acc per seed, built once for the module."""
    tmp_path = tmp_path_factory.mktemp("sweep")
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "train.py").write_text(BY_SEED)
    freeze_and_build(path)
    return path


def _run(cli, path, *args):
    return cli.run("-q", "run", str(path), *args, timeout=600, check=False)


def test_a_failed_seed_fails_the_sweeps_verdict(cli, by_seed):
    # round 33 item 2: seed 2 exited 3, yet the verdict said PASS on two runs.
    done = _run(cli, by_seed, "--seeds", "0-2", "--env", "PLAN=2=fail")
    assert done.returncode == 1, done.describe()
    assert "reprobox compare: 3 runs" in done.stdout
    assert "verdict: FAIL (run " in done.stdout
    assert "has status failed (exit code 3)" in done.stdout
    assert "failed (exit code 3) in " in done.stdout
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "failed (exit code 3)" in errors[0], done.describe()

    done = _run(cli, by_seed, "--seeds", "0-2", "--env", "PLAN=2=fail", "--json")
    assert done.returncode == 1, done.describe()
    comparison = json.loads(done.stdout)["comparison"]
    assert comparison["passed"] is False
    [failed] = [r for r in comparison["runs"] if r["status"] == "failed"]
    assert (failed["seed"], failed["exit_code"], failed["passed"]) == (2, 3, False)


def test_a_failed_repeat_says_its_exit_code(cli, by_seed):
    done = _run(cli, by_seed, "--repeat", "2", "--env", "PLAN=1=fail")
    assert done.returncode == 1, done.describe()
    assert done.stdout.count("failed (exit code 3) in ") == 2
    assert "verdict: FAIL" in done.stdout
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 2, done.describe()


def test_a_seed_that_failed_after_its_metrics_is_no_noise(cli, by_seed):
    # breakers r49 (BS 4, BR 6): seed 2 wrote acc, then exited 3; its band left
    # it out and the verdict failed it, yet its rows said "noise", with
    # seed_noise true and passed null in the JSON, and its report cell lilac.
    exits = ("--env", "EXIT=3", "--env", "EXIT_SEED=2")
    done = _run(cli, by_seed, "--seeds", "0-2", *exits, "--json")
    assert done.returncode == 1, done.describe()
    comparison = json.loads(done.stdout)["comparison"]
    failed = [r["run_id"] for r in comparison["runs"] if r["status"] == "failed"]
    assert len(failed) == 1, done.describe()
    why = f"run {failed[0]} has status failed (exit code 3)"
    reason = (
        f"seed 2 of the sweep, left out of its noise band; but {why}: it cannot pass"
    )
    rows = [
        (r["seed_noise"], r["passed"], r["overruled"], r["reason"])
        for r in comparison["results"]
    ]
    assert rows == [
        (True, None, "", "seed noise: seed 1 against the reference's 0"),
        (False, False, why, reason),
    ]
    [band] = comparison["noise_bands"]
    assert band["n"] == 2 and failed[0] not in band["run_ids"]

    folders = [
        str(by_seed / ".reprobox" / "runs" / r["run_id"]) for r in comparison["runs"]
    ]
    compared = cli.run("compare", *folders, "--md", check=False)
    assert compared.returncode == 1, compared.describe()
    assert (
        f"verdict: FAIL ({why}; nothing beyond seed noise); 1 sweep run(s) with "
        "other seeds measure the noise"
    ) in compared.stdout
    assert f"| {failed[0]} | acc | 0.902 | 0.9 | +0.002 |" in compared.stdout
    assert f"| FAIL | {reason} |" in compared.stdout
    report = cli.run("report", *folders, "-o", "-", timeout=120)
    assert f'<td class="num fail" title="{reason}">' in unescape(report.stdout)


def test_a_nan_seed_fails_the_sweep_by_name(cli, by_seed):
    # round 33 item 3: seed 1 wrote NaN and the sweep passed on a band of two.
    done = _run(cli, by_seed, "--seeds", "0-2", "--env", "PLAN=1=nan", "--json")
    assert done.returncode == 1, done.describe()
    comparison = json.loads(done.stdout)["comparison"]
    assert comparison["passed"] is False
    [judged] = [r for r in comparison["results"] if r["passed"] is not None]
    assert (judged["metric"], judged["passed"]) == ("acc", False)
    assert judged["reason"] == "NaN in this run only; seed 1 of the sweep"
    assert any("is nan, not finite" in note for note in comparison["notes"])


def test_a_nan_seed_beside_an_identical_metric_is_not_said_identical(cli, by_seed):
    # brk r43 (BH F1): seed 1's line read "acc NaN in seed 1 ...; metrics
    # identical despite setup differences" (f, the other metric, was).
    done = _run(
        cli, by_seed, "--seeds", "0-2", "--env", "PLAN=1=nan", "--env", "F=1", "--json"
    )
    assert done.returncode == 1, done.describe()
    runs = json.loads(done.stdout)["comparison"]["runs"]
    [nan_run] = [run for run in runs if run["seed"] == 1]
    assert "acc NaN in seed 1 of the sweep" in nan_run["headline"]
    assert "other metrics identical" in nan_run["headline"], nan_run
    assert nan_run["metrics_differ"] is True


def test_compare_of_a_sweep_leaves_its_noise_unjudged(cli, by_seed, tmp_path):
    # round 33 item 4: exact tolerances gave other seeds passed false in JSON.
    done = _run(cli, by_seed, "--seeds", "0-2", "--json")
    assert done.returncode == 0, done.describe()
    ids = [record["run_id"] for record in json.loads(done.stdout)["records"]]
    runs = by_seed / ".reprobox" / "runs"
    compared = cli.run("compare", *(str(runs / i) for i in ids), "--json")
    data = json.loads(compared.stdout)
    assert data["passed"] is True
    assert [r["passed"] for r in data["runs"]] == [True, None, None]
    assert [r["passed"] for r in data["results"]] == [None, None]


def test_a_sweep_of_nan_seeds_only_fails_naming_the_metric(cli, by_seed):
    # breaker BC 2: every seed wrote NaN and each run read "identical", PASS.
    done = _run(cli, by_seed, "--seeds", "0-1", "--env", "PLAN=0=nan,1=nan")
    assert done.returncode == 1, done.describe()
    assert "verdict: FAIL" in done.stdout
    assert "acc NaN in seed 1 of the sweep" in done.stdout
    assert "metrics identical" not in done.stdout

    done = _run(cli, by_seed, "--seeds", "0-1", "--env", "PLAN=0=nan,1=nan", "--json")
    assert done.returncode == 1, done.describe()
    comparison = json.loads(done.stdout)["comparison"]
    assert comparison["passed"] is False
    assert [run["passed"] for run in comparison["runs"]] == [False, False]
    [result] = comparison["results"]
    assert (result["metric"], result["passed"], result["identical"]) == (
        "acc",
        False,
        False,
    )
    assert "acc NaN in seed 1 of the sweep" in result["reason"]


def test_a_failed_run_inside_the_band_is_not_said_outside_it(cli, by_seed):
    # breaker BQ 1: seed 5 wrote acc inside the band [0.9, 0.902], then exited
    # 3; its rows said within the band, its summary "acc outside the seed band".
    done = _run(cli, by_seed, "--seeds", "0-2", "--json")
    assert done.returncode == 0, done.describe()
    run_ids = [run["run_id"] for run in json.loads(done.stdout)["comparison"]["runs"]]
    # BQ 2: an empty --env value read as an empty cell beside `unset`.
    inside_then_exit = ("--env", "PLAN=5=0.9005", "--env", "EXIT=3", "--env", "E=")
    failed = _run(cli, by_seed, "--seed", "5", *inside_then_exit, "--json")
    assert failed.returncode == 1, failed.describe()
    run_ids.append(json.loads(failed.stdout)["run_id"])
    folders = [str(by_seed / ".reprobox" / "runs" / run_id) for run_id in run_ids]

    headline = (
        "acc within the seed band widened by tolerance; "
        "but status failed (exit code 3): it cannot pass"
    )
    compared = cli.run("compare", *folders, check=False)
    assert compared.returncode == 1, compared.describe()
    text = compared.stdout
    assert "0 of 1 metric checks outside the seed band" in compared.stdout
    assert f"FAIL     {headline}\n" in compared.stdout
    compared = cli.run("compare", *folders, "--json", check=False)
    [run] = [r for r in json.loads(compared.stdout)["runs"] if r["judged_on_band"]]
    assert (run["run_id"], run["headline"], run["exit_code"]) == (
        run_ids[-1],
        headline,
        3,
    )
    assert (run["metrics_differ"], run["likely_cause"]) == (False, None)
    [empty] = [
        (d["reference_value"], d["run_value"])
        for d in json.loads(compared.stdout)["differences"]
        if d["field"] == "options.env.E"
    ]
    assert empty == (None, "")
    assert re.search(r"options\.env\.E +unset +\"\" +env ", text), text


def _report_rows(html: str) -> dict[str, tuple[str, str]]:
    """Map each run of the report's runs table to its (status, verdict) cells."""
    rows = {}
    for row in re.findall(r"<tr><td><span class=\"swatch\".*?</tr>", html, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        run_id = re.sub(r"<[^>]+>", "", cells[0]).removesuffix(" (ref)")
        rows[run_id] = (cells[2], cells[3])
    return rows


def test_a_report_of_repeats_that_differ_marks_each_fail(cli, by_seed):
    # breaker BC 3: the report's reference row read "-" where compare said FAIL.
    done = _run(cli, by_seed, "--repeat", "2", "--env", "RND=1", "--json")
    assert done.returncode == 1, done.describe()
    run_ids = [run["run_id"] for run in json.loads(done.stdout)["comparison"]["runs"]]
    folders = [str(by_seed / ".reprobox" / "runs" / run_id) for run_id in run_ids]
    for reference in run_ids:
        report = cli.run(
            "report", *folders, "--reference", reference, "-o", "-", timeout=120
        )
        rows = _report_rows(report.stdout)
        assert rows == {run_id: ("succeeded", "FAIL") for run_id in run_ids}


def test_a_report_shows_the_band_verdict_and_the_seed_noise_table(cli, by_seed):
    # breaker BF 3: a reference judged on the seed band read plain 'ref' in
    # the report's metrics; BF 4: its "Differences against seed noise" table
    # was missing. Seed 42 lies off the sweep's seeds 0-2 (band 0.9..0.902).
    done = _run(cli, by_seed, "--seeds", "0-2", "--json")
    assert done.returncode == 0, done.describe()
    run_ids = [run["run_id"] for run in json.loads(done.stdout)["comparison"]["runs"]]
    single = _run(cli, by_seed, "--seed", "42", "--json")
    assert single.returncode == 0, single.describe()
    off_band = json.loads(single.stdout)["run_id"]
    run_ids.append(off_band)
    folders = [str(by_seed / ".reprobox" / "runs" / run_id) for run_id in run_ids]
    args = (*folders, "--reference", off_band, "--tol", "acc=abs:0.01")

    compared = cli.run("compare", *args, "--json", check=False)
    assert compared.returncode == 1, compared.describe()
    comparison = json.loads(compared.stdout)
    [judged] = [r for r in comparison["results"] if r["seed_band"]]
    [check] = comparison["noise_checks"]
    assert (check["run_id"], check["beyond_noise"]) == (off_band, True)
    assert judged["run_id"] == off_band and judged["passed"] is False
    html = cli.run("report", *args, "-o", "-", timeout=120).stdout

    value = re.escape(repr(judged["value"]))  # 0.9 + 42 / 1000, as written
    [(css, title)] = re.findall(rf'<td class="([^"]+)" title="([^"]*)">{value}<', html)
    assert (css, unescape(title)) == ("num fail", judged["reason"])
    assert "0.04 above the seed band [0.9, 0.902]" in judged["reason"]
    table = html.split("<h2>Differences against seed noise</h2>", 1)[1]
    table = table.split("</table>", 1)[0]
    rows = re.findall(
        r"<tr><td>([^<]*)</td><td>acc</td><td>[^<]*</td><td[^>]*>[^<]*</td>"
        r"<td>([^<]*)</td>",
        table,
    )
    assert rows == [(off_band, "beyond noise")]
