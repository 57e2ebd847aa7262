"""The image of an import killed between its load and its tag gets its tag later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import docker.errors
import pytest

from reprobox.import_markers import (
    LOAD_MAY_FINISH_S,
    ImportMark,
    marked_import,
    settle,
    sweep_killed_imports,
)

TAG = "reprobox/p:0123456789abcdef"
SEALED = "sha256:" + "5" * 64  # the bundle's image
BUILD = "sha256:" + "b" * 64  # the unsealed build of the same sources
OTHER = "sha256:" + "0" * 64  # another build under that tag
NEWER = "sha256:" + "7" * 64  # the same build sealed with a newer run
ENGINE_ID = "AAAA:BBBB"


class FakeImage:
    def __init__(self, engine, image_id):
        self.engine, self.id = engine, image_id
        self.attrs = {
            "Config": {"Labels": {"build": engine.builds[image_id]}},
            "RootFS": {"Layers": ["sha256:" + "1" * 64]},
        }

    @property
    def tags(self):
        return sorted(t for t, i in self.engine.tags.items() if i == self.id)

    def tag(self, repo, tag):
        self.engine.tags[f"{repo}:{tag}"] = self.id


class FakeEngine:
    """Images by id, each of a build; tags; the daemon's ID."""

    def __init__(self, daemon=ENGINE_ID, host="unix:///run/e2.sock"):
        self.host, self.daemon = host, daemon
        self.builds = {SEALED: "one", BUILD: "one", OTHER: "two", NEWER: "one"}
        self.present = {SEALED}
        self.tags: dict[str, str] = {}
        self.removed: list[str] = []
        images = SimpleNamespace(get=self._get, remove=self._remove)
        self.client = SimpleNamespace(images=images, info=lambda: {"ID": self.daemon})

    def _get(self, ref):
        found = self.tags.get(ref, ref)
        if found not in self.present:
            raise docker.errors.ImageNotFound(ref)
        return FakeImage(self, found)

    def _remove(self, ref, noprune=False):
        self.present.discard(ref)
        self.removed.append(ref)


def mark(written_at: float = 1000.0) -> ImportMark:
    return ImportMark(SEALED, TAG, "unix:///run/e2.sock", ENGINE_ID, written_at)


def test_an_untagged_image_gets_the_free_build_tag():
    engine = FakeEngine()
    assert settle(engine, mark(), 1001.0) == (
        True,
        f"tagged {TAG}: the import that loaded it was killed",
    )
    assert engine.tags == {TAG: SEALED}


def test_beside_the_engines_own_build_it_is_tagged_as_the_sealed_copy():
    engine = FakeEngine()
    engine.present.add(BUILD)
    engine.tags[TAG] = BUILD
    over, said = settle(engine, mark(), 1001.0)
    assert (over, said) == (
        True,
        f"tagged {TAG}-sealed: the import that loaded it was killed",
    )
    assert engine.tags == {TAG: BUILD, f"{TAG}-sealed": SEALED}


def test_an_image_whose_tag_another_build_took_meanwhile_is_removed():
    engine = FakeEngine()
    engine.present.add(OTHER)
    engine.tags[TAG] = OTHER
    before = dict(engine.tags)
    over, said = settle(engine, mark(), 1001.0)
    assert over and said.startswith(
        f"removed image {SEALED[7:19]} that a killed import"
    )
    assert engine.removed == [SEALED]
    assert engine.tags == before  # no name taken from another image


def test_an_image_the_engine_will_not_remove_keeps_its_marker():
    engine = FakeEngine()
    engine.present.add(OTHER)
    engine.tags[TAG] = OTHER

    def refuse(ref, noprune=False):
        raise docker.errors.APIError("409", explanation="image is being used")

    engine.client.images.remove = refuse
    assert settle(engine, mark(), 1001.0) == (
        False,
        f"could not remove image {SEALED[7:19]} that a killed import loaded "
        "(in use, built on, or out of reach)",
    )
    assert engine.present == {SEALED, OTHER}


def test_beside_another_sealed_copy_it_gets_a_tag_of_its_own():
    # As import tags it: <tag>-sealed stays on the copy a later export sealed.
    engine = FakeEngine()
    engine.present |= {BUILD, NEWER}
    engine.tags.update({TAG: BUILD, f"{TAG}-sealed": NEWER})
    over, said = settle(engine, mark(), 1001.0)
    own = f"{TAG}-sealed-{SEALED[7:19]}"
    assert (over, said) == (True, f"tagged {own}: the import that loaded it was killed")
    assert engine.tags == {TAG: BUILD, f"{TAG}-sealed": NEWER, own: SEALED}
    assert engine.removed == []


def test_an_image_the_import_tagged_is_left_as_it_is():
    engine = FakeEngine()
    engine.tags[TAG] = SEALED
    assert settle(engine, mark(), 1001.0) == (True, None)
    assert engine.removed == []


def test_an_image_not_loaded_yet_keeps_its_marker_while_the_load_may_finish():
    engine = FakeEngine()
    engine.present = set()
    assert settle(engine, mark(1000.0), 1000.0 + 5) == (False, None)
    assert settle(engine, mark(1000.0), 1000.0 + LOAD_MAY_FINISH_S) == (True, None)


@pytest.fixture
def markers(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "reprobox" / "importing"


def test_a_finished_import_leaves_no_marker(markers):
    engine = FakeEngine()
    with marked_import(engine, SEALED, TAG):
        (marker,) = markers.iterdir()
        assert json.loads(marker.read_text())["engine_id"] == ENGINE_ID
    assert list(markers.iterdir()) == []


def test_an_import_cut_short_is_tagged_by_the_next_command_on_that_engine(markers):
    engine = FakeEngine()
    with pytest.raises(KeyboardInterrupt), marked_import(engine, SEALED, TAG):
        raise KeyboardInterrupt  # the load answered; the tag never came
    notes: list[str] = []
    elsewhere = FakeEngine(daemon="CCCC:DDDD")
    sweep_killed_imports(elsewhere, notes.append)
    assert (elsewhere.tags, notes, len(list(markers.iterdir()))) == ({}, [], 1)
    # The same daemon at another address: known by its ID.
    here = FakeEngine(host="unix:///var/run/docker.sock")
    sweep_killed_imports(here, notes.append)
    assert here.tags == {TAG: SEALED}
    assert notes == [f"tagged {TAG}: the import that loaded it was killed"]
    assert list(markers.iterdir()) == []


HOLDER = """
import sys, time
from reprobox.import_markers import marked_import
from types import SimpleNamespace
engine = SimpleNamespace(host="unix:///run/e2.sock",
                         client=SimpleNamespace(info=lambda: {"ID": "AAAA:BBBB"}))
with marked_import(engine, sys.argv[1], sys.argv[2]):
    print("loading", flush=True)
    time.sleep(600)
"""


def test_a_live_imports_marker_is_left_alone(markers):
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, SEALED, TAG],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "loading"
        engine = FakeEngine()
        sweep_killed_imports(engine, print)
        assert engine.tags == {}  # its own tag is still to come
        assert len(list(markers.iterdir())) == 1
        holder.kill()
        holder.wait()
        sweep_killed_imports(engine, print)
        assert engine.tags == {TAG: SEALED}
        assert list(markers.iterdir()) == []
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_damaged_markers_and_half_written_ones_are_removed(markers):
    markers.mkdir(parents=True)
    (markers / "1-ab.json").write_text('{"image": "sha256:x"')
    (markers / ".2-cd.json.new").write_text("{")
    notes: list[str] = []
    sweep_killed_imports(FakeEngine(), notes.append)
    assert notes == [f"removed damaged import marker {markers / '1-ab.json'}"]
    assert list(markers.iterdir()) == []


def test_a_marker_that_cannot_be_kept_is_said_and_the_import_goes_on(markers, tmp_path):
    markers.parent.parent.write_text("a file, not a folder")
    notes: list[str] = []
    ran = []
    with marked_import(FakeEngine(), SEALED, TAG, notes.append):
        ran.append(True)
    assert ran == [True]
    assert len(notes) == 1
    assert notes[0].startswith(f"cannot keep an import marker in {markers}: ")
    assert notes[0].endswith("its image may be left untagged")


def test_an_import_that_knows_no_image_can_come_leaves_no_marker(markers):
    # bu 5: a Ctrl-C'd import said nothing was half-written, yet kept its
    # marker: a load cut before its last bytes can make no image.
    engine = FakeEngine()
    with pytest.raises(KeyboardInterrupt), marked_import(engine, SEALED, TAG) as done:
        done.settled()
        raise KeyboardInterrupt
    assert list(markers.iterdir()) == []


def test_a_finished_import_drops_the_marker_an_earlier_cut_import_left(markers):
    # bu 5: the next import of the same bundle tagged the image, but the cut
    # one's marker stayed for the command after it.
    engine = FakeEngine()
    with pytest.raises(KeyboardInterrupt), marked_import(engine, SEALED, TAG):
        raise KeyboardInterrupt
    other = "sha256:" + "e" * 64
    with pytest.raises(KeyboardInterrupt), marked_import(engine, other, TAG):
        raise KeyboardInterrupt
    elsewhere = FakeEngine(daemon="CCCC:DDDD")
    with pytest.raises(KeyboardInterrupt), marked_import(elsewhere, SEALED, TAG):
        raise KeyboardInterrupt
    assert len(list(markers.iterdir())) == 3
    with marked_import(engine, SEALED, TAG):
        pass
    left = sorted(
        (json.loads(p.read_text())["image"], json.loads(p.read_text())["engine_id"])
        for p in markers.iterdir()
    )
    assert left == sorted([(other, ENGINE_ID), (SEALED, "CCCC:DDDD")])


def test_a_stream_tells_when_its_last_chunk_is_handed_over():
    from reprobox.bundles import _Handed

    said = []
    stream = _Handed(iter([b"a", b"b", b"c"]), lambda: said.append(len(seen)))
    seen = []
    for chunk in stream:
        seen.append((chunk, stream.last_handed))
    assert seen == [(b"a", False), (b"b", False), (b"c", True)]
    assert said == [2]  # once, before the last chunk was given
    assert _Handed(iter([])).last_handed is False
    assert list(_Handed(iter([]))) == []


def test_a_marker_killed_before_the_last_chunk_goes_with_the_next_command(markers):
    # brk r35: an import SIGKILLed before the engine had its archive kept its
    # marker until the same import ran again (or for LOAD_MAY_FINISH_S).
    engine = FakeEngine()
    engine.present = set()
    with pytest.raises(KeyboardInterrupt), marked_import(engine, SEALED, TAG):
        raise KeyboardInterrupt  # as a kill: the marker stays, never told more
    (marker,) = markers.iterdir()
    assert json.loads(marker.read_text())["last_chunk_handed"] is False
    notes: list[str] = []
    sweep_killed_imports(engine, notes.append)
    assert (list(markers.iterdir()), notes, engine.removed) == ([], [], [])


def test_a_marker_past_the_last_chunk_waits_for_the_load(markers):
    engine = FakeEngine()
    engine.present = set()
    with pytest.raises(KeyboardInterrupt), marked_import(engine, SEALED, TAG) as m:
        m.handing_last_chunk()
        raise KeyboardInterrupt
    (marker,) = markers.iterdir()
    assert json.loads(marker.read_text())["last_chunk_handed"] is True
    sweep_killed_imports(engine, print)
    assert list(markers.iterdir()) == [marker]  # the engine may finish it
    engine.present = {SEALED}  # it did
    sweep_killed_imports(engine, print)
    assert (engine.tags, list(markers.iterdir())) == ({TAG: SEALED}, [])


def test_a_marker_from_before_the_field_is_read_as_handed(markers):
    markers.mkdir(parents=True)
    written = vars(mark(time.time()))
    old = {k: v for k, v in written.items() if k != "last_chunk_handed"}
    (markers / "1-ab.json").write_text(json.dumps(old))
    engine = FakeEngine()
    engine.present = set()
    sweep_killed_imports(engine, print)
    assert [p.name for p in markers.iterdir()] == ["1-ab.json"]
