"""Atomic writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import signal
import stat
import tempfile
from pathlib import Path

import pytest

from reprobox import atomic
from reprobox.atomic import (
    atomic_write_bytes,
    atomic_write_files,
    atomic_write_json,
    atomic_write_text,
    dump_json,
)


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_creates_file_and_parents(tmp_path):
    path = tmp_path / "a" / "b" / "record.json"
    atomic_write_json(path, {"b": 1, "a": [2]})
    assert json.loads(path.read_text()) == {"a": [2], "b": 1}
    assert _leftovers(path.parent) == ["record.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_replaces_content_and_sets_mode(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("old")
    atomic_write_text(path, "new ✓", mode=0o600)
    assert path.read_bytes() == "new ✓".encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


class Boom(Exception):
    pass


@pytest.mark.parametrize("target", ["replace", "fsync", "chmod"])
def test_failure_mid_write_keeps_old_file_and_leaves_no_temp(
    tmp_path, monkeypatch, target
):
    path = tmp_path / "record.json"
    path.write_text('{"status": "running"}\n')
    calls = []

    def fail(*args, **kwargs):
        calls.append(args)
        raise Boom(target)

    monkeypatch.setattr(atomic.os, target, fail)
    with pytest.raises(Boom):
        atomic_write_json(path, {"status": "succeeded"})
    monkeypatch.undo()
    assert calls
    assert path.read_text() == '{"status": "running"}\n'
    assert _leftovers(tmp_path) == ["record.json"]


def test_interrupt_during_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    path.write_text("old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new" * 1000)
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert _leftovers(tmp_path) == ["record.json"]


def _ctrl_c_after(real):
    """Wrap real so that a real SIGINT reaches this process as it returns."""

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result

    return wrapped


def test_ctrl_c_between_two_renames_still_puts_every_file_in_place(
    tmp_path, monkeypatch
):
    # Stopped there, the unit write left its marker and the next build said
    # the freeze was interrupted: the renames now end before the stop lands.
    files = [(tmp_path / name, f"new {name}") for name in ("lock", "Dockerfile", "m")]
    for path, _ in files:
        path.write_text("old")
    monkeypatch.setattr(atomic.os, "replace", _ctrl_c_after(os.replace))
    with pytest.raises(KeyboardInterrupt):
        atomic_write_files(files, tmp_path / ".pending")
    monkeypatch.undo()
    assert [path.read_text() for path, _ in files] == [text for _, text in files]
    assert _leftovers(tmp_path) == ["Dockerfile", "lock", "m"]


@pytest.mark.parametrize("write", ["bytes", "files"])
def test_ctrl_c_as_the_temp_file_is_made_leaves_no_temp_file(
    tmp_path, monkeypatch, write
):
    path = tmp_path / "record.json"
    path.write_text("old")
    monkeypatch.setattr(atomic.tempfile, "mkstemp", _ctrl_c_after(tempfile.mkstemp))
    with pytest.raises(KeyboardInterrupt):
        if write == "bytes":
            atomic_write_bytes(path, b"new")
        else:
            atomic_write_files([(path, "new")], tmp_path / ".pending")
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert _leftovers(tmp_path) == ["record.json"]  # nor an empty marker


def test_ctrl_c_while_old_temps_are_swept_leaves_no_marker(tmp_path, monkeypatch):
    # Seen once in 100 SIGTERMs to freeze: an empty .freeze.pending was left.
    path = tmp_path / "record.json"
    path.write_text("old")
    sweep = _ctrl_c_after(atomic.sweep_stale_temps)
    monkeypatch.setattr(atomic, "sweep_stale_temps", sweep)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_files([(path, "new")], tmp_path / ".pending")
    assert _leftovers(tmp_path) == ["record.json"]


def test_a_marker_left_among_renames_stays_when_a_later_write_is_stopped(
    tmp_path, monkeypatch
):
    # It says the files on disk may not belong together; that is still so.
    marker = tmp_path / ".pending"
    marker.write_text(".a.k1l2m3n4.tmp a\n")
    monkeypatch.setattr(atomic.tempfile, "mkstemp", _ctrl_c_after(tempfile.mkstemp))
    with pytest.raises(KeyboardInterrupt):
        atomic_write_files([(tmp_path / "a", "new")], marker)
    monkeypatch.undo()
    assert _leftovers(tmp_path) == [".pending"]
    assert atomic.unit_write_state(marker) == "interrupted"


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.os, "replace", lambda *a: (_ for _ in ()).throw(Boom()))
    with pytest.raises(Boom):
        atomic_write_text(tmp_path / "new.txt", "x")
    monkeypatch.undo()
    assert _leftovers(tmp_path) == []


def test_temp_file_is_in_the_same_folder(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src)))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    atomic_write_text(tmp_path / "m.json", "{}")
    assert seen[0][0] == str(tmp_path)
    assert seen[0][1].startswith(".m.json.") and seen[0][1].endswith(".tmp")


def test_dump_json_is_stable_sorted_indented_and_utf8():
    data = {"b": {"z": 1, "a": [3, 1]}, "a": "é"}
    text = dump_json(data)
    assert (
        text == '{\n  "a": "é",\n  "b": {\n    "a": [\n      3,\n      1\n    ],\n'
        '    "z": 1\n  }\n}\n'
    )
    assert dump_json(json.loads(text)) == text


def test_a_full_disk_names_the_file_it_could_not_write(tmp_path, monkeypatch):
    # push, export and report wrote records and manifests through here; on a
    # full disk the error read 'No space left on device' and named nothing.
    import errno

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd):
            self.fh = real_fdopen(fd, "wb")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: Full(fd))
    target = tmp_path / "manifest.json"
    with pytest.raises(OSError) as caught:
        atomic_write_bytes(target, b"{}")
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(target))
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("write", ["bytes", "files"])
def test_a_folder_that_takes_no_new_file_names_the_file_not_its_temp(write, tmp_path):
    # bp F10: `report -o /proc/x.html` said "/proc/.x.html.e58dq7kt.tmp: No
    # such file or directory", a name the user never gave.
    import errno

    target = Path("/proc/x.html")
    with pytest.raises(OSError) as caught:
        if write == "bytes":
            atomic_write_bytes(target, b"<html>")
        else:
            atomic_write_files([(target, "<html>")], tmp_path / "marker")
    assert caught.value.filename == str(target)
    assert caught.value.errno in (errno.ENOENT, errno.EACCES, errno.EPERM)


def test_an_error_naming_another_file_is_left_as_it_is(tmp_path, monkeypatch):
    other = OSError(13, "Permission denied", "/elsewhere/file")
    assert not atomic._names_no_file(other, tmp_path / "x.html")
    temp = OSError(2, "No such file", str(tmp_path / ".x.html.abc123.tmp"))
    assert atomic._names_no_file(temp, tmp_path / "x.html")


def test_write_problem_is_judged_by_a_probe_file_not_by_permission_bits(
    tmp_path, monkeypatch
):
    import errno
    import tempfile

    from reprobox.atomic import write_problem

    assert write_problem(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # the probe is gone
    assert write_problem(tmp_path / "absent") == "no such file or directory"
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # root on a read-only mount
        if dir is not None and Path(dir) == tmp_path:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "access", lambda *a, **k: True)
    assert write_problem(tmp_path) == "it is on a read-only file system"


def test_a_folder_where_a_unit_write_puts_a_file_is_refused_before_any_rename(
    tmp_path,
):
    # bu 4: a folder named manifest.json failed at its rename, after the lock
    # and Dockerfile were replaced; the temps and the marker stayed behind.
    from reprobox.atomic import atomic_write_files, unit_write_state
    from reprobox.errors import InputError

    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "c.json").mkdir()
    marker = tmp_path / ".pending"
    with pytest.raises(InputError) as info:
        atomic_write_files(
            [(tmp_path / "a.txt", "new a"), (tmp_path / "c.json", "new c")], marker
        )
    assert info.value.message == (
        f"{tmp_path / 'c.json'} is a folder where reprobox keeps a file; "
        "nothing was written"
    )
    assert (tmp_path / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "c.json"]
    assert unit_write_state(marker) is None


def test_a_manifest_that_is_a_link_is_replaced_never_written_through(tmp_path):
    # brk r35: does freeze write into the file a linked manifest.json names?
    # It must not: the link is replaced by the file, the target left as it was.
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("someone else's\n")
    state = tmp_path / "p" / ".reprobox"
    state.mkdir(parents=True)
    manifest = state / "manifest.json"
    manifest.symlink_to(elsewhere)
    atomic_write_files([(manifest, "{}\n")], state / ".freeze.unit")
    assert not manifest.is_symlink()
    assert manifest.read_text() == "{}\n"
    assert elsewhere.read_text() == "someone else's\n"
    atomic_write_text(manifest, "{}\n")  # one file at a time: the same
    manifest.unlink()
    manifest.symlink_to(elsewhere)
    atomic_write_text(manifest, "[]\n")
    assert (manifest.is_symlink(), elsewhere.read_text()) == (False, "someone else's\n")
