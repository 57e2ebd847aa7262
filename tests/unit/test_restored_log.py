"""container.log removed by the training script: put back, said truly, and owned
like the rest of the run folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reprobox import run_ending, run_record, runner
from reprobox.run_ending import restore_log
from reprobox.run_options import RunOptions, RunTarget
from reprobox.runner import run_in_container

LOG = "epoch 1\nepoch 2\n"


def open_log(run_dir: Path) -> int:
    """Write reprobox's log into run_dir; return a descriptor of it, as runs hold."""
    run_dir.mkdir(exist_ok=True)
    path = run_dir / "container.log"
    path.write_text(LOG)
    return os.open(path, os.O_RDONLY)


def delete(path: Path) -> None:
    path.unlink()


def link(path: Path) -> None:
    path.unlink()
    path.symlink_to("/etc/passwd")


def folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


def other_file(path: Path) -> None:
    path.unlink()
    path.write_text("the script's own log\n")


def pipe(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (delete, "container.log was deleted by the training script"),
        (link, "container.log was replaced with a link by the training script"),
        (folder, "container.log was replaced with a folder by the training script"),
        (
            other_file,
            "container.log was replaced with another file by the training script",
        ),
        (
            pipe,
            "container.log was replaced with something that is not a file (a pipe, "
            "socket or device) by the training script",
        ),
    ],
)
def test_the_warning_says_what_the_script_did_and_the_log_is_put_back(
    tmp_path, change, said
):
    fd = open_log(tmp_path)
    change(tmp_path / "container.log")
    warnings = restore_log(tmp_path, fd)
    assert warnings == [f"{said}; reprobox put its own log back"]
    log = tmp_path / "container.log"
    assert not log.is_symlink()
    assert log.read_text() == LOG


def test_a_log_left_in_place_gives_no_warning(tmp_path):
    fd = open_log(tmp_path)
    assert restore_log(tmp_path, fd) == []
    assert (tmp_path / "container.log").read_text() == LOG


def test_a_log_that_cannot_be_put_back_says_how_it_was_replaced(tmp_path, monkeypatch):
    fd = open_log(tmp_path)
    folder(tmp_path / "container.log")

    def refused(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(run_ending.shutil, "rmtree", refused)
    assert restore_log(tmp_path, fd) == [
        "container.log was replaced with a folder by the training script and "
        "could not be put back (Permission denied)"
    ]


class Container:
    """A container whose script changes container.log while it prints."""

    id = "c" * 64
    attrs = {"State": {"OOMKilled": False}}

    def __init__(self, run_dir: Path, change):
        self.run_dir = run_dir
        self.change = change

    def logs(self, **kwargs):
        # Output is followed again after a stream ends: the script changes
        # the log once, between its two lines.
        if self.change is None:
            return
        yield b"epoch 1\n"
        self.change(self.run_dir / "container.log")
        self.change = None
        yield b"epoch 2\n"

    def wait(self):
        return {"StatusCode": 0}

    def reload(self):
        pass


class Engine:
    def describe(self):
        return {"host": "fake", "server_version": "0", "os": "linux", "arch": "x"}


MANIFEST = {
    "project": {"name": "p", "command": ["python", "train.py"]},
    "environment": {},
    "data": [],
    "determinism": {"profile": "default"},
}
RUNS_OWNER = 1234


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a run folder back")
@pytest.mark.parametrize("change", [delete, folder, link, other_file])
def test_the_log_put_back_belongs_to_the_owner_of_runs(tmp_path, monkeypatch, change):
    # Breaker: with runs/ owned by 1234, the log put back was root's.
    def start(engine, spec):
        return Container(Path(spec.mounts[0][0]), change)

    monkeypatch.setattr(runner, "start_container", start)
    monkeypatch.setattr(runner, "remove_container", lambda container: None)
    monkeypatch.setattr(run_record, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    monkeypatch.setattr(run_record, "image_label", lambda engine, image, label: None)
    runs = tmp_path / "runs"
    runs.mkdir()
    os.chown(runs, RUNS_OWNER, RUNS_OWNER)
    record = run_in_container(
        RunTarget(project="p", runs_dir=runs),
        Engine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=MANIFEST,
        manifest_sha256="0" * 64,
        opts=RunOptions(),
    )
    run_dir = runs / record["run_id"]
    assert (run_dir / "container.log").read_text() == LOG
    owners = {
        str(path.relative_to(runs)): (path.lstat().st_uid, path.lstat().st_gid)
        for path in [run_dir, *run_dir.rglob("*")]
    }
    assert "container.log" in {Path(name).name for name in owners}
    assert set(owners.values()) == {(RUNS_OWNER, RUNS_OWNER)}, owners
