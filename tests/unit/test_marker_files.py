"""The freeze marker and the share lock: never blocked on, read, or followed.

brk r42 (BE 2, 5): a FIFO at .reprobox/.freeze.pending blocked build, run,
push and export for ever, while freeze said "Illegal seek ... free space
there"; a folder or link there sent build to freeze and freeze to "free
space". Each is now refused, named, with "move it away" as the fix; so is a
share lock that is no regular file. Also the shared reader of small markers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprobox.atomic import atomic_write_files, unit_write_state
from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.manifest import FREEZE_MARKER, load_frozen
from reprobox.marker_files import (
    MARKER_CAP,
    marker_folder_entries,
    odd_entry,
    read_marker,
)
from reprobox.share_lock import one_share_at_a_time

pytestmark = pytest.mark.timeout(60)  # a hang on a FIFO fails, not blocks the suite

SEALED = "sha256:" + "5" * 64
REF = "127.0.0.1:5000/reprobox/digits:0123456789abcdef"


def make(path: Path, what: str) -> None:
    """Put something reprobox never writes at path."""
    if what == "fifo":
        os.mkfifo(path)
    elif what == "devzero":
        path.symlink_to("/dev/zero")
    elif what == "folder":
        path.mkdir()
    elif what == "link to a file":
        target = path.parent / "elsewhere.txt"
        target.write_text("")
        path.symlink_to(target)
    else:
        raise AssertionError(what)


NAMED = {
    "fifo": "a FIFO (named pipe)",
    "devzero": "a link",
    "folder": "a folder",
    "link to a file": "a link",
}


# --- the shared reader ---------------------------------------------------------


@pytest.mark.parametrize("what", ["fifo", "devzero", "folder", "link to a file"])
def test_an_odd_entry_is_named_without_following_a_link(tmp_path, what):
    make(tmp_path / "m", what)
    assert odd_entry(tmp_path / "m") == NAMED[what]
    assert read_marker(tmp_path / "m") is None


def test_a_regular_marker_is_read_and_one_too_big_is_not(tmp_path):
    (tmp_path / "m").write_bytes(b'{"a": 1}')
    assert odd_entry(tmp_path / "m") is None
    assert read_marker(tmp_path / "m") == b'{"a": 1}'
    (tmp_path / "big").write_bytes(b" " * (MARKER_CAP + 1))
    assert read_marker(tmp_path / "big") is None


def test_a_folder_of_markers_that_is_a_link_or_a_file_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "linked").symlink_to(elsewhere)
    (tmp_path / "file").write_text("")
    for name, what in (("linked", "a link"), ("file", "a file")):
        with pytest.raises(InputError) as caught:
            marker_folder_entries(tmp_path / name, "push marker folder", "go on")
        assert caught.value.message == (
            f"{tmp_path / name}: push marker folder is {what}, not a folder "
            "reprobox made"
        )
        assert caught.value.hint == "move it away, then go on"
    assert marker_folder_entries(tmp_path / "missing", "x", "y") == []


# --- the freeze marker ---------------------------------------------------------


@pytest.mark.parametrize("what", ["fifo", "devzero", "folder", "link to a file"])
def test_unit_write_state_refuses_an_odd_marker_at_once(tmp_path, what):
    make(tmp_path / "m", what)
    with pytest.raises(InputError) as caught:
        unit_write_state(tmp_path / "m", "freeze marker", "freeze again")
    assert caught.value.message == (
        f"{tmp_path / 'm'}: freeze marker is {NAMED[what]}, not a file reprobox wrote"
    )
    assert caught.value.hint == "move it away, then freeze again"


@pytest.mark.parametrize("what", ["fifo", "folder", "link to a file"])
def test_a_unit_write_refuses_an_odd_marker_and_writes_nothing(tmp_path, what):
    make(tmp_path / "m", what)
    with pytest.raises(InputError) as caught:
        atomic_write_files([(tmp_path / "a", "new")], tmp_path / "m", kind="k", fix="f")
    assert caught.value.message.startswith(f"{tmp_path / 'm'}: k is {NAMED[what]}")
    assert not (tmp_path / "a").exists()
    assert os.path.lexists(tmp_path / "m")  # not reprobox's: left for the user


@pytest.mark.parametrize("what", ["fifo", "devzero", "folder"])
def test_build_run_push_and_export_name_an_odd_freeze_marker(six_project, what):
    from reprobox.freeze import freeze_project, write_frozen

    cfg = load_config(six_project)
    write_frozen(cfg, freeze_project(cfg, environ={}, ca_cert=None))
    marker = six_project / ".reprobox" / FREEZE_MARKER
    make(marker, what)
    with pytest.raises(InputError) as caught:
        load_frozen(cfg)
    assert caught.value.message == (
        f"{marker}: freeze marker is {NAMED[what]}, not a file reprobox wrote"
    )
    assert caught.value.hint == (
        f"move it away, then run `reprobox freeze {cfg.root}` again"
    )


# --- locks ---------------------------------------------------------------------


@pytest.mark.parametrize("what", ["fifo", "devzero", "folder", "link to a file"])
@pytest.mark.parametrize("required", [True, False])
def test_an_odd_share_lock_is_refused_required_or_not(tmp_path, what, required):
    make(tmp_path / ".share.lock", what)
    held = one_share_at_a_time(tmp_path, lambda line: None, required=required)
    with pytest.raises(InputError) as caught, held:
        raise AssertionError("ran without the lock")
    assert caught.value.message == (
        f"{tmp_path / '.share.lock'}: share lock is {NAMED[what]}, not a file "
        "reprobox wrote"
    )


def test_freeze_refuses_an_odd_marker_or_share_lock_before_locking(six_project):
    from fresh_python import run_reprobox

    state = six_project / ".reprobox"
    state.mkdir(exist_ok=True)
    for name, kind in ((FREEZE_MARKER, "freeze marker"), (".share.lock", "share lock")):
        make(state / name, "link to a file")
        result = run_reprobox("-q", "freeze", str(six_project))  # has a timeout
        assert result.returncode == 2, result.stderr
        assert (
            f"{state / name}: {kind} is a link, not a file reprobox wrote (move it "
            f"away, then run `reprobox freeze {six_project}` again)"
        ) in " ".join(result.stderr.split())
        assert "Traceback" not in result.stderr
        (state / name).unlink()
    assert not (state / "manifest.json").exists()


def test_a_fifo_freeze_marker_does_not_hang_a_fresh_reader(six_project):
    """Through a separate process: a hang here is a timeout, not a stuck suite."""
    state = six_project / ".reprobox"
    state.mkdir(exist_ok=True)
    os.mkfifo(state / FREEZE_MARKER)
    code = (
        "import sys; from pathlib import Path\n"
        "from reprobox.atomic import unit_write_state\n"
        "from reprobox.errors import InputError\n"
        "try: unit_write_state(Path(sys.argv[1]))\n"
        "except InputError as e: print(e.message)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, str(state / FREEZE_MARKER)],
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.strip() == (
        f"{state / FREEZE_MARKER}: marker is a FIFO (named pipe), not a file "
        "reprobox wrote"
    ), done.stderr
