"""What in the manifest is the image's identity: not the freezing machine.

`OMP_NUM_THREADS=3 reprobox freeze` changed only the manifest's host facts,
yet gave a new tag, a new image and dropped `published`: the host section was
part of the text hashed into the tag and written into the manifest label.
"""

from __future__ import annotations

import json

from reprobox.freeze import FreezeResult, _keep_publication
from reprobox.manifest import core_manifest_text
from reprobox.seals import check_manifest_sealed, seal_manifest

PUBLISHED = [
    {
        "image_id": "sha256:" + "e" * 64,
        "ref": "127.0.0.1:5000/reprobox/p@sha256:" + "d" * 64,
        "reference_run": "20261205T044423Z-405160",
        "source_image_id": "sha256:" + "5" * 64,
    }
]


def manifest(threads: str | None = None, environment: dict | None = None) -> dict:
    host_env = {"OMP_NUM_THREADS": threads} if threads else {}
    return seal_manifest(
        {
            "schema_version": 2,
            "project": {"name": "p", "command": ["python", "train.py"]},
            "environment": environment or {},
            "host": {"cpu": {"vendor": "GenuineIntel"}, "env": host_env},
            "seed": 42,
        }
    )


def test_the_freezing_shells_thread_count_is_not_image_identity():
    plain, three = manifest(), manifest(threads="3")
    assert plain["sections_sha256"]["host"] != three["sections_sha256"]["host"]
    assert core_manifest_text(plain) == core_manifest_text(three)


def test_the_identity_text_is_the_manifest_less_host_and_published_and_sealed():
    full = {**manifest(threads="3"), "published": PUBLISHED}
    core = json.loads(core_manifest_text(full))
    assert sorted(core) == [
        "environment",
        "project",
        "schema_version",
        "sections_sha256",
        "seed",
    ]
    assert sorted(core["sections_sha256"]) == [
        "environment",
        "project",
        "schema_version",
        "seed",
    ]
    # The label holds this text; verify and import check its seals.
    assert check_manifest_sealed("label", core, "fix") is None


def test_the_images_environment_is_still_identity():
    assert core_manifest_text(manifest()) != core_manifest_text(
        manifest(environment={"TF_ENABLE_ONEDNN_OPTS": "0"})
    )


def _freeze_again(tmp_path, old: dict, new: dict) -> dict:
    return _result_of_freezing_again(tmp_path, old, new).manifest


def _result_of_freezing_again(tmp_path, old: dict, new: dict) -> FreezeResult:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    result = FreezeResult(dockerfile="", lock="", manifest=new)
    _keep_publication(path, result)
    return result


def test_freezing_again_with_other_host_facts_keeps_published(tmp_path):
    kept = _freeze_again(
        tmp_path, {**manifest(), "published": PUBLISHED}, manifest("3")
    )
    assert kept["published"] == PUBLISHED
    back = _freeze_again(tmp_path, {**kept}, manifest())
    assert back["published"] == PUBLISHED


def test_freezing_another_image_drops_published(tmp_path):
    other = manifest(environment={"TF_ENABLE_ONEDNN_OPTS": "0"})
    result = _result_of_freezing_again(
        tmp_path, {**manifest(), "published": PUBLISHED}, other
    )
    assert "published" not in result.manifest
    # AN 2: dropped silently; now freeze is told which refs to say it dropped.
    assert result.dropped_published == [PUBLISHED[0]["ref"]]


def test_freezing_with_nothing_published_drops_nothing_to_say(tmp_path):
    other = manifest(environment={"TF_ENABLE_ONEDNN_OPTS": "0"})
    unpublished = _result_of_freezing_again(tmp_path, manifest(), other)
    assert unpublished.dropped_published == []
    kept = _result_of_freezing_again(
        tmp_path, {**manifest(), "published": PUBLISHED}, manifest("3")
    )
    assert kept.dropped_published == []
