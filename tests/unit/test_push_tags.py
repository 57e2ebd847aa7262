"""The registry-named tag of a push: put back if the push does not end, even killed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import docker.errors
import pytest
from push_fakes import DIGEST, OLD, SEALED, FakeEngine, dead_owner, markers

from reprobox.engine import owner_label
from reprobox.errors import EngineError
from reprobox.push_tags import MARKER_DIR, sweep_killed_pushes
from reprobox.share import push_image

REPO = "127.0.0.1:5000/reprobox/digits"
REF = f"{REPO}:0123456789abcdef"


def push(engine, state_dir):
    return push_image(
        engine, SEALED, "127.0.0.1:5000", "digits", "0123456789abcdef", state_dir
    )


def test_the_marker_is_on_disk_before_the_tag_exists(tmp_path):
    engine = FakeEngine()
    seen = []

    def on_tag(ref):
        [marker] = markers(tmp_path)
        seen.append(json.loads(marker.read_text()))

    engine.on_tag = on_tag
    assert push(engine, tmp_path) == f"{REPO}@{DIGEST}"
    assert seen == [
        {
            "owner": owner_label(),
            "engine": "unix:///var/run/docker.sock",
            "ref": REF,
            "image": SEALED,
            "previous": None,
            "source": None,
        }
    ]
    assert engine.tags == {REF: SEALED}  # a push that ends keeps its tag
    assert markers(tmp_path) == []


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), docker.errors.APIError("x")])
def test_a_push_that_does_not_end_removes_the_tag_it_made(tmp_path, stop):
    engine = FakeEngine()
    engine.pushing = [{"status": "pushing"}, stop]
    with pytest.raises((KeyboardInterrupt, EngineError)):
        push(engine, tmp_path)
    assert engine.tags == {}
    assert markers(tmp_path) == []


def test_a_failed_push_leaves_the_users_own_tag_of_that_image(tmp_path):
    engine = FakeEngine()
    engine.tags[REF] = SEALED  # made by the user, or by an earlier push
    engine.pushing = [KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        push(engine, tmp_path)
    assert engine.tags == {REF: SEALED}


def test_a_failed_push_points_a_moved_tag_back_at_its_old_image(tmp_path):
    engine = FakeEngine()
    engine.tags[REF] = OLD
    engine.pushing = [KeyboardInterrupt()]
    with pytest.raises(KeyboardInterrupt):
        push(engine, tmp_path)
    assert engine.tags == {REF: OLD}
    assert markers(tmp_path) == []


def test_the_copy_a_push_moved_the_registry_tag_off_is_not_left_untagged(tmp_path):
    # brk 33 item 2: an export had moved <tag>-sealed off the copy pushed
    # before; the next push moved the registry tag off it too: `<none>`.
    engine = FakeEngine()
    engine.tags[REF] = OLD
    push(engine, tmp_path)
    assert engine.tags == {REF: SEALED}
    assert engine.ids == {SEALED}


def test_the_copy_a_push_moved_its_tag_off_goes_while_the_marker_names_it(tmp_path):
    # A kill before that removal would leave it `<none>` with no marker.
    engine = FakeEngine()
    engine.tags[REF] = OLD
    remove = engine.client.images.remove
    held = []

    def remove_and_look(ref, noprune):
        held.append([json.loads(m.read_text())["previous"] for m in markers(tmp_path)])
        remove(ref, noprune)

    engine.client.images.remove = remove_and_look
    push(engine, tmp_path)
    assert held == [[OLD]]
    assert engine.ids == {SEALED}
    assert markers(tmp_path) == []


def test_a_copy_another_tag_still_names_stays_after_a_push(tmp_path):
    engine = FakeEngine()
    engine.tags.update({REF: OLD, "reprobox/digits:0123456789abcdef-sealed": OLD})
    push(engine, tmp_path)
    assert engine.ids == {SEALED, OLD}


def test_a_tag_that_cannot_be_put_back_keeps_its_marker(tmp_path):
    engine = FakeEngine()
    engine.pushing = [KeyboardInterrupt()]

    def refuse(ref, noprune):
        raise docker.errors.APIError("engine gone")

    engine.client.images.remove = refuse
    with pytest.raises(KeyboardInterrupt):
        push(engine, tmp_path)
    assert len(markers(tmp_path)) == 1  # the next command tries again


# --- the next command: markers of a reprobox killed outright -----------------


def plant(state_dir: Path, **fields) -> Path:
    data = {
        "owner": dead_owner(),
        "engine": "unix:///var/run/docker.sock",
        "ref": REF,
        "image": SEALED,
        "previous": None,
        **fields,
    }
    path = state_dir / MARKER_DIR / "4242-abcd1234.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def sweep(engine, state_dir, project="digits") -> list[str]:
    notes = []
    sweep_killed_pushes(engine, state_dir, project, notes.append)
    return notes


def test_a_killed_pushs_tag_is_removed_by_the_next_command(tmp_path):
    engine = FakeEngine()
    engine.tags[REF] = SEALED
    plant(tmp_path)
    assert sweep(engine, tmp_path) == [
        f"removed tag {REF}: the push that made it was killed"
    ]
    assert engine.tags == {}
    assert markers(tmp_path) == []


def test_a_killed_pushs_tag_goes_back_to_its_old_image(tmp_path):
    engine = FakeEngine()
    engine.tags[REF] = SEALED
    plant(tmp_path, previous=OLD)
    sweep(engine, tmp_path)
    assert engine.tags == {REF: OLD}


@pytest.mark.parametrize(
    ("tags", "fields"),
    [
        ({REF: OLD}, {}),  # moved by the user since the push was killed
        ({REF: SEALED}, {"previous": SEALED}),  # the user's tag before the push
        ({}, {}),  # killed before it tagged
    ],
)
def test_a_tag_the_push_did_not_leave_is_not_touched(tmp_path, tags, fields):
    engine = FakeEngine()
    engine.tags.update(tags)
    plant(tmp_path, **fields)
    assert sweep(engine, tmp_path) == []
    assert engine.tags == tags
    assert markers(tmp_path) == []


def test_a_running_pushs_marker_is_left_alone(tmp_path):
    engine = FakeEngine()
    engine.tags[REF] = SEALED
    marker = plant(tmp_path, owner=owner_label())
    assert sweep(engine, tmp_path) == []
    assert engine.tags == {REF: SEALED}
    assert markers(tmp_path) == [marker]


def test_a_marker_for_another_engine_waits_for_that_engine(tmp_path):
    engine = FakeEngine()
    engine.tags[REF] = SEALED
    marker = plant(tmp_path, engine="unix:///run/reprobox-engine2/docker.sock")
    sweep(engine, tmp_path)
    assert engine.tags == {REF: SEALED}
    assert markers(tmp_path) == [marker]
    sweep(FakeEngine(host="unix:///run/reprobox-engine2/docker.sock"), tmp_path)
    assert markers(tmp_path) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"ref": "reprobox-base:bookworm-py3.11"},  # not a push's tag
        {"ref": "127.0.0.1:5000/reprobox/other:0123456789abcdef"},  # another project
        {"image": "latest"},
        {"previous": 5},
    ],
)
def test_a_marker_reprobox_did_not_write_never_removes_a_tag(tmp_path, fields):
    engine = FakeEngine()
    ref = fields.get("ref", REF)
    engine.tags[ref] = SEALED
    path = plant(tmp_path, **fields)
    assert sweep(engine, tmp_path) == [f"removed damaged push marker {path}"]
    assert engine.tags == {ref: SEALED}
    assert markers(tmp_path) == []


def test_a_marker_write_cut_short_by_the_kill_is_removed(tmp_path):
    folder = tmp_path / MARKER_DIR
    folder.mkdir()
    dead_pid = dead_owner().split(":")[1]
    left = folder / f".{dead_pid}-abcd1234.json.x1y2.tmp"
    live = folder / f".{os.getpid()}-abcd1234.json.x1y2.tmp"
    left.write_text("{")
    live.write_text("{")
    assert sweep(FakeEngine(), tmp_path) == []
    assert markers(tmp_path) == [live]
