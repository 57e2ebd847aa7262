"""One push or export of a project at a time: the lock, and what it covers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from reprobox import cli_share, engine, publication, share
from reprobox.cli import app
from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.share_lock import LOCK_NAME, WAITING, one_share_at_a_time

SEALED = "sha256:" + "5" * 64
BUILT = "sha256:" + "b" * 64


def held_elsewhere(state_dir: Path) -> bool:
    """Tell whether another open of the lock file finds it taken."""
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_free_lock_is_taken_without_waiting_and_let_go_after(tmp_path):
    told: list[str] = []
    with one_share_at_a_time(tmp_path / ".reprobox", told.append):
        assert held_elsewhere(tmp_path / ".reprobox")
    assert told == []
    assert not held_elsewhere(tmp_path / ".reprobox")


def test_a_second_share_says_it_waits_once_and_starts_when_the_first_ends(
    tmp_path,
):
    state = tmp_path / ".reprobox"
    events: list[str] = []
    first_in = threading.Event()
    release = threading.Event()

    def first() -> None:
        with one_share_at_a_time(state, events.append):
            events.append("first in")
            first_in.set()
            release.wait(10)
            events.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    threading.Timer(0.3, release.set).start()
    with one_share_at_a_time(state, events.append):
        events.append("second in")
    thread.join(10)
    assert events == ["first in", WAITING, "first out", "second in"]


def test_a_state_folder_that_is_a_file_is_one_line_naming_it(tmp_path):
    (tmp_path / ".reprobox").write_text("not a folder")
    with (
        pytest.raises(InputError, match=r"\.reprobox.*cannot open the lock"),
        one_share_at_a_time(tmp_path / ".reprobox", print),
    ):
        pytest.fail("entered without a lock")


@pytest.fixture
def frozen_project(six_project):
    cfg = load_config(six_project)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    return cfg


def fake_engine(monkeypatch):
    """Fake the engine, the build and the sweeps push and export start with."""
    fake = SimpleNamespace(host=None, client=SimpleNamespace(info=lambda: {}))
    built = SimpleNamespace(tag="reprobox/p:0123456789abcdef", image_id=BUILT)
    monkeypatch.setattr(engine, "connect", lambda host=None, context=None: fake)
    monkeypatch.setattr(cli_share, "_build", lambda *a, **k: built)
    monkeypatch.setattr(cli_share, "tidy_killed_runs", lambda cfg, engine: None)
    monkeypatch.setattr(cli_share, "tidy_killed_imports", lambda engine: None)


def record_steps(monkeypatch, state_dir: Path) -> list[tuple[str, bool]]:
    """Fake seal, push, record and export; return each step with whether the
    share lock was held while it ran."""
    steps: list[tuple[str, bool]] = []

    def step(name: str) -> None:
        steps.append((name, held_elsewhere(state_dir)))

    @contextlib.contextmanager
    def sealed(cfg, engine, built, reference):
        step("seal")
        yield SEALED, None, BUILT
        step("seal kept")

    def push_image(*args, **kwargs):
        step("push")
        return "127.0.0.1:5000/reprobox/p@sha256:" + "d" * 64

    def export_bundle(engine, image, tag, output, files):
        step("export")
        output.write_bytes(b"bundle")
        return {"image_id": image}

    monkeypatch.setattr(cli_share, "_sealed_until_shared", sealed)
    monkeypatch.setattr(share, "push_image", push_image)
    monkeypatch.setattr(
        publication, "record_publication", lambda frozen, entry: step("record")
    )
    monkeypatch.setattr("reprobox.bundles.export_bundle", export_bundle)
    return steps


def test_a_push_seals_pushes_and_records_under_the_share_lock(
    frozen_project, monkeypatch, tmp_path
):
    fake_engine(monkeypatch)
    steps = record_steps(monkeypatch, frozen_project.state_dir)
    result = CliRunner().invoke(
        app, ["push", str(frozen_project.root), "--registry", "127.0.0.1:5000"]
    )
    assert result.exit_code == 0, result.output
    assert steps == [
        ("seal", True),
        ("push", True),
        ("seal kept", True),
        ("record", True),
    ]
    assert not held_elsewhere(frozen_project.state_dir)


def test_an_export_seals_and_writes_under_the_share_lock(
    frozen_project, monkeypatch, tmp_path
):
    fake_engine(monkeypatch)
    steps = record_steps(monkeypatch, frozen_project.state_dir)
    bundle = tmp_path / "out" / "bundle.tar"
    bundle.parent.mkdir()
    result = CliRunner().invoke(
        app, ["export", str(frozen_project.root), "-o", str(bundle)]
    )
    assert result.exit_code == 0, result.output
    assert steps == [("seal", True), ("export", True), ("seal kept", True)]
    assert not held_elsewhere(frozen_project.state_dir)


def test_a_freeze_takes_its_turn_and_keeps_what_a_push_recorded_meanwhile(
    frozen_project,
):
    # h75: freeze read `published` before its write lock; a push recording
    # its digest in between was dropped from the manifest.
    import json

    cfg = frozen_project
    manifest = cfg.state_dir / "manifest.json"
    result = freeze_project(cfg, environ={})  # read before the push records
    entry = {
        "ref": "127.0.0.1:5000/reprobox/p@sha256:" + "d" * 64,
        "image_id": SEALED,
        "source_image_id": BUILT,
        "reference_run": None,
    }
    events: list[str] = []
    pushing = threading.Event()
    release = threading.Event()

    def push() -> None:
        with one_share_at_a_time(cfg.state_dir, events.append):
            pushing.set()
            release.wait(10)
            data = json.loads(manifest.read_text())
            data["published"] = [entry]
            manifest.write_text(json.dumps(data))
            events.append("recorded")

    thread = threading.Thread(target=push)
    thread.start()
    assert pushing.wait(10)
    threading.Timer(0.3, release.set).start()
    write_frozen(cfg, result, on_wait=events.append)
    thread.join(10)
    assert events == [WAITING, "recorded"]
    assert json.loads(manifest.read_text())["published"] == [entry]


def test_a_freeze_whose_lock_cannot_open_still_writes(frozen_project, monkeypatch):
    # Not required for freeze: its own write says what is wrong, if anything.
    real_open = os.open

    def refuse_lock(path, *args, **kwargs):
        if str(path).endswith(LOCK_NAME):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_lock)
    cfg = frozen_project
    paths = write_frozen(cfg, freeze_project(cfg, environ={}))
    assert cfg.state_dir / "manifest.json" in paths
