"""Metric values past the float limits, from a real container to every display.

A training script writes an integer past 2**53 that a float happens to hold,
one that it does not, a number beyond the largest float and a blank name; an
integer against the float it is written as, and small integers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
# Written as text: 1e400 is what a script's own JSON writer could leave there.
WRITES = """import os
seed = int(os.environ["REPROBOX_SEED"])
big = "1e400" if seed == 0 else str(2**53 + 1)
# Seed 0 the integers, seed 1 the floats: -(2**60) against the float written
# -1.152921504606847e+18 (24 apart), 1e+30 against 10**30 (equal as written).
e, a = ("-1152921504606846976", "1e30")
if seed == 1:
    e, a = ("-1.152921504606847e+18", "1" + "0" * 30)
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    neg = -(2**60) - seed
    out.write('{"neg": %d, "big": %s, "tiny": 4.9e-07, " ": 1.0, ' % (neg, big))
    out.write('"e": %s, "a": %s, "steps": 5, "zero": 0, "edge": %d}' % (e, a, 2**53))
"""
NEG = -(2**60)


@pytest.fixture(scope="module")
def big_numbers(tmp_path_factory, cli, engine_cleanup):
    tmp_path = tmp_path_factory.mktemp("bignum")
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "train.py").write_text(WRITES)
    cli.run("-q", "freeze", str(path), timeout=600)
    cli.run("-q", "build", str(path), timeout=600)
    return path


def _record_folders(text: str) -> list[str]:
    return re.findall(r"record: (\S+)/record.json", text)


def test_big_and_infinite_metrics_are_kept_and_judged_exactly(cli, big_numbers):
    runs = []
    for seed in ("0", "1"):
        done = cli.run("run", str(big_numbers), "--seed", seed, timeout=600)
        assert "Traceback" not in done.stdout + done.stderr
        runs += _record_folders(done.stdout)
    assert len(runs) == 2
    zero, one = (json.loads(Path(f, "record.json").read_text()) for f in runs)
    # The record holds the integers whole, as the script wrote them.
    assert (zero["metrics"]["neg"], one["metrics"]["neg"]) == (NEG, NEG - 1)
    assert '"neg": -1152921504606846976' in Path(runs[0], "record.json").read_text()
    assert zero["metrics"]["big"] == "Infinity"
    assert one["metrics"]["big"] == 2**53 + 1
    assert " " not in zero["metrics"]
    assert any("' ' in the metrics file" in w for w in zero["warnings"])

    judged = cli.run(
        "compare",
        *runs,
        "--tol",
        "neg=abs:2",
        "--metric",
        "neg",
        "--json",
        timeout=120,
        check=False,
    )
    results = json.loads(judged.stdout)["results"]
    [result] = [r for r in results if r["run_id"] == one["run_id"]]
    assert (result["delta"], result["passed"]) == (-1, True)
    table = cli.run(
        "compare",
        *runs,
        "--tol",
        "neg=abs:2",
        "--metric",
        "neg",
        timeout=120,
        check=False,
    )
    assert table.returncode == 0, table.describe()
    assert re.search(
        r"-1152921504606846977\s+-1152921504606846976\s+-1\s", table.stdout
    )

    # An infinity in one run against an exact integer: a failure, not a crash.
    both = cli.run("compare", *runs, "--json", timeout=120, check=False)
    assert both.returncode == 1 and "Traceback" not in both.stderr, both.describe()
    results = json.loads(both.stdout)["results"]
    [big] = [r for r in results if (r["run_id"], r["metric"]) == (one["run_id"], "big")]
    assert (big["passed"], big["reason"]) == (False, "infinite in one run only")
    report = cli.run(
        "report",
        *runs,
        "-o",
        str(big_numbers / "report.html"),
        timeout=120,
        check=False,
    )
    assert report.returncode == 0 and "Traceback" not in report.stderr


def test_a_seed_sweep_of_them_shows_each_value_exactly(cli, big_numbers):
    swept = cli.run("run", str(big_numbers), "--seeds", "0-1", timeout=600, check=False)
    assert swept.returncode == 1, swept.describe()
    assert "Traceback" not in swept.stdout + swept.stderr
    assert re.search(r"\bneg\s+-1152921504606846976$", swept.stdout, re.M)
    assert re.search(r"\btiny\s+4\.9e-07$", swept.stdout, re.M)
    assert re.search(r"\bbig\s+9007199254740993$", swept.stdout, re.M)


def test_an_integer_and_a_float_are_judged_as_written_and_shown_whole(cli, big_numbers):
    runs, summaries = [], []
    for seed in ("0", "1"):
        done = cli.run("run", str(big_numbers), "--seed", seed, timeout=600)
        runs += _record_folders(done.stdout)
        summaries.append(done.stdout)
    assert len(runs) == 2
    # brk r37 6: 5, 0 and 2**53 were recorded and shown 5.0, 0.0, ...992.0.
    text = Path(runs[0], "record.json").read_text()
    assert '"steps": 5,' in text and '"zero": 0' in text
    assert '"edge": 9007199254740992,' in text
    for name, shown in (("steps", "5"), ("zero", "0"), ("edge", "9007199254740992")):
        assert re.search(rf"\b{name}\s+{shown}$", summaries[0], re.M), name

    # brk r37 1: -(2**60) against its float, written 24 apart, was 'pass
    # identical' with JSON delta 0.0 beside a table delta of -24.
    e_args = (*runs, "--metric", "e", "--tol", "e=abs:1")
    judged = cli.run("compare", *e_args, "--json", timeout=120, check=False)
    assert judged.returncode == 1, judged.describe()
    [e] = [r for r in json.loads(judged.stdout)["results"] if r["metric"] == "e"]
    assert (e["delta"], e["identical"], e["passed"]) == (-24, False, False)
    table = cli.run("compare", *e_args, timeout=120, check=False)
    assert table.returncode == 1, table.describe()
    assert re.search(r"-24\s.*FAIL\s+out of tolerance \(abs 1\)", table.stdout)

    # And 1e+30 against 10**30, equal as written, read +0 yet not identical.
    equal = cli.run(
        "compare", *runs, "--metric", "a", "--metric", "steps", "--json", timeout=120
    )
    results = json.loads(equal.stdout)["results"]
    assert [(r["metric"], r["identical"], r["passed"]) for r in results] == [
        ("a", True, True),
        ("steps", True, True),
    ]


def test_a_number_past_pythons_reach_drops_only_its_metric(cli, big_numbers, tmp_path):
    # brk r42 (BE 7): a 5000-digit integer made the whole metrics file "not
    # valid JSON", so a good metric beside it was lost; 1e-999999999 was kept
    # as 0.0 without a word.
    train = big_numbers / "train.py"
    kept = train.read_text()
    train.write_text(
        "import os\n"
        "with open(os.environ['REPROBOX_METRICS'], 'w') as out:\n"
        "    out.write('{\"huge\": 1' + '0' * 4999 + ', \"tiny\": 1e-999999999, '\n"
        "              '\"acc\": 0.5}')\n"
    )
    try:
        cli.run("-q", "freeze", str(big_numbers), timeout=600)
        done = cli.run("run", str(big_numbers), timeout=600)
    finally:
        train.write_text(kept)
        cli.run("-q", "freeze", str(big_numbers), timeout=600)
    [folder] = _record_folders(done.stdout)
    record = json.loads(Path(folder, "record.json").read_text())
    assert record["metrics"] == {"acc": 0.5}
    where = "in the metrics file ($REPROBOX_METRICS)"
    assert (
        f"metric 'huge' {where} is 100000000000... (an integer of 5000 digits: too "
        "large); ignored"
    ) in record["warnings"]
    assert (
        f"metric 'tiny' {where} is 1e-999999999 (too small for a float: it reads "
        "as 0.0); ignored"
    ) in record["warnings"]
