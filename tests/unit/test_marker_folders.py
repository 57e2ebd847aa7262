"""Folders of reprobox's markers: read safely, swept, never followed as links.

brk r42 (BE 3, 4): a FIFO in .reprobox/pushing/ blocked build, run and push
for ever, a link to /dev/zero there was read until memory ran out (import
markers, read through one size-capped, non-blocking open, were fine); and a
pushing/ or $XDG_STATE_HOME/reprobox/importing/ folder that was a link had
every *.json where it led removed as a "damaged marker".
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from reprobox.errors import InputError
from reprobox.import_markers import marked_import, sweep_killed_imports
from reprobox.push_tags import MARKER_DIR, PushTag, registry_tag, sweep_killed_pushes
from reprobox.run_folders import keep_host_copy

pytestmark = pytest.mark.timeout(60)  # a hang on a FIFO fails, not blocks the suite

SEALED = "sha256:" + "5" * 64
REF = "127.0.0.1:5000/reprobox/digits:0123456789abcdef"

# --- push markers --------------------------------------------------------------


def engine() -> SimpleNamespace:
    info = {"ID": "ENGINE:ID"}  # as marked_import asks
    client = SimpleNamespace(info=lambda: info)
    return SimpleNamespace(host="unix:///run/nothing-here.sock", client=client)


def test_a_fifo_or_dev_zero_push_marker_is_removed_not_read(tmp_path):
    folder = tmp_path / MARKER_DIR
    folder.mkdir()
    os.mkfifo(folder / "x.json")
    (folder / "z.json").symlink_to("/dev/zero")
    notes: list[str] = []
    sweep_killed_pushes(engine(), tmp_path, "digits", notes.append)
    assert notes == [
        f"removed damaged push marker {folder / 'x.json'}",
        f"removed damaged push marker {folder / 'z.json'}",
    ]
    assert list(folder.iterdir()) == []


def test_a_folder_in_place_of_a_push_marker_is_not_said_removed(tmp_path):
    (tmp_path / MARKER_DIR / "y.json").mkdir(parents=True)
    notes: list[str] = []
    sweep_killed_pushes(engine(), tmp_path, "digits", notes.append)
    assert notes == []


def _theirs(tmp_path: Path) -> Path:
    """A folder of the user's, holding files a sweep must not touch."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "config.json").write_text("{}")
    (theirs / ".hidden.json").write_text("{}")
    return theirs


def test_a_pushing_folder_that_is_a_link_is_refused_and_its_target_kept(tmp_path):
    theirs = _theirs(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / MARKER_DIR).symlink_to(theirs)
    with pytest.raises(InputError) as caught:
        sweep_killed_pushes(engine(), state, "digits", lambda line: None)
    assert caught.value.message == (
        f"{state / MARKER_DIR}: push marker folder is a link, not a folder "
        "reprobox made"
    )
    tag = PushTag(REF, SEALED, None)
    with pytest.raises(InputError), registry_tag(state, engine(), tag):
        raise AssertionError("tagged through a linked marker folder")
    assert sorted(p.name for p in theirs.iterdir()) == [".hidden.json", "config.json"]


# --- import markers ------------------------------------------------------------


def test_an_importing_folder_that_is_a_link_is_refused_and_its_target_kept(
    tmp_path, monkeypatch
):
    theirs = _theirs(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "state" / "reprobox" / "importing"
    folder.parent.mkdir(parents=True)
    folder.symlink_to(theirs)
    with pytest.raises(InputError) as caught:
        sweep_killed_imports(engine(), lambda line: None)
    assert caught.value.message == (
        f"{folder}: import marker folder is a link, not a folder reprobox made"
    )
    tag = "reprobox/digits:0123"
    with pytest.raises(InputError), marked_import(engine(), SEALED, tag):
        raise AssertionError("imported through a linked marker folder")
    assert sorted(p.name for p in theirs.iterdir()) == [".hidden.json", "config.json"]


def test_a_fifo_in_place_of_a_runs_lock_does_not_block_its_host_copy(tmp_path):
    os.mkfifo(tmp_path / ".20260101T000000Z-abcdef.lock")
    record = {"run_id": "20260101T000000Z-abcdef", "status": "running"}
    assert keep_host_copy(tmp_path, "20260101T000000Z-abcdef", record) is False
