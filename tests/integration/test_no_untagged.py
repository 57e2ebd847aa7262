"""No action of reprobox leaves an image of the project `<none>:<none>`, and
every record names the image that ran (brk round 33).

Each test makes its own tiny project (the sleeper, made to report a metric at
once), so the tags one test moves are no other test's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TEST_PROJECTS

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE2,
    PROJECT_LABEL,
    engine1_client,
    engine2_client,
    records_of,
    registry,
    two_engine_cleanup,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.second_engine,
    pytest.mark.registry,
]

QUICK_TRAIN = """\
import json, os, random
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    json.dump({"score": random.random()}, fh)
print("trained", flush=True)
"""


def quick_project(cli, cleanup, tmp_path: Path):
    """A frozen, built project that trains in an instant; return (path, name, tag)."""
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    cleanup.names.append(name)
    (path / "train.py").write_text(QUICK_TRAIN)
    # No package: engine 2 builds it with no way to an index.
    (path / "requirements.txt").write_text("")
    cli.run("-q", "freeze", str(path), timeout=600)
    built = json.loads(cli.run("build", str(path), "--json", timeout=600).stdout)
    return path, name, built["tag"]


def untagged(client, name: str) -> list[str]:
    """Return the ids of the project's images no tag names on an engine."""
    found = client.images.list(
        all=True, filters={"label": f"{PROJECT_LABEL}={name}", "dangling": True}
    )
    return sorted(image.id for image in found)


def run(cli, path: Path, *args: str) -> dict:
    """Run the project once (`run --json ARGS`); return its record."""
    result = cli.run("run", str(path), "--json", *args)
    (record,) = records_of(result.stdout)
    assert record["status"] == "succeeded", result.describe()
    return record


def push(cli, path: Path, registry: str) -> dict:
    """Push the project; return its published entry."""
    cli.run("-q", "push", str(path), "--registry", registry)
    manifest = json.loads((path / ".reprobox" / "manifest.json").read_text())
    (entry,) = manifest["published"]
    return entry


def assert_names_what_ran(client, record: dict) -> None:
    """The record's ref names the image that ran, and its digest is the engine's."""
    image = record["image"]
    assert client.images.get(image["ref"]).id == image["id"], image
    listed = client.images.get(image["id"]).attrs.get("RepoDigests") or []
    if listed:
        assert image["digest"] in [d.split("@", 1)[1] for d in listed], image
    else:
        assert image["digest"] is None, image


def test_run_host_beside_two_sealed_copies_leaves_no_image_untagged(
    cli, two_engine_cleanup, engine2_client, registry, tmp_path
):
    """Item 1: the third published image, pulled by digest onto an engine where
    <tag> and <tag>-sealed named the first two, had no tag at all."""
    path, name, tag = quick_project(cli, two_engine_cleanup, tmp_path)
    entries = []
    for _ in range(3):
        run(cli, path)
        entries.append(push(cli, path, registry))
        record = run(cli, path, "--host", ENGINE2)
        assert record["image"]["id"] == entries[-1]["image_id"]
        assert record["image"]["ref"] == entries[-1]["ref"]
        assert record["image"]["digest"] == entries[-1]["ref"].split("@", 1)[1]
        assert_names_what_ran(engine2_client, record)
        assert untagged(engine2_client, name) == []
    assert len({e["image_id"] for e in entries}) == 3
    third = engine2_client.images.get(entries[2]["image_id"])
    assert f"{tag}-sealed-{entries[2]['image_id'][7:19]}" in third.tags


def test_push_after_an_export_leaves_no_copy_untagged(
    cli, two_engine_cleanup, engine1_client, registry, tmp_path
):
    """Item 2: run; push; run; export; run; push left the first pushed copy
    with no tag (export took <tag>-sealed, the second push its registry name)."""
    path, name, tag = quick_project(cli, two_engine_cleanup, tmp_path)
    run(cli, path)
    first = push(cli, path, registry)
    run(cli, path)
    cli.run("-q", "export", str(path), "-o", str(tmp_path / "x.tar"))
    run(cli, path)
    second = push(cli, path, registry)
    assert first["image_id"] != second["image_id"]
    assert untagged(engine1_client, name) == []
    assert engine1_client.images.get(f"{tag}-sealed").id == second["image_id"]


def test_run_host_over_that_engines_own_build_and_build_force_leave_none(
    cli, two_engine_cleanup, engine2_client, tmp_path
):
    """Item 3: engine 2's own build (same tag, other bytes) became <none> when
    run streamed engine 1's image over its tag; so did build --force's."""
    path, name, tag = quick_project(cli, two_engine_cleanup, tmp_path)
    cli.run("-q", "build", str(path), "--host", ENGINE2, timeout=600)
    own = engine2_client.images.get(tag).id
    record = run(cli, path, "--host", ENGINE2)
    assert_names_what_ran(engine2_client, record)
    assert untagged(engine2_client, name) == []

    before = engine2_client.images.get(tag).id
    cli.run("-q", "build", str(path), "--host", ENGINE2, "--force", timeout=600)
    assert untagged(engine2_client, name) == []
    after = engine2_client.images.get(tag).id
    gone = {own, before} - {after}
    for image in gone:  # removed, not kept untagged
        assert not engine2_client.images.list(filters={"reference": image})
        assert image not in [i.id for i in engine2_client.images.list(all=True)]


def test_import_beside_a_sealed_tag_says_how_verify_takes_it(
    cli, two_engine_cleanup, engine2_client, registry, tmp_path
):
    """Item 4: <tag> on engine 2 held the published image a run --host pulled;
    import said `verify <tag>` takes the bundle's -sealed copy, but it checks
    the image at <tag>."""
    path, name, tag = quick_project(cli, two_engine_cleanup, tmp_path)
    run(cli, path)
    entry = push(cli, path, registry)
    run(cli, path, "--host", ENGINE2)
    assert engine2_client.images.get(tag).id == entry["image_id"]
    run(cli, path)
    bundle = tmp_path / "b2.tar"
    cli.run("-q", "export", str(path), "-o", str(bundle))
    result = cli.run("import", str(bundle), "--host", ENGINE2)
    assert f"`reprobox verify {tag}-sealed` checks it" in result.stderr, (
        result.describe()
    )
    assert f"(`reprobox verify {tag}` takes it)" not in result.stderr
    assert untagged(engine2_client, name) == []

    # What it says holds: verify <tag> checks the image at <tag>.
    runs = tmp_path / "verify-runs"
    cli.run("-q", "verify", tag, "--host", ENGINE2, "--runs-dir", str(runs))
    (record,) = [json.loads(p.read_text()) for p in runs.glob("*/record.json")]
    assert record["image"]["id"] == entry["image_id"]


@pytest.mark.parametrize("which", ["build tag", "sealed tag"])
def test_verify_records_the_sealed_copy_by_a_name_of_its_own(
    cli, two_engine_cleanup, engine1_client, registry, tmp_path, which
):
    """Item 5: verify of the build's tag ran the sealed copy but recorded the
    build's tag (the unsealed image) and no digest, though the engine lists one."""
    path, name, tag = quick_project(cli, two_engine_cleanup, tmp_path)
    run(cli, path)
    entry = push(cli, path, registry)
    asked = tag if which == "build tag" else f"{tag}-sealed"
    runs = tmp_path / "verify-runs"
    cli.run("-q", "verify", asked, "--runs-dir", str(runs))
    (record,) = [json.loads(p.read_text()) for p in runs.glob("*/record.json")]
    image = record["image"]
    assert image["id"] == entry["image_id"]
    assert image["digest"] == entry["ref"].split("@", 1)[1]
    if which == "build tag":
        assert image["ref"] == entry["ref"]
    else:
        assert image["ref"] == asked
    assert_names_what_ran(engine1_client, record)


def test_run_host_on_a_bundles_copy_claims_no_digest(
    cli, two_engine_cleanup, engine2_client, registry, tmp_path
):
    """Item 6: the published image imported from a bundle (no RepoDigests) ran
    on engine 2 with a record claiming the registry ref and digest, silently."""
    path, name, tag = quick_project(cli, two_engine_cleanup, tmp_path)
    run(cli, path)
    entry = push(cli, path, registry)
    bundle = tmp_path / "b.tar"
    exported = json.loads(
        cli.run("export", str(path), "-o", str(bundle), "--json").stdout
    )
    assert exported["image_id"] == entry["image_id"]
    cli.run("-q", "import", str(bundle), "--host", ENGINE2)
    there = engine2_client.images.get(tag)
    assert there.id == entry["image_id"] and there.attrs["RepoDigests"] == []

    result = cli.run("-q", "run", str(path), "--json", "--host", ENGINE2)
    (record,) = records_of(result.stdout)
    assert record["image"] == {**record["image"], "id": entry["image_id"]}
    assert record["image"]["ref"] == tag
    assert record["image"]["digest"] is None
    assert "loaded from a bundle?" in result.stderr, result.describe()
    assert f"{ENGINE2}: image registry" not in result.stderr
    assert untagged(engine2_client, name) == []


def test_verify_by_digest_on_another_engine_tags_the_pull(
    cli, two_engine_cleanup, engine2_client, registry, tmp_path
):
    """Round 36 A: verify REF@sha256 on an engine without the image pulled it
    and left it `<none>`; it takes the build's tag there, as import gives it."""
    path, name, tag = quick_project(cli, two_engine_cleanup, tmp_path)
    run(cli, path)
    entry = push(cli, path, registry)
    assert tag not in [t for i in engine2_client.images.list() for t in i.tags]
    runs = tmp_path / "verify-runs"
    verified = cli.run(
        "verify", entry["ref"], "--host", ENGINE2, "--runs-dir", str(runs)
    )
    assert untagged(engine2_client, name) == []
    repo = entry["ref"].split("@", 1)[0]
    dangling = engine2_client.images.list(filters={"dangling": True})
    assert [
        i.id
        for i in dangling
        if any(d.startswith(repo + "@") for d in i.attrs.get("RepoDigests") or [])
    ] == []
    assert engine2_client.images.get(tag).id == entry["image_id"]
    assert f"pulled {entry['ref']}, tagged {tag}" in verified.stderr
    (record,) = [json.loads(p.read_text()) for p in runs.glob("*/record.json")]
    assert record["image"]["id"] == entry["image_id"]
