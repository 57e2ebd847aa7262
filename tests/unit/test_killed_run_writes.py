"""A run killed at each rename, an engine that hangs up, a disk that fills.

Whatever happens, the next command leaves a record that says the truth, with
every fact reprobox had, and no leftover files.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests.exceptions

from reprobox import run_record, runner
from reprobox.abandoned_runs import close_abandoned_records
from reprobox.compare import RECORD_SCHEMA_VERSION, load_records
from reprobox.errors import EXIT_ENGINE, EXIT_USAGE, EngineError, InputError
from reprobox.run_options import RunOptions, RunTarget
from reprobox.seals import seal_record

MANIFEST = {
    "project": {"name": "p", "command": ["python", "train.py"]},
    "environment": {},
    "data": [],
    "determinism": {"profile": "default"},
}

# Runs one fake run in a child that SIGKILLs itself at its Nth rename, as
# `strace -e inject=rename:signal=SIGKILL:when=N` does to a real reprobox.
KILLED_AT_RENAME = """
import os, signal, sys
from pathlib import Path
from reprobox import run_record, runner
from reprobox.run_options import RunOptions, RunTarget
from reprobox.runner import run_in_container

runs, kill_at = Path(sys.argv[1]), int(sys.argv[2])
count = [0]
def killing(real):
    def rename(*args, **kwargs):
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return rename
os.rename, os.replace = killing(os.rename), killing(os.replace)

class Container:
    id = "c" * 64
    attrs = {"State": {"OOMKilled": False}}
    def logs(self, **kwargs):
        (runs / run_dir_name()).joinpath("metrics.json").write_text('{"acc": 0.5}')
        return iter([b"epoch 1\\n"])
    def wait(self):
        return {"StatusCode": 0}
    def reload(self):
        pass

def run_dir_name():
    return next(p.name for p in runs.iterdir() if p.is_dir())

class Engine:
    def describe(self):
        return {"host": "fake", "server_version": "0", "os": "linux", "arch": "x"}

runner.start_container = lambda engine, spec: Container()
runner.remove_container = lambda container: None
runner.remove_run_containers = lambda engine, run_id: 0
run_record.image_layers_digest = lambda engine, image: "sha256:" + "2" * 64
run_record.recorded_name = lambda engine, image, ref: (ref, None)
run_record.image_label = lambda engine, image, label: None
run_in_container(
    RunTarget(project="p", runs_dir=runs), Engine(), image_ref="reprobox/p:0",
    image_id="sha256:" + "1" * 64, manifest={
        "project": {"name": "p", "command": ["python", "train.py"]},
        "environment": {}, "data": [], "determinism": {"profile": "default"}},
    manifest_sha256="0" * 64, opts=RunOptions(seed=7))
print("ended", flush=True)
"""


def _killed_run(runs: Path, kill_at: int) -> subprocess.CompletedProcess:
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's reprobox
    return subprocess.run(
        [sys.executable, "-c", KILLED_AT_RENAME, str(runs), str(kill_at)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_killed_as_the_lock_is_renamed_leaves_nothing_behind(tmp_path):
    runs = tmp_path / "runs"
    proc = _killed_run(runs, 1)
    assert proc.returncode == -9
    assert any(p.name.endswith(".new") for p in runs.iterdir())  # the kill's leftover

    assert close_abandoned_records(runs, "p") == []
    assert list(runs.iterdir()) == []  # no empty run folder, no stray lock


def test_killed_as_the_start_record_is_renamed_keeps_every_start_fact(tmp_path):
    runs = tmp_path / "runs"
    assert _killed_run(runs, 2).returncode == -9
    [run_dir] = [p for p in runs.iterdir() if p.is_dir()]
    assert not (run_dir / "record.json").exists()

    assert close_abandoned_records(runs, "p") == [run_dir.name]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "interrupted"
    assert record["started_at"] is not None
    assert record["seed"] == 7 and record["profile"] == "default"
    assert record["image"]["id"] == "sha256:" + "1" * 64
    assert record["engine"]["host"] == "fake"
    assert not any("damaged" in w for w in record["warnings"])
    assert sorted(p.name for p in run_dir.iterdir()) == ["record.json"]
    assert [p.name for p in runs.iterdir()] == [run_dir.name]


def test_killed_as_the_final_record_is_renamed_keeps_that_record(tmp_path):
    runs = tmp_path / "runs"
    assert _killed_run(runs, 3).returncode == -9
    [run_dir] = [p for p in runs.iterdir() if p.is_dir()]
    assert json.loads((run_dir / "record.json").read_text())["status"] == "running"

    recovered = []
    assert close_abandoned_records(runs, "p", on_recovered=recovered.append) == []
    assert recovered == [run_dir.name]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    assert record["metrics"] == {"acc": 0.5}
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]
    assert [p.name for p in runs.iterdir()] == [run_dir.name]  # lock gone


def test_a_run_nobody_killed_ends_as_before(tmp_path):
    runs = tmp_path / "runs"
    proc = _killed_run(runs, 99)
    assert proc.stdout == "ended\n", proc.stderr
    [run_dir] = list(runs.iterdir())
    assert json.loads((run_dir / "record.json").read_text())["status"] == "succeeded"


def _start_record(run_id: str, **changes) -> dict:
    """Return a start record as run writes it, sealed."""
    start = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "run_id": run_id,
        "project": "p",
        "status": "running",
        "exit_code": None,
        "started_at": "2026-01-01T00:00:01+00:00",
        "seed": 3,
    }
    return seal_record({**start, **changes})


def test_a_start_record_left_in_a_temp_without_a_host_copy_is_adopted(tmp_path):
    # A reprobox whose copy could not be written leaves this (so did those that
    # wrote the record first, but theirs were schema 1: not taken, see below).
    runs = tmp_path / "runs"
    run_id = "20260101T000001Z-00000a"
    (runs / run_id).mkdir(parents=True)
    fd = runner.hold_run_lock(runs, run_id)
    os.close(fd)  # killed before it kept its copy: the lock file is empty
    start = _start_record(run_id)
    (runs / run_id / ".record.json.abc.tmp").write_text(json.dumps(start))
    (runs / run_id / ".record.json.def.tmp").write_text(json.dumps(start)[:40])

    assert close_abandoned_records(runs, "p") == [run_id]
    record = json.loads((runs / run_id / "record.json").read_text())
    assert record["started_at"] == start["started_at"] and record["seed"] == 3
    assert record["status"] == "interrupted"
    assert sorted(p.name for p in (runs / run_id).iterdir()) == ["record.json"]


def _without_digest(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "record_sha256"}


_OTHER_RUN = "20260101T000001Z-00000c"


@pytest.mark.parametrize(
    "start",
    [
        {**_start_record(_OTHER_RUN), "seed": 4},
        _without_digest(_start_record(_OTHER_RUN)),
        _without_digest(_start_record(_OTHER_RUN, schema_version=1)),
    ],
    ids=["edited", "no-digest", "schema-1"],
)
def test_a_start_record_in_a_temp_is_taken_only_when_its_digest_holds(tmp_path, start):
    runs = tmp_path / "runs"
    run_id = start["run_id"]
    (runs / run_id).mkdir(parents=True)
    os.close(runner.hold_run_lock(runs, run_id))
    (runs / run_id / ".record.json.abc.tmp").write_text(json.dumps(start))

    assert close_abandoned_records(runs, "p") == [run_id]
    [closed] = load_records([runs])  # what it wrote is readable, and sealed
    assert closed.status == "interrupted"
    assert closed.data["started_at"] is None and closed.data.get("seed") is None
    assert closed.data["warnings"] == [
        "reprobox was killed before it kept a copy of this record; only its id "
        "and project are known"
    ]


def test_a_verdict_left_in_the_run_folder_is_not_taken(tmp_path):
    # The folder is the container's to write: a "succeeded" temp proves nothing.
    runs = tmp_path / "runs"
    run_id = "20260101T000001Z-00000b"
    (runs / run_id).mkdir(parents=True)
    os.close(runner.hold_run_lock(runs, run_id))
    (runs / run_id / runner.LOG_NAME).write_text("epoch 1\n")
    forged = {
        "schema_version": 1,
        "run_id": run_id,
        "project": "p",
        "status": "succeeded",
        "metrics": {"acc": 1.0},
    }
    (runs / run_id / ".record.json.abc.tmp").write_text(json.dumps(forged))

    assert close_abandoned_records(runs, "p") == [run_id]
    record = json.loads((runs / run_id / "record.json").read_text())
    assert record["status"] == "interrupted" and record["metrics"] == {}
    assert record["warnings"] == [
        "reprobox was killed before it kept a copy of this record; only its id "
        "and project are known"
    ]


class _Container:
    id = "c" * 64
    attrs = {"State": {"OOMKilled": False}}

    def __init__(self, wait):
        self.wait = wait

    def logs(self, **kwargs):
        return iter([b"epoch 1\n"])

    def reload(self):
        pass


class _Engine:
    host = "unix:///tmp/px.sock"

    def describe(self):
        return {"host": self.host, "server_version": "0", "os": "linux", "arch": "x"}


@pytest.fixture
def fake_engine(monkeypatch):
    removed = []
    monkeypatch.setattr(runner, "remove_container", removed.append)
    monkeypatch.setattr(runner, "remove_run_containers", lambda engine, run_id: 0)
    monkeypatch.setattr(run_record, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    monkeypatch.setattr(run_record, "image_label", lambda engine, image, label: None)
    return removed


def _run(runs: Path):
    return runner.run_in_container(
        RunTarget(project="p", runs_dir=runs),
        _Engine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=MANIFEST,
        manifest_sha256="0" * 64,
        opts=RunOptions(),
    )


def test_an_engine_that_hangs_up_mid_run_is_engine_trouble_not_a_failed_run(
    tmp_path, monkeypatch, fake_engine
):
    def hangs_up():
        raise requests.exceptions.ConnectionError(
            "('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))"
        )

    monkeypatch.setattr(
        runner, "start_container", lambda engine, spec: _Container(hangs_up)
    )
    runs = tmp_path / "runs"
    with pytest.raises(EngineError) as caught:
        _run(runs)
    assert caught.value.exit_code == EXIT_ENGINE
    assert caught.value.message == (
        "lost the connection to the engine at 'unix:///tmp/px.sock' while the run "
        "was going; the container may still be running there; the next reprobox "
        "command against that engine removes it"
    )
    assert fake_engine == []  # no removal tried over the broken connection
    [run_dir] = [p for p in runs.iterdir() if p.is_dir()]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "interrupted" and record["exit_code"] is None
    assert record["error"]["message"] == caught.value.message
    assert "ConnectionRefusedError" not in json.dumps(record)
    assert [p.name for p in runs.iterdir()] == [run_dir.name]  # lock released


def test_a_full_disk_at_the_final_record_leaves_the_run_for_the_next_command(
    tmp_path, monkeypatch, fake_engine
):
    monkeypatch.setattr(
        runner,
        "start_container",
        lambda engine, spec: _Container(lambda: {"StatusCode": 0}),
    )
    real_write = runner.write_record
    writes = []

    def fills(path, record):
        writes.append(record["status"])
        if record["status"] != "running":
            (path.parent / ".capture.x1y2").write_text("{")  # the hook's half file
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, record)

    monkeypatch.setattr(runner, "write_record", fills)
    runs = tmp_path / "runs"
    with pytest.raises(InputError) as caught:
        _run(runs)
    assert caught.value.exit_code == EXIT_USAGE  # not "the job said no" (1)
    assert "No space left on device" in caught.value.message
    assert "free space" in caught.value.hint
    [run_dir] = [p for p in runs.iterdir() if p.is_dir()]
    run_id = run_dir.name
    assert (runs / f".{run_id}.lock").exists()  # kept for the next command

    monkeypatch.setattr(runner, "write_record", real_write)
    recovered = []
    assert close_abandoned_records(runs, "p", on_recovered=recovered.append) == []
    assert recovered == [run_id]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "succeeded"  # from the host copy: nothing lost
    assert sorted(p.name for p in run_dir.iterdir()) == ["container.log", "record.json"]
    assert not (runs / f".{run_id}.lock").exists()


def test_a_full_disk_keeps_the_host_copy_whole(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    run_id = "20260101T000001Z-00000c"
    fd = runner.hold_run_lock(runs, run_id)
    start = {"run_id": run_id, "status": "running", "seed": 1}
    runner.keep_host_copy(runs, run_id, start)

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner.os, "posix_fallocate", full)
    runner.keep_host_copy(runs, run_id, {**start, "status": "succeeded", "x": "y" * 9})
    assert json.loads((runs / f".{run_id}.lock").read_text()) == start
    os.close(fd)


def test_a_disk_that_fills_during_training_is_no_verdict_on_it(
    tmp_path, monkeypatch, fake_engine
):
    class FillsTheLog(_Container):
        def logs(self, stream=False, **kwargs):
            if not stream:
                return b""  # the engine's own copy: nothing printed
            raise OSError(errno.ENOSPC, "No space left on device")

        def kill(self):
            pass

    monkeypatch.setattr(
        runner,
        "start_container",
        lambda engine, spec: FillsTheLog(lambda timeout=None: {"StatusCode": 0}),
    )
    runs = tmp_path / "runs"
    with pytest.raises(InputError) as caught:
        _run(runs)
    assert caught.value.exit_code == EXIT_USAGE
    [run_dir] = [p for p in runs.iterdir() if p.is_dir()]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "interrupted"  # not "failed": training said nothing
    assert "No space left on device" in record["error"]["message"]
