"""A run lock that is no regular file is none of reprobox's: left, and said."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from reprobox.abandoned_runs import close_abandoned_records
from reprobox.atomic import dump_json
from reprobox.recovery import odd_lock_warning, run_lock_held

RID = "20260101T000009Z-00000a"
pytestmark = pytest.mark.timeout(30)  # a FIFO opened for reading would hang


def _record(runs: Path, status: str = "running") -> Path:
    (runs / RID).mkdir(parents=True)
    path = runs / RID / "record.json"
    path.write_text(dump_json({"run_id": RID, "status": status, "project": "p"}))
    return path


def _make(kind: str, lock: Path) -> str:
    """Put kind at lock's name; return how reprobox names it."""
    if kind == "folder":
        lock.mkdir()
        return "a folder"
    if kind == "link to a file":
        (lock.parent / "target").write_text("{}")
        lock.symlink_to(lock.parent / "target")
        return "a link"
    if kind == "dangling link":
        lock.symlink_to(lock.parent / "nowhere")
        return "a link"
    if kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(lock))
        sock.close()
        return "a socket"
    if kind == "fifo":
        os.mkfifo(lock)
        return "a FIFO (named pipe)"
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(lock, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # as /dev/null
    return "a character device"


KINDS = ["folder", "link to a file", "dangling link", "socket", "fifo", "device"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", ["running", "succeeded"])
def test_an_odd_lock_is_said_and_kept_and_its_record_left(tmp_path, kind, status):
    runs = tmp_path / "runs"
    record_path = _record(runs, status)
    lock = runs / f".{RID}.lock"
    what = _make(kind, lock)
    before = os.lstat(lock)
    said: list[tuple[Path, str]] = []

    closed = close_abandoned_records(runs, "p", on_odd_lock=lambda *a: said.append(a))

    assert closed == []
    assert said == [(lock, what)]
    assert json.loads(record_path.read_text())["status"] == status
    after = os.lstat(lock)  # still there, and the same thing
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    if kind == "link to a file":
        assert (runs / "target").read_text() == "{}"
    # Its container is kept with its record (brk r44, BI 1: the owner-label
    # sweep removed it, and its output and exit code were lost).
    assert run_lock_held(runs, RID) is True


def test_moved_away_the_record_is_closed_as_interrupted(tmp_path):
    runs = tmp_path / "runs"
    record_path = _record(runs)
    lock = runs / f".{RID}.lock"
    os.mkfifo(lock)
    assert close_abandoned_records(runs, "p") == []
    lock.rename(tmp_path / "moved")
    assert close_abandoned_records(runs, "p") == [RID]
    assert json.loads(record_path.read_text())["status"] == "interrupted"


def test_moved_away_the_closing_saves_what_the_container_printed(tmp_path):
    # brk r44 (BI 1): the record was closed with the dead reprobox's log while
    # the owner-label sweep removed the container, its output unsaved.
    runs = tmp_path / "runs"
    record_path = _record(runs)
    (runs / RID / "container.log").write_text("what the dead reprobox read\n")
    saved: list[tuple[str, Path]] = []

    def save(record, run_dir):
        saved.append((record["run_id"], run_dir))
        return "all it printed"

    assert close_abandoned_records(runs, "p", save_lockless_log=save) == [RID]
    assert saved == [(RID, runs / RID)]
    record = json.loads(record_path.read_text())
    assert record["error"]["log_tail"] == "all it printed"


def test_the_warning_names_the_path_what_it_is_and_the_fix(tmp_path):
    lock = tmp_path / f".{RID}.lock"
    text = odd_lock_warning(lock, "a FIFO (named pipe)", "`reprobox run`")
    assert text == (
        f"{lock}: run lock is a FIFO (named pipe), not a file reprobox wrote: left "
        f"as it is, and so are run {RID}'s record and container (move it away; "
        "the next `reprobox run` then closes that record as interrupted if it "
        "still says running, with the container's output as its log)"
    )


def test_an_odd_unrenamed_lock_is_left_too(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    temp = runs / f".{RID}.lock.123.new"
    os.mkfifo(temp)
    close_abandoned_records(runs, "p")
    assert stat.S_ISFIFO(os.lstat(temp).st_mode)


def test_the_sweep_warns_once_through_warn_and_goes_on(tmp_path):
    from reprobox.recovery import sweep_killed_runs

    runs = tmp_path / "runs"
    _record(runs)
    os.mkfifo(runs / f".{RID}.lock")
    lockless = runs / "20260101T000009Z-00000b"
    lockless.mkdir()
    (lockless / "record.json").write_text(
        dump_json({"run_id": lockless.name, "status": "running"})
    )
    notes: list[str] = []
    warnings: list[str] = []
    no_containers = SimpleNamespace(
        host=None,
        client=SimpleNamespace(containers=SimpleNamespace(list=lambda **k: [])),
    )
    sweep_killed_runs(no_containers, runs, None, notes.append, warnings.append)
    assert warnings == [
        odd_lock_warning(
            runs / f".{RID}.lock", "a FIFO (named pipe)", "`reprobox verify`"
        )
    ]
    # brk r45 (BL F4): said as the record says it, its lock file gone.
    assert notes == [
        f"marked run {lockless.name} interrupted: the reprobox that ran it ended "
        "without closing its record, and its lock file is gone (removed by hand, "
        "or the run folder was copied here)"
    ]
