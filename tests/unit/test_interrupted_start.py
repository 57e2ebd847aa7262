"""A signal while the engine is still creating the container: it is still removed."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from reprobox import run_record, run_signals, runner
from reprobox.errors import Interrupted
from reprobox.run_options import RunOptions, RunTarget
from reprobox.runner import run_in_container

MANIFEST = {
    "project": {"name": "p", "command": ["python", "train.py"]},
    "environment": {},
    "data": [],
    "determinism": {"profile": "default"},
}


def run_once(target: RunTarget) -> dict:
    """Run the fake project's command once on the fake engine."""
    return run_in_container(
        target,
        FakeEngine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=MANIFEST,
        manifest_sha256="0" * 64,
        opts=RunOptions(),
    )


class FakeContainer:
    id = "c" * 64

    def logs(self, **kwargs):
        return iter(())


class FakeEngine:
    def describe(self):
        return {"host": "fake", "server_version": "0", "os": "linux", "arch": "x"}


@pytest.fixture
def slow_engine(monkeypatch):
    """Creating takes 0.8 s; record what gets created and removed."""
    made, removed = [], []

    def start_container(engine, spec):
        time.sleep(0.8)
        container = FakeContainer()
        made.append(container)
        return container

    monkeypatch.setattr(runner, "start_container", start_container)
    monkeypatch.setattr(runner, "remove_container", removed.append)
    monkeypatch.setattr(runner, "remove_run_containers", lambda engine, run_id: 0)
    monkeypatch.setattr(run_record, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    monkeypatch.setattr(run_record, "image_label", lambda engine, image, label: None)
    return made, removed


def test_sigint_during_create_waits_for_the_container_and_removes_it(
    tmp_path, slow_engine
):
    made, removed = slow_engine
    target = RunTarget(project="p", runs_dir=tmp_path / "runs")
    main = threading.main_thread().ident
    timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(Interrupted) as caught:
            run_once(target)
    finally:
        timer.cancel()

    assert len(made) == 1 and removed == made  # created after the signal, removed
    [record] = caught.value.records
    assert record["status"] == "interrupted"
    on_disk = tmp_path / "runs" / record["run_id"] / "record.json"
    assert json.loads(on_disk.read_text())["status"] == "interrupted"


def test_a_cancelled_batch_removes_a_container_that_was_being_created(
    tmp_path, slow_engine
):
    made, removed = slow_engine
    target = RunTarget(project="p", runs_dir=tmp_path / "runs")
    run_signals.arm_cancellation()
    errors = []

    def work():
        try:
            run_once(target)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.2)
    run_signals.cancel_all_runs()
    worker.join(timeout=10)
    try:
        assert not worker.is_alive()
        assert len(made) == 1 and removed == made
        assert len(errors) == 1
    finally:
        run_signals.arm_cancellation()


def test_a_signal_before_the_record_exists_leaves_no_run_folder(tmp_path, monkeypatch):
    # brkf F6: interrupted while asking the engine about the image.
    def interrupted(engine, image):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_record, "image_layers_digest", interrupted)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    target = RunTarget(project="p", runs_dir=tmp_path / "runs")
    with pytest.raises(KeyboardInterrupt):
        run_once(target)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == []  # no folder, no lock


class ExitedContainer(FakeContainer):
    attrs = {"State": {"OOMKilled": False}}

    def wait(self):
        return {"StatusCode": 0}

    def reload(self):
        pass


def test_a_signal_after_the_container_ended_still_closes_the_record(
    tmp_path, slow_engine, monkeypatch
):
    # brkf F1: Ctrl-C while the data files are hashed again at the end.
    monkeypatch.setattr(runner, "start_container", lambda e, s: ExitedContainer())

    def slow_hash(target, manifest):
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        time.sleep(0.2)  # the signal is held, not raised here
        return []

    monkeypatch.setattr(runner, "data_changed_during", slow_hash)
    target = RunTarget(project="p", runs_dir=tmp_path / "runs")
    with pytest.raises(Interrupted, match="succeeded, then reprobox was interrupted"):
        run_once(target)
    [run_dir] = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "record.json").read_text())["status"] == "succeeded"


def test_a_log_the_script_replaced_with_a_link_is_put_back(tmp_path, monkeypatch):
    # brkf F3: the streamed log must not be lost, nor point at a host file.
    class Tampering(ExitedContainer):
        def logs(self, **kwargs):
            yield b"epoch 1\n"
            log = self.run_dir / "container.log"
            log.unlink()
            log.symlink_to("/etc/passwd")
            yield b"epoch 2\n"

    def start(engine, spec):
        container = Tampering()
        container.run_dir = Path(spec.mounts[0][0])
        return container

    monkeypatch.setattr(runner, "start_container", start)
    monkeypatch.setattr(runner, "remove_container", lambda container: None)
    monkeypatch.setattr(run_record, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    monkeypatch.setattr(run_record, "image_label", lambda engine, image, label: None)
    record = run_in_container(
        RunTarget(project="p", runs_dir=tmp_path / "runs"),
        FakeEngine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=MANIFEST,
        manifest_sha256="0" * 64,
        opts=RunOptions(),
    )
    log = tmp_path / "runs" / record["run_id"] / "container.log"
    assert not log.is_symlink()
    assert log.read_text() == "epoch 1\nepoch 2\n"
    assert any("container.log was replaced" in w for w in record["warnings"])


def test_a_new_run_lock_is_never_seen_unlocked(tmp_path):
    import fcntl

    from reprobox.run_folders import hold_run_lock

    runs = tmp_path / "runs"
    runs.mkdir()
    fd = hold_run_lock(runs, "20260101T000000Z-abcdef")
    try:
        lock = runs / ".20260101T000000Z-abcdef.lock"
        other = os.open(lock, os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(other)
        assert sorted(p.name for p in runs.iterdir()) == [lock.name]  # no temp name
    finally:
        os.close(fd)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_a_signal_while_the_finished_container_is_removed_waits_for_the_record(
    tmp_path, slow_engine, monkeypatch, signum
):
    # brkE 1: it raised out of the cleanup as a traceback, the record left
    # "running" with its lock gone.
    removed = []

    def remove_container(container):
        os.kill(os.getpid(), signum)
        time.sleep(0.2)  # the signal lands here, mid-removal
        removed.append(container)

    monkeypatch.setattr(runner, "start_container", lambda e, s: ExitedContainer())
    monkeypatch.setattr(runner, "remove_container", remove_container)
    target = RunTarget(project="p", runs_dir=tmp_path / "runs")
    before = signal.getsignal(signum)
    with pytest.raises(Interrupted) as caught:
        run_once(target)
    assert len(removed) == 1
    [record] = caught.value.records
    assert record["status"] == "succeeded"
    on_disk = tmp_path / "runs" / record["run_id"] / "record.json"
    assert json.loads(on_disk.read_text())["status"] == "succeeded"
    assert signal.getsignal(signum) == before  # handlers are put back


@pytest.mark.parametrize("stop", [KeyboardInterrupt, run_signals.StopSignal])
def test_a_stop_between_the_first_record_and_the_handlers_closes_the_record(
    tmp_path, slow_engine, monkeypatch, stop
):
    # bn F2: a SIGTERM that landed after record.json said "running" but
    # before the run's own handlers left it "running" with its lock, for the
    # next command to call the run killed.
    def stopped(env):
        raise stop()

    monkeypatch.setattr(runner, "ContainerOutput", stopped)
    runs = tmp_path / "runs"
    with pytest.raises((KeyboardInterrupt, run_signals.StopSignal)):
        run_once(RunTarget(project="p", runs_dir=runs))
    [record_path] = runs.glob("*/record.json")
    record = json.loads(record_path.read_text())
    assert (record["status"], record["exit_code"]) == ("interrupted", None)
    assert record["error"] == {
        "message": "interrupted before the container started",
        "log_tail": "",
    }
    assert list(runs.glob(".*.lock")) == []  # released: nothing left to close
