"""An import marker that is no regular file is removed as damaged, never followed."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from test_import_markers import SEALED, TAG, FakeEngine

from reprobox.import_markers import sweep_killed_imports

pytestmark = pytest.mark.timeout(30)  # a FIFO opened for reading would hang


@pytest.fixture
def markers(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "state" / "reprobox" / "importing"
    folder.mkdir(parents=True)
    return folder


def _marker_shaped() -> str:
    return json.dumps(
        {
            "image": SEALED,
            "tag": TAG,
            "engine": "unix:///run/e2.sock",
            "engine_id": "AAAA:BBBB",
            "written_at": 1000.0,
            "last_chunk_handed": True,
        }
    )


def _make(kind: str, path: Path, target: Path) -> str:
    if kind == "link to a file":
        target.write_text("not a marker")
    elif kind == "link to a marker":
        target.write_text(_marker_shaped())
    if kind.startswith("link"):
        path.symlink_to(target)
        return "a link"
    if kind == "fifo":
        os.mkfifo(path)
        return "a FIFO (named pipe)"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return "a socket"


KINDS = ["link to a file", "link to nowhere", "link to a marker", "fifo", "socket"]


@pytest.mark.parametrize("name", ["1-ab.json", ".2-cd.json.new"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_marker_that_is_no_file_is_removed_and_its_target_kept(
    markers, tmp_path, kind, name
):
    path, target = markers / name, tmp_path / "target"
    what = _make(kind, path, target)
    engine = FakeEngine()
    notes: list[str] = []
    sweep_killed_imports(engine, notes.append)
    assert notes == [f"removed damaged import marker {path} ({what})"]
    assert list(markers.iterdir()) == []
    if kind in ("link to a file", "link to a marker"):
        assert target.exists()  # the link went, never what it led to
    assert engine.tags == {}  # a marker-shaped target is never acted on


def test_a_folder_in_a_markers_place_stays_unsaid(markers):
    (markers / "1-ab.json").mkdir()
    notes: list[str] = []
    sweep_killed_imports(FakeEngine(), notes.append)
    assert notes == []
    assert (markers / "1-ab.json").is_dir()
