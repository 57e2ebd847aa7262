"""The <tag>-sealed move of push and export: marked first, undone after a kill."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import docker.errors
import pytest
from push_fakes import OLD, SEALED, FakeEngine, dead_owner, markers

from reprobox import cli_share
from reprobox.engine import owner_label
from reprobox.push_tags import MARKER_DIR, sweep_killed_pushes

BUILD = "sha256:" + "b" * 64
OTHER = "sha256:" + "c" * 64
BUILD_TAG = "reprobox/digits:0123456789abcdef"
SEALED_TAG = f"{BUILD_TAG}-sealed"
SEAL_LABELS = {"org.reprobox.project": "digits", "org.reprobox.reference-record": "{}"}


def engine_with_copies(**tags: str) -> FakeEngine:
    """An engine holding the build and two sealed copies of it, OLD and SEALED."""
    engine = FakeEngine()
    engine.ids |= {BUILD, OTHER}
    engine.labels[BUILD] = {"org.reprobox.project": "digits"}
    for copy in (OLD, SEALED):
        engine.labels[copy] = dict(SEAL_LABELS)
        engine.parents[copy] = BUILD
    engine.tags[BUILD_TAG] = BUILD
    engine.tags.update(tags)
    return engine


def plant_seal(state_dir: Path, name: str = "4242-abcd1234", **fields) -> Path:
    data = {
        "owner": dead_owner(),
        "engine": "unix:///var/run/docker.sock",
        "ref": SEALED_TAG,
        "image": SEALED,
        "previous": OLD,
        "source": BUILD,
        **fields,
    }
    path = state_dir / MARKER_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def sweep(engine, state_dir) -> list[str]:
    notes: list[str] = []
    sweep_killed_pushes(engine, state_dir, "digits", notes.append)
    return notes


@pytest.mark.parametrize("known", [SEALED, None])  # None: killed before it was noted
def test_a_seal_killed_after_it_moved_the_tag_puts_the_old_copy_back(tmp_path, known):
    engine = engine_with_copies(**{SEALED_TAG: SEALED})
    plant_seal(tmp_path, image=known)
    assert sweep(engine, tmp_path) == [
        f"pointed {SEALED_TAG} back at {OLD[:19]}: the push or export that sealed "
        "it was killed",
        f"removed image {SEALED[7:19]}, left with no tag by a killed push or export",
    ]
    assert engine.tags == {BUILD_TAG: BUILD, SEALED_TAG: OLD}
    assert SEALED not in engine.ids
    assert markers(tmp_path) == []


def test_a_seal_killed_before_the_engine_tagged_its_copy_removes_that_copy(tmp_path):
    engine = engine_with_copies(**{SEALED_TAG: OLD})  # SEALED: made, no tag
    plant_seal(tmp_path, image=None)
    assert sweep(engine, tmp_path) == [
        f"removed image {SEALED[7:19]}, left with no tag by a killed push or export"
    ]
    assert engine.tags == {BUILD_TAG: BUILD, SEALED_TAG: OLD}
    assert engine.ids == {BUILD, OTHER, OLD}


@pytest.mark.parametrize("known", [SEALED, None])
def test_a_first_seal_killed_is_taken_back_as_a_stopped_one_is(tmp_path, known):
    engine = engine_with_copies(**{SEALED_TAG: SEALED})
    engine.ids.discard(OLD)
    plant_seal(tmp_path, image=known, previous=None)
    sweep(engine, tmp_path)
    assert engine.tags == {BUILD_TAG: BUILD}
    assert SEALED not in engine.ids


def test_a_killed_exports_copy_leaves_the_pushed_copy_to_its_registry_tag(tmp_path):
    # The export moved <tag>-sealed off the pushed copy OLD, which keeps its
    # registry name: put back, neither copy is left `<none>`.
    pushed = "127.0.0.1:5000/reprobox/digits:0123456789abcdef"
    engine = engine_with_copies(**{SEALED_TAG: SEALED, pushed: OLD})
    plant_seal(tmp_path)
    sweep(engine, tmp_path)
    assert engine.tags == {BUILD_TAG: BUILD, SEALED_TAG: OLD, pushed: OLD}
    assert SEALED not in engine.ids


def test_a_tag_moved_to_an_image_no_seal_made_is_left_alone(tmp_path):
    engine = engine_with_copies(**{SEALED_TAG: OTHER})  # OTHER: the user's
    engine.labels[OTHER] = dict(SEAL_LABELS)
    plant_seal(tmp_path, image=None)
    sweep(engine, tmp_path)
    assert engine.tags == {BUILD_TAG: BUILD, SEALED_TAG: OTHER}
    # The copies of the build left with no tag are still removed: no `<none>`.
    assert engine.ids == {BUILD, OTHER}
    assert markers(tmp_path) == []


def test_a_copy_a_container_uses_stays_and_the_sweep_goes_on(tmp_path):
    engine = engine_with_copies(**{SEALED_TAG: SEALED})
    engine.in_use.add(SEALED)
    plant_seal(tmp_path)
    sweep(engine, tmp_path)
    assert engine.tags == {BUILD_TAG: BUILD, SEALED_TAG: OLD}
    assert SEALED in engine.ids
    assert markers(tmp_path) == []


@pytest.mark.parametrize("labels", [{}, {"org.reprobox.project": "other"}])
def test_an_untagged_image_reprobox_did_not_make_here_stays(tmp_path, labels):
    engine = engine_with_copies(**{SEALED_TAG: SEALED})
    engine.labels[SEALED] = {"org.reprobox.reference-record": "{}", **labels}
    plant_seal(tmp_path)
    sweep(engine, tmp_path)
    assert SEALED in engine.ids


def test_a_killed_seal_waits_while_another_push_of_the_project_goes_on(tmp_path):
    # The live push's own copy is sealed from the same build: it must not be
    # taken for the killed one's.
    engine = engine_with_copies(**{SEALED_TAG: SEALED})
    killed = plant_seal(tmp_path, image=None)
    live = plant_seal(tmp_path, name="4343-abcd1234", owner=owner_label())
    assert sweep(engine, tmp_path) == []
    assert engine.tags[SEALED_TAG] == SEALED
    assert markers(tmp_path) == [killed, live]


@pytest.mark.parametrize(
    "fields",
    [
        {"source": None},  # a seal's marker names the build it seals from
        {"ref": "127.0.0.1:5000/reprobox/digits:0123456789abcdef"},  # with source
        {"ref": "reprobox/other:0123456789abcdef-sealed"},  # another project
        {"ref": BUILD_TAG},  # the build's own tag: no push or export moves it
        {"source": "latest"},
    ],
)
def test_a_seal_marker_reprobox_did_not_write_never_moves_a_tag(tmp_path, fields):
    engine = engine_with_copies(**{SEALED_TAG: SEALED, fields.get("ref", "x"): OLD})
    tags = dict(engine.tags)
    path = plant_seal(tmp_path, image=None, **fields)
    assert sweep(engine, tmp_path) == [f"removed damaged push marker {path}"]
    assert engine.tags == tags
    assert engine.ids == {BUILD, OTHER, OLD, SEALED}


# --- the marker push and export write around the seal -------------------------


def test_the_seal_is_marked_before_the_tag_moves_and_unmarked_once_shared(
    tmp_path, monkeypatch
):
    engine = engine_with_copies(**{SEALED_TAG: OLD})
    engine.ids.discard(SEALED)
    seen = []

    def seal(cfg, engine, built, reference_path):
        [marker] = markers(tmp_path)  # on disk before the engine seals
        seen.append(json.loads(marker.read_text()))
        engine.ids.add(SEALED)
        engine.tags[SEALED_TAG] = SEALED
        return SEALED, {"run_id": "r1"}, BUILD

    monkeypatch.setattr(cli_share, "_sealed", seal)
    cfg = SimpleNamespace(state_dir=tmp_path, name="p")
    built = SimpleNamespace(tag=BUILD_TAG, image_id=BUILD)
    with cli_share._sealed_until_shared(cfg, engine, built, None) as made:
        assert made[0] == SEALED
        [marker] = markers(tmp_path)
        seen.append(json.loads(marker.read_text()))
    owner = {"owner": owner_label(), "engine": "unix:///var/run/docker.sock"}
    move = {"ref": SEALED_TAG, "previous": OLD, "source": BUILD}
    assert seen == [
        {**owner, **move, "image": None},
        {**owner, **move, "image": SEALED},
    ]
    assert markers(tmp_path) == []
    assert engine.tags[SEALED_TAG] == SEALED
    assert OLD not in engine.ids  # the copy the seal moved the tag off: no `<none>`


def test_a_seal_that_cannot_be_put_back_keeps_its_marker(tmp_path, monkeypatch):
    engine = engine_with_copies(**{SEALED_TAG: OLD})

    def seal(cfg, engine, built, reference_path):
        engine.tags[SEALED_TAG] = SEALED
        return SEALED, {"run_id": "r2"}, BUILD

    def refuse(ref):
        raise docker.errors.APIError("engine gone")

    monkeypatch.setattr(cli_share, "_sealed", seal)
    engine.on_tag = refuse
    cfg = SimpleNamespace(state_dir=tmp_path, name="p")
    built = SimpleNamespace(tag=BUILD_TAG, image_id=BUILD)
    with (
        pytest.raises(KeyboardInterrupt),
        cli_share._sealed_until_shared(cfg, engine, built, None),
    ):
        raise KeyboardInterrupt
    [marker] = markers(tmp_path)  # the next command tries again
    assert json.loads(marker.read_text())["image"] == SEALED
    assert engine.tags[SEALED_TAG] == SEALED
