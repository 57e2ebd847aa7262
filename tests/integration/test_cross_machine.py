"""Runs of one image on two real engines: strict profile, oneDNN, repeats, seeds.

The second engine, in its own network namespace, stands in for another
machine. Figures worth a look (shipping times, deltas) are printed: run with -s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE1,
    ENGINE2,
    compare_json,
    engine1_client,
    engine2_client,
    make_project,
    record_path,
    run_records,
    shipped_seconds,
    summary_of,
    two_engine_cleanup,
)

pytestmark = [pytest.mark.integration, pytest.mark.second_engine]

EXACT = ("--tol", "test_accuracy=abs:0", "--tol", "test_loss=abs:0")

# A training script whose randomness reprobox's seed cannot reach: the global
# TensorFlow seed comes from os.urandom, and tf.data reshuffles every epoch.
UNSEEDED_TRAIN = """\
import json, os
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

tf.random.set_seed(int.from_bytes(os.urandom(4), "little"))
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
train = (tf.data.Dataset.from_tensor_slices((X[:1400], y[:1400]))
         .shuffle(1400, reshuffle_each_iteration=True).batch(32))
model = tf.keras.Sequential([tf.keras.Input(shape=(64,)),
                             tf.keras.layers.Dense(32, activation="relu"),
                             tf.keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(train, epochs=3, verbose=2)
loss, accuracy = model.evaluate(X[1400:], y[1400:], verbose=0)
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"test_accuracy": accuracy, "test_loss": loss}, fh)
"""
# No tolerances: a repeat must agree bit for bit.
UNSEEDED_TOML = """\
name = "unseeded"
command = "python train.py"
python = "3.11"
base_image = "reprobox-base:bookworm-py3.11"
seed = 42

[packages]
requirements = "requirements.txt"

[metrics]
compare = ["test_accuracy", "test_loss"]
"""


@pytest.fixture(scope="module")
def digits(cli, two_engine_cleanup, tmp_path_factory):
    """examples/digits frozen and built under a unique name, shared by this module."""
    return make_project(
        cli, two_engine_cleanup, tmp_path_factory.mktemp("xm"), "digits"
    )


@pytest.fixture(scope="module")
def engine2_strict(cli, digits) -> dict:
    """One strict run on engine 2 with 1 CPU; the first one ships the image there."""
    result, (record,) = run_records(
        cli, digits, "--profile", "strict", "--host", ENGINE2, "--cpus", "1"
    )
    print(
        f"\n[ship] digits image streamed to engine 2 in "
        f"{shipped_seconds(result.stderr, 'stream'):.1f}s"
    )
    return record


def _results(comparison: dict) -> dict:
    return {(r["run_id"], r["metric"]): r for r in comparison["results"]}


def _strict_on_engine1(cli, digits, *env: str) -> dict:
    _, (record,) = run_records(
        cli, digits, "--profile", "strict", "--host", ENGINE1, "--cpus", "2", *env
    )
    return record


def test_strict_profile_is_bitwise_identical_across_engines_and_cpu_quotas(
    cli, digits, engine2_strict
):
    a = _strict_on_engine1(cli, digits)
    b = engine2_strict
    assert a["engine"]["host"] == ENGINE1 and b["engine"]["host"] == ENGINE2
    assert (a["options"]["cpus"], b["options"]["cpus"]) == (2.0, 1.0)
    assert a["machine"]["cpu"]["cpu_quota"] == 2.0
    assert b["machine"]["cpu"]["cpu_quota"] == 1.0

    result, comparison = compare_json(
        cli, record_path(digits, a), record_path(digits, b), reference=a, extra=EXACT
    )
    assert result.returncode == 0, result.describe()
    for metric in ("test_accuracy", "test_loss"):
        assert a["metrics"][metric] == b["metrics"][metric]
        assert _results(comparison)[(b["run_id"], metric)]["identical"]
    (curve,) = comparison["curves"]
    assert curve["identical"], curve["reason"]
    assert a["history"] == b["history"]
    assert comparison["nondeterminism"] == []


def test_strict_profile_with_an_isa_cap_on_one_engine(cli, digits, engine2_strict):
    """Strict pins ONEDNN_MAX_CPU_ISA=AVX2; measure engine 1 lifted to AVX-512/AMX.

    Measured before strict pinned the cap: AVX2 on one engine against the
    default (AVX-512/AMX here) on the other moved test_loss by 1.4e-05 and the
    curves parted at epoch 4. So strict sets the cap, and a run that lifts it
    must be told apart by compare."""
    assert engine2_strict["machine"]["onednn"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    tries = []
    for _ in range(2):
        capped = _strict_on_engine1(
            cli, digits, "--env", "ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX"
        )
        assert capped["machine"]["onednn"]["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE_AMX"
        _, comparison = compare_json(
            cli,
            record_path(digits, engine2_strict),
            record_path(digits, capped),
            reference=engine2_strict,
            extra=EXACT,
        )
        delta = capped["metrics"]["test_loss"] - engine2_strict["metrics"]["test_loss"]
        tries.append((capped["metrics"]["test_loss"], comparison))
        print(
            f"\n[isa] strict, engine 1 ONEDNN_MAX_CPU_ISA=AVX512_CORE_AMX vs "
            "engine 2 strict's AVX2: "
            f"test_loss delta {delta:+.3g}, identical={comparison['passed']}, "
            f"likely cause {summary_of(comparison, capped)['likely_cause']}"
        )
        tries[-1] += (capped,)

    if tries[0][0] != tries[1][0]:
        pytest.skip("the capped runs disagree: nothing stable to assert")
    _, comparison, capped = tries[0]
    if comparison["passed"]:
        assert summary_of(comparison, capped)["headline"].startswith(
            "metrics identical"
        )
    else:
        assert summary_of(comparison, capped)["likely_cause"].endswith(
            "ONEDNN_MAX_CPU_ISA"
        )


def test_onednn_on_versus_off_is_named_as_the_cause(cli, digits, engine2_strict):
    _, (on,) = run_records(
        cli, digits, "--host", ENGINE1, "--env", "TF_ENABLE_ONEDNN_OPTS=1"
    )
    _, (off,) = run_records(
        cli, digits, "--host", ENGINE2, "--env", "TF_ENABLE_ONEDNN_OPTS=0"
    )
    assert on["machine"]["onednn"]["enabled"] is True
    assert off["machine"]["onednn"]["enabled"] is False
    paths = (record_path(digits, on), record_path(digits, off))

    result, comparison = compare_json(cli, *paths, reference=on, extra=EXACT)
    fields = {d["field"]: d for d in comparison["differences"]}
    setting = fields["machine.env.TF_ENABLE_ONEDNN_OPTS"]
    assert (setting["reference_value"], setting["run_value"]) == ("1", "0")
    assert setting["category"] == "onednn"
    delta = off["metrics"]["test_loss"] - on["metrics"]["test_loss"]
    print(
        f"\n[onednn] test_loss on {on['metrics']['test_loss']!r} "
        f"off {off['metrics']['test_loss']!r} delta {delta:+.3g}"
    )
    if on["metrics"] == off["metrics"]:
        print("[onednn] the metrics were equal with oneDNN on and off")
        assert result.returncode == 0
        return

    assert result.returncode == 1, result.describe()
    summary = summary_of(comparison, off)
    assert summary["metrics_differ"]
    assert summary["likely_cause"].endswith("TF_ENABLE_ONEDNN_OPTS")
    text = cli.run(
        "compare", *map(str, paths), "--reference", on["run_id"], *EXACT, check=False
    )
    assert text.returncode == 1
    headline = next(
        line
        for line in text.stdout.splitlines()
        if off["run_id"] in line and "most likely cause" in line
    )
    assert "onednn" in headline and "TF_ENABLE_ONEDNN_OPTS 1 -> 0" in headline
    if delta:
        assert f"test_loss {delta:+.3g}" in headline


def test_repeat_on_one_engine_is_deterministic(cli, digits):
    result, records = run_records(cli, digits, "--host", ENGINE1, "--repeat", "2")
    assert result.returncode == 0, result.describe()
    assert [r["options"]["repeat_index"] for r in records] == [0, 1]
    assert [r["seed"] for r in records] == [42, 42]
    comparison = json.loads(result.stdout)["comparison"]
    assert comparison["nondeterminism"] == []
    assert all(r["identical"] for r in comparison["results"])
    assert comparison["runs"][1]["headline"] == "metrics identical"
    assert records[0]["metrics"] == records[1]["metrics"]


def test_unseeded_shuffle_is_reported_as_nondeterminism(
    cli, two_engine_cleanup, tmp_path_factory
):
    project = make_project(
        cli,
        two_engine_cleanup,
        tmp_path_factory.mktemp("unseeded"),
        "unseeded",
        files={"train.py": UNSEEDED_TRAIN, "reprobox.toml": UNSEEDED_TOML},
    )
    args = (
        "run",
        str(project.path),
        "--host",
        ENGINE1,
        "--env",
        "TF_DETERMINISTIC_OPS=1",
        "--repeat",
        "2",
    )
    result = cli.run(*args, check=False)
    assert result.returncode == 1, result.describe()
    _, comparison = compare_json(cli, project.runs)
    a, b = (comparison["values"][run["run_id"]] for run in comparison["runs"])
    assert a != b, "two unseeded runs gave equal metrics"
    changed = sorted(name for name in a if a[name] != b[name])
    found = {f["metric"]: f for f in comparison["nondeterminism"]}
    assert sorted(found) == changed
    for name, finding in found.items():
        assert finding["repeats"] is True
        assert finding["spread"] == pytest.approx(abs(a[name] - b[name]))
    section = result.stdout.split("Nondeterminism", 1)[1]
    for name in changed:
        spread = f"spread {abs(a[name] - b[name]):.3g}"
        assert re.search(
            rf"{name} differs across 2 runs .*{re.escape(spread)}", section
        ), section
    print(f"\n[unseeded] {'; '.join(f['reason'] for f in found.values())}")
    envs = [
        json.loads(p.read_text())["machine"]["env"]
        for p in project.runs.glob("*/record.json")
    ]
    assert [env["TF_DETERMINISTIC_OPS"] for env in envs] == ["1", "1"]
    assert [env for env in envs if "TF_USE_CUDNN_AUTOTUNE" in env] == []


def test_no_run_sets_cudnn_autotune(digits):
    """Every record this module wrote carries its env; none sets autotuning."""
    envs = [
        json.loads(p.read_text())["machine"]["env"]
        for p in sorted(digits.runs.glob("*/record.json"))
    ]
    assert envs, "no records to check"
    assert all(env.get("PYTHONHASHSEED") for env in envs), "env not captured"
    assert [env for env in envs if "TF_USE_CUDNN_AUTOTUNE" in env] == []


def test_seed_sweep_and_a_run_elsewhere_against_its_noise(cli, digits):
    result, sweep = run_records(cli, digits, "--host", ENGINE1, "--seeds", "0-2")
    assert result.returncode == 0, result.describe()
    assert [r["seed"] for r in sweep] == [0, 1, 2]
    sweep_ids = {r["options"]["seed_sweep"] for r in sweep}
    assert len(sweep_ids) == 1 and None not in sweep_ids
    assert {r["machine"]["env"]["PYTHONHASHSEED"] for r in sweep} == {"0", "1", "2"}

    _, (elsewhere,) = run_records(
        cli,
        digits,
        "--host",
        ENGINE2,
        "--seed",
        "0",
        "--env",
        "TF_ENABLE_ONEDNN_OPTS=0",
    )
    paths = [record_path(digits, r) for r in [*sweep, elsewhere]]
    _, comparison = compare_json(cli, *paths, reference=sweep[0])
    bands = {b["metric"]: b for b in comparison["noise_bands"]}
    assert set(bands) == {"test_accuracy", "test_loss"}
    for metric, band in bands.items():
        values = [r["metrics"][metric] for r in sweep]
        assert band["n"] == 3
        assert band["spread"] == pytest.approx(max(values) - min(values))
    checks = [
        c for c in comparison["noise_checks"] if c["run_id"] == elsewhere["run_id"]
    ]
    for metric, band in bands.items():
        delta = elsewhere["metrics"][metric] - sweep[0]["metrics"][metric]
        (check,) = [c for c in checks if c["metric"] == metric] or [None]
        print(
            f"\n[noise] {metric}: engine 2 vs seed 0 delta {delta:+.3g}, "
            f"seed spread {band['spread']:.3g}"
            + (f" -> {check['reason']}" if check else " (identical)")
        )
        if delta == 0:
            assert check is None
        else:
            assert check["beyond_noise"] == (
                abs(delta) > band["spread"] or abs(delta) > 2 * band["std"]
            )

    # With seed 1's run as the reference, the run elsewhere (seed 0) is still
    # measured by the sweep's seed-0 run, not by the band: same verdict.
    _, by_seed_1 = compare_json(cli, *paths, reference=sweep[1])
    measured = summary_of(by_seed_1, elsewhere)
    assert (measured["compared_with"], measured["judged_on_band"]) == (
        sweep[0]["run_id"],
        False,
    )
    assert measured["passed"] == summary_of(comparison, elsewhere)["passed"]
    assert by_seed_1["passed"] == comparison["passed"]
    for result in by_seed_1["results"]:
        if result["run_id"] == elsewhere["run_id"]:
            assert result["reference_value"] == sweep[0]["metrics"][result["metric"]]
            assert result["seed_band"] is None

    # A second sweep on engine 2 (seeds 0-1, oneDNN off) is paired seed by
    # seed with the first, and engine 1's seed 2 is judged on engine 2's band:
    # one verdict whichever run is the reference, its cause named on the pair.
    result, sweep2 = run_records(
        cli,
        digits,
        "--host",
        ENGINE2,
        "--seeds",
        "0-1",
        "--env",
        "TF_ENABLE_ONEDNN_OPTS=0",
    )
    assert result.returncode == 0, result.describe()
    both = [*sweep, *sweep2]
    other = {r["run_id"]: (sweep2 if r in sweep else sweep) for r in both}
    passed = set()
    for ref in both:
        _, paired = compare_json(
            cli, *[record_path(digits, r) for r in both], reference=ref, extra=EXACT
        )
        passed.add(paired["passed"])
        for run in other[ref["run_id"]]:
            summary = summary_of(paired, run)
            partners = [r for r in other[run["run_id"]] if r["seed"] == run["seed"]]
            if run is sweep[2] or not partners:  # a seed engine 2 lacks
                assert summary["judged_on_band"], ref["run_id"]
            elif run["seed"] == ref["seed"]:
                assert summary["compared_with"] is None
            else:  # measured by the reference's sweep's run of its seed
                assert summary["compared_with"] == partners[0]["run_id"]
            if summary["metrics_differ"] and not summary["judged_on_band"]:
                assert summary["likely_cause"].endswith("TF_ENABLE_ONEDNN_OPTS")
        assert summary_of(paired, sweep[2])["judged_on_band"], ref["run_id"]
        print(f"\n[pairs] reference {ref['run_id']}: passed {paired['passed']}")
    assert len(passed) == 1


def test_report_from_real_records(cli, digits, tmp_path):
    records = sorted(digits.runs.glob("*/record.json"))
    assert len(records) >= 4
    out = tmp_path / "report.html"
    cli.run("report", str(digits.runs), "-o", str(out))
    html = out.read_text()
    assert not re.search(r"https?://", html)
    _, comparison = compare_json(cli, digits.runs)
    titles = re.findall(r'<svg class="chart"[^>]*><title>([^<]*)</title>', html)
    assert sorted(titles) == sorted(comparison["history_metrics"])
    assert {"accuracy", "loss", "val_accuracy", "val_loss"} <= set(titles)

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("\n[report] no chromium: screenshot not taken")
        return
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            out.as_uri(),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    # pytest prunes old tmp folders; REPROBOX_SCREENSHOT=PATH keeps a copy to look at.
    keep = os.environ.get("REPROBOX_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
    print(f"\n[report] screenshot {keep or shot}")
