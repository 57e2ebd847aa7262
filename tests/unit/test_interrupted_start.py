"""A signal while the engine is still creating the container: it is still removed."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest

from reprobox import runner
from reprobox.errors import Interrupted
from reprobox.runner import RunOptions, RunTarget, run_in_container

MANIFEST = {
    "project": {"name": "p", "command": ["python", "train.py"]},
    "environment": {},
    "data": [],
    "determinism": {"profile": "default"},
}


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
    monkeypatch.setattr(runner, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(runner, "image_label", lambda engine, image, label: None)
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
            run_in_container(
                target,
                FakeEngine(),
                image_ref="reprobox/p:0",
                image_id="sha256:" + "1" * 64,
                manifest=MANIFEST,
                manifest_sha256="0" * 64,
                opts=RunOptions(),
            )
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
    runner.arm_cancellation()
    errors = []

    def work():
        try:
            run_in_container(
                target,
                FakeEngine(),
                image_ref="reprobox/p:0",
                image_id="sha256:" + "1" * 64,
                manifest=MANIFEST,
                manifest_sha256="0" * 64,
                opts=RunOptions(),
            )
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.2)
    runner.cancel_all_runs()
    worker.join(timeout=10)
    try:
        assert not worker.is_alive()
        assert len(made) == 1 and removed == made
        assert len(errors) == 1
    finally:
        runner.arm_cancellation()
