"""No action of reprobox leaves an image `<none>:<none>`: a sealed copy goes
beside its build under a free name, and an image a tag moved off is removed
once nothing tags or uses it."""

from __future__ import annotations

from types import SimpleNamespace

import docker.errors
import pytest

from reprobox import cli_share
from reprobox.errors import EngineError
from reprobox.share import tag_sealed_beside
from reprobox.tag_moves import drop_if_untagged, project_of_tag, tag_beside_build

TAG = "reprobox/p:0123456789abcdef"
BUILD, SEALED = "sha256:" + "b" * 64, "sha256:" + "5" * 64
OLDER, NEWER = "sha256:" + "3" * 64, "sha256:" + "7" * 64


class TagEngine:
    """Images by id, tags and registry digests; remove refuses, as the engine
    does, an image a container uses, and one unforced whose digests are in
    several repositories."""

    def __init__(self, *ids, in_use=(), project="p"):
        self.ids, self.tags, self.in_use = set(ids), {}, set(in_use)
        self.digests: dict[str, list[str]] = {}
        self.labels = {i: {"org.reprobox.project": project} for i in ids}
        self.removed: list[str] = []
        images = SimpleNamespace(get=self._get, remove=self._remove)
        containers = SimpleNamespace(list=self._containers)
        self.client = SimpleNamespace(images=images, containers=containers)

    def _get(self, ref):
        found = self.tags.get(ref, ref)
        if found not in self.ids:
            raise docker.errors.ImageNotFound(ref)
        named = sorted(t for t, i in self.tags.items() if i == found)

        def tag(repo, name):
            self.tags[f"{repo}:{name}"] = found

        attrs = {"RepoDigests": self.digests.get(found, [])}
        labels = self.labels.get(found, {})
        return SimpleNamespace(
            id=found, tags=named, tag=tag, attrs=attrs, labels=labels
        )

    def _containers(self, all, sparse, filters):
        assert all and filters == {"ancestor": filters["ancestor"]}
        return [SimpleNamespace(id="c1")] if filters["ancestor"] in self.in_use else []

    def _remove(self, image, noprune, force=False):
        repos = {d.rpartition("@")[0] for d in self.digests.get(image, [])}
        if len(repos) > 1 and not force:
            raise docker.errors.APIError(
                "409", explanation="image is referenced in multiple repositories"
            )
        if image in self.in_use:
            if not force:
                raise docker.errors.APIError("409", explanation="image is being used")
            self.in_use.discard(image)  # forced: the stopped container loses it
        self.ids.discard(image)
        self.removed.append(image)


def test_run_and_import_name_an_arriving_sealed_copy_by_one_rule():
    assert tag_beside_build(TAG, None, None, SEALED) == TAG
    assert tag_beside_build(TAG, BUILD, None, SEALED) == f"{TAG}-sealed"
    assert tag_beside_build(TAG, BUILD, SEALED, SEALED) == f"{TAG}-sealed"
    got = tag_beside_build(TAG, BUILD, NEWER, SEALED)
    assert got == f"{TAG}-sealed-555555555555"


def test_a_pull_beside_two_sealed_copies_gets_its_own_name():
    # brk 33 item 1: <tag> and <tag>-sealed named earlier sealed copies on
    # engine 2; the third published image, pulled by digest, stayed <none>.
    engine = TagEngine(OLDER, NEWER, SEALED)
    engine.tags = {TAG: OLDER, f"{TAG}-sealed": NEWER}
    assert tag_sealed_beside(engine, SEALED, TAG) == f"{TAG}-sealed-555555555555"
    assert engine.tags == {
        TAG: OLDER,
        f"{TAG}-sealed": NEWER,
        f"{TAG}-sealed-555555555555": SEALED,
    }


def test_a_pull_beside_the_unsealed_build_is_tagged_sealed():
    engine = TagEngine(BUILD, SEALED)
    engine.tags = {TAG: BUILD}
    assert tag_sealed_beside(engine, SEALED, TAG) == f"{TAG}-sealed"
    assert engine.tags == {TAG: BUILD, f"{TAG}-sealed": SEALED}


def test_an_image_no_tag_names_is_removed():
    engine = TagEngine(OLDER)
    assert drop_if_untagged(engine, OLDER, "p") is True
    assert engine.removed == [OLDER]


def test_an_image_still_tagged_or_in_use_stays():
    engine = TagEngine(OLDER, NEWER, in_use={NEWER})
    engine.tags = {"mine:1": OLDER}
    assert drop_if_untagged(engine, OLDER, "p") is False
    assert drop_if_untagged(engine, NEWER, "p") is False  # a container uses it
    assert drop_if_untagged(engine, None, "p") is False
    assert drop_if_untagged(engine, "sha256:" + "9" * 64, "p") is False  # gone
    assert engine.removed == [] and engine.ids == {OLDER, NEWER}


BMR = "127.0.0.1:5000/bmr/reprobox/p@sha256:" + "a" * 64
BMS = "127.0.0.1:5000/bms/reprobox/p@sha256:" + "a" * 64


def test_a_copy_left_under_two_registries_digests_is_removed():
    # brk 46: pushed under two registry paths, then its last tag moved on; a
    # plain removal is refused ("referenced in multiple repositories").
    engine = TagEngine(OLDER, NEWER)
    engine.digests = {OLDER: [BMR, BMS], NEWER: [BMR]}
    assert drop_if_untagged(engine, OLDER, "p") is True
    assert drop_if_untagged(engine, NEWER, "p") is True  # one repository: plain
    assert engine.removed == [OLDER, NEWER]


def test_a_copy_under_two_registries_stays_when_used_tagged_or_not_ours():
    engine = TagEngine(OLDER, NEWER, SEALED, in_use={NEWER})  # a stopped container
    engine.digests = {i: [BMR, BMS] for i in (OLDER, NEWER, SEALED)}
    engine.labels[SEALED] = {"org.reprobox.project": "other"}
    assert drop_if_untagged(engine, NEWER, "p") is False
    assert drop_if_untagged(engine, SEALED, "p") is False  # another project's
    assert drop_if_untagged(engine, OLDER, None) is False  # project not known
    engine.tags = {"mine:1": OLDER}
    assert drop_if_untagged(engine, OLDER, "p") is False
    assert engine.removed == [] and engine.ids == {OLDER, NEWER, SEALED}


def test_the_project_a_build_tag_names():
    assert project_of_tag(TAG) == "p"
    assert project_of_tag("reprobox/p:0123456789abcdef-sealed") == "p"
    assert project_of_tag("127.0.0.1:5000/t/reprobox/p:0123456789abcdef") is None
    assert project_of_tag("reprobox/p") is None


def test_a_failed_push_that_puts_the_old_seal_back_removes_the_new_one(
    monkeypatch, tmp_path
):
    # The push or export failed after sealing a newer run: <tag>-sealed goes
    # back to the copy last shared, and the new copy, left untagged, goes.
    engine = TagEngine(BUILD, OLDER, NEWER)
    engine.tags = {TAG: BUILD, f"{TAG}-sealed": OLDER}

    def seal(cfg, engine_, built, reference):
        engine.tags[f"{TAG}-sealed"] = NEWER
        return NEWER, {"run_id": "r2"}, BUILD

    monkeypatch.setattr(cli_share, "_sealed", seal)
    built = SimpleNamespace(tag=TAG, image_id=BUILD)
    with (
        pytest.raises(EngineError),
        cli_share._sealed_until_shared(
            SimpleNamespace(state_dir=tmp_path, name="p"), engine, built, None
        ),
    ):
        raise EngineError("registry out of reach")
    assert engine.tags == {TAG: BUILD, f"{TAG}-sealed": OLDER}
    assert engine.removed == [NEWER]
    assert list((tmp_path / "pushing").iterdir()) == []  # put back: no marker
