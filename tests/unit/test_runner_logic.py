"""Run logic without a container: env, metrics, machine facts, run ids and folders."""

from __future__ import annotations

import errno
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reprobox import run_folders, runner
from reprobox.atomic import dump_json
from reprobox.container_files import (
    machine_from_capture,
    metrics_from,
    onednn_enabled,
)
from reprobox.errors import (
    EXIT_FAILED,
    EXIT_USAGE,
    InputError,
    ReproboxError,
    RunFailed,
)
from reprobox.run_ending import raise_for_status
from reprobox.run_folders import make_run_dir, new_run_id
from reprobox.run_options import (
    OUT_IN_CONTAINER,
    RunOptions,
    RunTarget,
    check_mountable,
    container_env,
)

BASE_ENV = {
    "REPROBOX_OUT": "/reprobox/out",
    "REPROBOX_METRICS": "/reprobox/out/metrics.json",
    "REPROBOX_PROFILE": "default",
    "HOME": "/tmp",
}


def test_default_env():
    assert OUT_IN_CONTAINER == "/reprobox/out"
    assert container_env({}, RunOptions()) == BASE_ENV


def test_seed_sets_reprobox_seed_and_hash_seed():
    env = container_env({}, RunOptions(seed=42))
    assert env == {**BASE_ENV, "REPROBOX_SEED": "42", "PYTHONHASHSEED": "42"}


def test_seed_zero_is_a_seed():
    assert container_env({}, RunOptions(seed=0))["REPROBOX_SEED"] == "0"


def test_strict_profile_env():
    env = container_env({}, RunOptions(profile="strict"))
    assert env == {
        **BASE_ENV,
        "REPROBOX_PROFILE": "strict",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "TF_DETERMINISTIC_OPS": "1",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "REPROBOX_OP_DETERMINISM": "1",
        "PYTHONHASHSEED": "0",  # README: strict fixes it, seed or none
    }


def test_strict_profile_hashes_with_the_seed_when_there_is_one():
    env = container_env({}, RunOptions(profile="strict", seed=9))
    assert env["PYTHONHASHSEED"] == "9"
    assert env["REPROBOX_SEED"] == "9"


def test_an_env_flag_wins_over_the_hash_seed_and_strict_settings():
    opts = RunOptions(
        profile="strict",
        seed=9,
        extra_env={"PYTHONHASHSEED": "1", "OMP_NUM_THREADS": "8"},
    )
    env = container_env({}, opts)
    assert env["PYTHONHASHSEED"] == "1"
    assert env["OMP_NUM_THREADS"] == "8"  # the hook keeps what the run sets


def test_manifest_op_determinism_applies_in_default_profile():
    manifest = {"determinism": {"profile": "default", "tf_op_determinism": True}}
    env = container_env(manifest, RunOptions())
    assert env == {**BASE_ENV, "REPROBOX_OP_DETERMINISM": "1"}


def test_gpus_require_a_gpu():
    env = container_env({}, RunOptions(gpus="all"))
    assert env == {**BASE_ENV, "REPROBOX_REQUIRE_GPU": "1"}


def test_extra_env_is_added_and_wins_over_defaults():
    opts = RunOptions(
        seed=1,
        profile="strict",
        extra_env={"MY_FLAG": "x", "TF_ENABLE_ONEDNN_OPTS": "1"},
    )
    env = container_env({}, opts)
    assert env["MY_FLAG"] == "x"
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert env["REPROBOX_SEED"] == "1"


@pytest.mark.parametrize("name", ["REPROBOX_OUT", "REPROBOX_PROFILE"])
def test_extra_env_cannot_replace_reprobox_settings(name):
    opts = RunOptions(extra_env={name: "/elsewhere"})
    try:
        env = container_env({}, opts)
    except ReproboxError:
        return  # refusing the option is a fine answer too
    assert env[name] == BASE_ENV[name]


CAPTURE = {
    "history": [
        {"call": 0, "epochs": [{"epoch": 1, "loss": 9.0}]},
        {
            "call": 1,
            "epochs": [
                {"epoch": 1, "loss": 0.5, "accuracy": 0.8},
                {"epoch": 2, "loss": 0.4, "accuracy": 0.9, "val_loss": 0.45},
            ],
        },
    ],
    "evaluations": [
        {"call": 0, "results": {"loss": 7.0}},
        {"call": 1, "results": {"loss": 0.42, "accuracy": 0.88}},
    ],
}


def test_metrics_come_from_last_fit_epoch_and_last_evaluate():
    assert metrics_from(CAPTURE, {}) == {
        "accuracy": 0.9,
        "loss": 0.4,
        "val_loss": 0.45,
        "eval_accuracy": 0.88,
        "eval_loss": 0.42,
    }


def test_script_metrics_win_and_only_numbers_count():
    script = {
        "loss": 0.1,
        "eval_accuracy": 1.0,
        "test_accuracy": 1,
        "note": "x",
        "flag": True,
        "nested": {"a": 1},
    }
    metrics = metrics_from(CAPTURE, script)
    assert metrics == {
        "accuracy": 0.9,
        "loss": 0.1,
        "val_loss": 0.45,
        "eval_accuracy": 1.0,
        "eval_loss": 0.42,
        "test_accuracy": 1,
    }
    # An integer the script wrote stays one (brk r37 6: it read 1.0).
    assert isinstance(metrics["test_accuracy"], int)
    assert isinstance(metrics["eval_accuracy"], float)
    assert list(metrics) == sorted(metrics)


def test_metrics_of_an_empty_capture_are_empty():
    assert metrics_from({}, {}) == {}
    assert metrics_from({"history": [{"call": 0, "epochs": []}]}, {}) == {}


def test_record_of_a_diverged_run_is_strict_json():
    capture = {"history": [{"call": 0, "epochs": [{"epoch": 1, "loss": float("nan")}]}]}
    text = dump_json({"metrics": metrics_from(capture, {"x": float("inf")})})

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    json.loads(text, parse_constant=refuse)


def test_machine_from_capture():
    capture = {
        "machine_cpu": {"vendor": "GenuineIntel", "arch": "x86_64", "flags": ["avx2"]},
        "threads": {"intra_op": 1, "inter_op": 1, "omp": 1},
        "env": {"TF_ENABLE_ONEDNN_OPTS": "0", "OMP_NUM_THREADS": "1"},
        "frameworks": {"tensorflow": {"version": "2.21.0", "cuda": None}},
        "packages": {"zlib": "1", "absl-py": "2"},
        "keras": {"version": "3.10.0", "jit_compile": True},
        "python": {"version": "3.11.2"},
        "os": {"system": "Linux"},
        "gpu": {"available": False},
    }
    assert machine_from_capture(capture) == {
        "cpu": capture["machine_cpu"],
        "threads": capture["threads"],
        "onednn": {
            "TF_ENABLE_ONEDNN_OPTS": "0",
            "ONEDNN_MAX_CPU_ISA": None,
            "enabled": False,
        },
        "gpu": {"available": False},
        "python": "3.11.2",
        "os": {"system": "Linux"},
        "packages": {"absl-py": "2", "zlib": "1"},
        "tensorflow": {"version": "2.21.0", "cuda": None},
        "torch": None,
        "keras": {"version": "3.10.0", "jit_compile": True},
        "env": capture["env"],
    }
    assert list(machine_from_capture(capture)["packages"]) == ["absl-py", "zlib"]


def test_machine_from_empty_capture():
    assert machine_from_capture({}) == {
        "cpu": None,
        "threads": None,
        "onednn": {
            "TF_ENABLE_ONEDNN_OPTS": None,
            "ONEDNN_MAX_CPU_ISA": None,
            "enabled": None,
        },
        "gpu": None,
        "python": None,
        "os": None,
        "packages": {},
        "tensorflow": None,
        "torch": None,
        "keras": None,
        "env": {},
    }


@pytest.mark.parametrize(
    ("env", "tf", "arch", "enabled"),
    [
        ({}, None, "x86_64", None),
        ({"TF_ENABLE_ONEDNN_OPTS": "0"}, None, "x86_64", None),
        ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "2.21.0", "x86_64", False),
        ({"TF_ENABLE_ONEDNN_OPTS": "1"}, "2.21.0", "x86_64", True),
        ({"TF_ENABLE_ONEDNN_OPTS": "True"}, "2.5.0", "x86_64", True),
        ({"TF_ENABLE_ONEDNN_OPTS": " false "}, "2.21.0", "x86_64", False),
        ({"TF_ENABLE_ONEDNN_OPTS": "1"}, "2.15.0", "aarch64", True),
        ({}, "2.9.0", "x86_64", True),
        ({}, "2.21.0", "x86_64", True),
        ({}, "2.8.4", "x86_64", False),
        ({}, "1.15.5", "x86_64", False),
        ({}, "2.10.0rc1", "x86_64", True),
        ({}, "2.21.0", "AMD64", True),
        ({}, "2.21.0", None, False),
        ({}, "nightly", "x86_64", None),
        ({}, "2", "x86_64", None),
    ],
)
def test_onednn_enabled_table(env, tf, arch, enabled):
    assert onednn_enabled(env, tf, arch) is enabled


RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def test_run_id_format():
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    run_id = new_run_id(now)
    assert RUN_ID.match(run_id)
    assert run_id.startswith("20240102T030405Z-")


def test_run_ids_in_the_same_second_differ():
    # 24 random bits: 100 draws repeat at most a few times (p of 6+ repeats ~ 0);
    # make_run_dir, not the id, is what guarantees a fresh folder.
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    ids = [new_run_id(now) for _ in range(100)]
    assert len(set(ids)) >= 95
    assert all(RUN_ID.match(i) for i in ids)


def test_run_ids_sort_by_time():
    start = datetime(2023, 12, 31, 23, 59, 58, tzinfo=timezone.utc)
    times = [start + timedelta(seconds=s) for s in (0, 1, 2, 61, 3600, 86400 * 40)]
    ids = [new_run_id(t) for t in times]
    assert sorted(ids) == ids


def test_run_id_without_time_uses_utc_now():
    before = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_id = new_run_id()
    after = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    assert before <= run_id.split("-")[0] <= after


def test_make_run_dir_creates_fresh_folders(tmp_path):
    runs = tmp_path / "runs"
    made = [make_run_dir(runs) for _ in range(20)]
    assert len({run_id for run_id, _ in made}) == 20
    for run_id, path in made:
        assert path == runs / run_id
        assert path.is_dir() and list(path.iterdir()) == []


def test_make_run_dir_never_reuses_an_existing_folder(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    taken = runs / "20240101T000000Z-aaaaaa"
    taken.mkdir(parents=True)
    (taken / "record.json").write_text("old")
    answers = iter(
        [
            "20240101T000000Z-aaaaaa",
            "20240101T000000Z-aaaaaa",
            "20240101T000000Z-bbbbbb",
        ]
    )
    monkeypatch.setattr(run_folders, "new_run_id", lambda now=None: next(answers))
    run_id, path = make_run_dir(runs)
    assert run_id == "20240101T000000Z-bbbbbb"
    assert path == runs / run_id and path.is_dir()
    assert (taken / "record.json").read_text() == "old"


def test_raise_for_status_passes_success(tmp_path):
    assert raise_for_status({"status": "succeeded", "run_id": "r"}, tmp_path) is None


def test_raise_for_status_reports_error_and_tail(tmp_path):
    tail = "\n".join(f"line {i}" for i in range(15))
    record = {
        "status": "failed",
        "run_id": "r1",
        "error": {"message": "training command exited with 3", "log_tail": tail},
    }
    with pytest.raises(RunFailed) as info:
        raise_for_status(record, tmp_path / "record.json")
    text = str(info.value)
    assert text.startswith("run r1 failed: training command exited with 3\n")
    assert "  | line 14" in text and "  | line 5" in text and "line 4\n" not in text
    assert text.endswith(f"record: {tmp_path / 'record.json'}")
    assert info.value.exit_code == EXIT_FAILED


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TF_NUM_INTRAOP_THREADS", "abc"),
        ("OMP_NUM_THREADS", "2.5"),
        ("TF_NUM_INTEROP_THREADS", ""),
        ("MKL_NUM_THREADS", "0"),
        ("OPENBLAS_NUM_THREADS", "-1"),
    ],
)
def test_a_thread_count_that_is_no_whole_number_is_refused(name, value):
    from reprobox.errors import InputError

    with pytest.raises(InputError) as caught:
        container_env({}, RunOptions(extra_env={name: value}))
    assert caught.value.message == f"--env {name}={value!r} is not a thread count"


def test_a_whole_thread_count_is_passed_on():
    env = container_env({}, RunOptions(extra_env={"OMP_NUM_THREADS": "4"}))
    assert env["OMP_NUM_THREADS"] == "4"


@pytest.mark.parametrize("value", ["abc", "-1", "4294967296", ""])
def test_a_hash_seed_python_refuses_is_refused_first(value):
    from reprobox.errors import InputError

    with pytest.raises(InputError, match="PYTHONHASHSEED"):
        container_env({}, RunOptions(extra_env={"PYTHONHASHSEED": value}))


@pytest.mark.parametrize("value", ["random", "0", "4294967295"])
def test_a_hash_seed_python_takes_is_passed_on(value):
    env = container_env({}, RunOptions(extra_env={"PYTHONHASHSEED": value}))
    assert env["PYTHONHASHSEED"] == value


def test_a_keras_capture_of_the_wrong_shape_is_left_out():
    from reprobox.container_files import sane_capture

    kept, damaged = sane_capture({"keras": {"version": 3, "jit_compile": "yes"}})
    assert "keras" not in kept and damaged == ["keras"]
    kept, damaged = sane_capture({"keras": {"version": "3.3.3", "jit_compile": "auto"}})
    assert kept["keras"] == {"version": "3.3.3", "jit_compile": "auto"} and not damaged


def test_a_capture_without_its_exit_half_is_said_to_be_missing(tmp_path):
    from mine_runs import finish_succeeded

    (tmp_path / "capture.json").write_text('{"history": [], "threads": null}')
    record = {"warnings": []}
    finish_succeeded(record, tmp_path)
    assert any("could not write its final capture" in w for w in record["warnings"])


def _start_in(runs_dir):
    target = RunTarget(project="p", runs_dir=runs_dir)
    runner.run_in_container(
        target,
        engine=None,  # never reached: the runs folder fails first
        image_ref="reprobox/p:1",
        image_id="sha256:" + "0" * 64,
        manifest={},
        manifest_sha256="0" * 64,
        opts=RunOptions(),
    )


def test_a_runs_folder_that_cannot_be_made_is_exit_2_naming_it():
    # /proc takes no new folders, even from root: the user's environment to
    # fix, not a run that said no (exit 1).
    with pytest.raises(ReproboxError) as info:
        _start_in(Path("/proc/reprobox-no-such/runs"))
    assert info.value.exit_code == EXIT_USAGE
    assert str(info.value).startswith("/proc/reprobox-no-such")
    assert "cannot write the run's files" in str(info.value)
    # A project's run has no --runs-dir to give (br F5): none is suggested.
    assert "--runs-dir" not in str(info.value)


@pytest.mark.parametrize(
    "code", [errno.ENOSPC, errno.EROFS, errno.EACCES], ids=["full", "ro", "perm"]
)
def test_a_full_or_read_only_runs_folder_is_exit_2(tmp_path, monkeypatch, code):
    def refuse(runs_dir):
        raise OSError(code, os.strerror(code), str(runs_dir / "x"))

    monkeypatch.setattr(runner, "make_run_dir", refuse)
    with pytest.raises(ReproboxError) as info:
        _start_in(tmp_path / "runs")
    assert info.value.exit_code == EXIT_USAGE
    assert f"{tmp_path / 'runs' / 'x'}: cannot write the run's files: " in str(
        info.value
    )
    assert os.strerror(code) in str(info.value)


def test_secret_env_values_are_named_for_the_hook_to_hide(monkeypatch):
    # bw 2: capture.json kept --env XLA_FLAGS=<token> raw; the record hid it.
    from reprobox.runtime import boot

    token = "ghp_Zq8RkT3vLp9XwY2mNc7Bd4Hs6Jf1Ga5Ke0Ui"
    env = container_env({}, RunOptions(extra_env={"XLA_FLAGS": token, "B": "1"}))
    assert env["REPROBOX_HIDDEN_ENV"] == "XLA_FLAGS"
    assert "REPROBOX_HIDDEN_ENV" not in container_env({}, RunOptions())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    shown = boot.shown_numerics_env()
    assert shown["XLA_FLAGS"] == "***"
    assert shown["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_a_runs_folder_the_engine_cannot_mount_is_refused(tmp_path):
    runs = tmp_path / os.fsdecode(b"proj\xff") / ".reprobox" / "runs"
    with pytest.raises(InputError) as caught:
        check_mountable(RunTarget(project="p", runs_dir=runs))
    assert caught.value.message == (
        f"{tmp_path}/proj\\xff/.reprobox/runs: the path holds bytes that are not "
        "UTF-8, which the Docker engine cannot mount"
    )
    check_mountable(RunTarget(project="p", runs_dir=tmp_path / "projé"))
