"""`run -H URL` runs the published sealed image, whichever engine builds.

reprobox builds on this machine's engine ($DOCKER_HOST, else the default
socket) and copies the image to each engine named with --host. An engine that
already holds the build unsealed at its tag (a run there before the push) gets
the published image pulled beside it by digest; only a pull that fails leaves
it running its own copy, with a warning, and its record names that copy.

The tests of this module share one project and run in file order.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest
from conftest import REPO, CliResult, clean_env, reprobox_argv

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE1,
    ENGINE2,
    engine1_client,
    engine2_client,
    engine_has,
    make_project,
    records_of,
    registry,
    remove_from,
    run_records,
    two_engine_cleanup,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.second_engine,
    pytest.mark.registry,
]


def run_with(docker_host: str | None, project, *args: str):
    """Run `reprobox ARGS run PROJECT --json` with DOCKER_HOST set (or not);
    return (CliResult, records). ARGS before `run` are global flags (-q)."""
    flags = [a for a in args if a == "-q"]
    rest = [a for a in args if a != "-q"]
    argv = reprobox_argv(*flags, "run", str(project.path), "--json", *rest)
    env = clean_env()
    if docker_host is not None:
        env["DOCKER_HOST"] = docker_host
    done = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        check=False,
    )
    result = CliResult(argv, done.returncode, done.stdout, done.stderr, 0.0)
    assert result.returncode == 0, result.describe()
    return result, records_of(result.stdout)


@pytest.fixture(scope="module")
def pushed(cli, two_engine_cleanup, engine2_client, registry, tmp_path_factory):
    """A project run on engine 2 first (its build lands there, unsealed, at
    its tag), then pushed from engine 1; `entry` is its published entry."""
    project = make_project(
        cli, two_engine_cleanup, tmp_path_factory.mktemp("pub"), "pubhost"
    )
    _, (first,) = run_records(cli, project, "--host", ENGINE2)
    assert first["status"] == "succeeded"
    assert first["image"]["id"] == project.image_id
    cli.run("push", str(project.path), "--registry", registry)
    (entry,) = project.manifest()["published"]
    assert entry["source_image_id"] == project.image_id
    assert entry["image_id"] != project.image_id
    assert engine2_client.images.get(project.tag).id == project.image_id
    project.entry = entry
    return project


def _assert_ran_published(record, project, host: str) -> None:
    entry = project.entry
    assert record["status"] == "succeeded"
    assert record["engine"]["host"] == host
    assert record["image"]["id"] == entry["image_id"]
    assert record["image"]["ref"] == entry["ref"]
    assert record["image"]["digest"] == entry["ref"].split("@", 1)[1]


def _engine2_holds_the_build_unsealed(pushed, engine1_client, engine2_client):
    """Leave engine 2 holding the build at its tag, and no sealed copy of it."""
    for image in (pushed.tag, pushed.entry["image_id"], pushed.image_id):
        remove_from(engine2_client, image)
    loaded = engine2_client.images.load(
        engine1_client.images.get(pushed.image_id).save()
    )
    assert [image.id for image in loaded] == [pushed.image_id]
    repo, _, tag = pushed.tag.rpartition(":")
    engine2_client.images.get(pushed.image_id).tag(repo, tag)
    assert not engine_has(engine2_client, pushed.entry["image_id"])


def _import_on_engine2(cli, pushed, engine2_client, bundle, sealed: str) -> None:
    """Import bundle on engine 2 cleared of this build: its tag names sealed."""
    for image in (pushed.tag, pushed.entry["image_id"], pushed.image_id, sealed):
        remove_from(engine2_client, image)
    imported = json.loads(
        cli.run("import", str(bundle), "--host", ENGINE2, "--json").stdout
    )
    assert imported["tag"] == pushed.tag
    assert engine2_client.images.get(pushed.tag).id == sealed
    # docker load keeps no registry digest.
    assert engine2_client.images.get(pushed.tag).attrs["RepoDigests"] == []


@pytest.mark.parametrize("docker_host", [None, ENGINE1])
def test_run_host_pulls_the_published_image_beside_the_unsealed_build(
    pushed, engine2_client, docker_host
):
    """brk AK 1: engine 2 ran its unsealed copy, told only by a progress line."""
    sealed = pushed.entry["image_id"]
    remove_from(engine2_client, sealed)
    assert engine2_client.images.get(pushed.tag).id == pushed.image_id

    result, (record,) = run_with(docker_host, pushed, "--host", ENGINE2)

    _assert_ran_published(record, pushed, ENGINE2)
    assert f"{ENGINE2}: image registry" in result.stderr, result.describe()
    assert "warning" not in result.stderr, result.describe()
    # The sealed image came beside the build: the tag still names the build.
    assert engine2_client.images.get(pushed.tag).id == pushed.image_id
    there = engine2_client.images.get(sealed)
    assert pushed.entry["ref"] in there.attrs["RepoDigests"]
    assert f"{pushed.tag}-sealed" in there.tags  # not left bare beside the build


def test_an_imported_sealed_image_at_the_tag_runs_as_the_published_one(
    cli, pushed, engine2_client, tmp_path
):
    """After `import` of the project's own bundle on an engine without the
    build, the tag names the sealed image, and build takes it as this build:
    the run is of the published image. Loaded from a bundle it has no
    registry digest, and no registry is asked (a bundle's machine may have
    none in reach): the record names it by tag and id, with a warning."""
    bundle = tmp_path / "b.tar"
    # Sealed with the run the push sealed (newer runs of the sealed copy,
    # made by the tests above, would be the newest): the very published image.
    reference = pushed.path / ".reprobox" / "runs" / pushed.entry["reference_run"]
    exported = json.loads(
        cli.run(
            "export", str(pushed.path), "-o", str(bundle), "--reference",
            str(reference), "--json",
        ).stdout
    )  # fmt: skip
    assert exported["image_id"] == pushed.entry["image_id"]
    _import_on_engine2(cli, pushed, engine2_client, bundle, exported["image_id"])

    result, (record,) = run_with(ENGINE2, pushed)

    assert record["status"] == "succeeded"
    assert record["image"]["id"] == pushed.entry["image_id"]
    assert record["image"]["ref"] == pushed.tag
    assert record["image"]["digest"] is None
    assert (
        f"published[0].ref {pushed.entry['ref']} is not a digest this engine "
        f"knows for {pushed.entry['image_id'][7:19]}; the record names the "
        "image as this engine knows it (by a registry digest it lists for the "
        "image, else by its own tag or id), not by that ref"
    ) in result.stderr, result.describe()
    assert "another build" not in result.stderr  # it is this build's entry
    assert engine2_client.images.get(pushed.tag).id == pushed.entry["image_id"]


def test_docker_host_engine2_with_host_engine1_runs_the_published_image(
    pushed, engine1_client, engine2_client
):
    """The other way round: engine 2 is this machine's engine, engine 1 named.

    Neither holds the sealed image: engine 2 pulls it to check it is this
    build, and engine 1, holding the build at its tag, pulls it beside it.
    """
    sealed = pushed.entry["image_id"]
    _engine2_holds_the_build_unsealed(pushed, engine1_client, engine2_client)
    remove_from(engine1_client, sealed)
    assert engine1_client.images.get(pushed.tag).id == pushed.image_id

    result, (record,) = run_with(ENGINE2, pushed, "--host", ENGINE1)

    _assert_ran_published(record, pushed, ENGINE1)
    assert "pulled and running the published image" in result.stderr
    assert f"{ENGINE1}: image registry" in result.stderr, result.describe()
    assert "warning" not in result.stderr, result.describe()
    for client in (engine1_client, engine2_client):
        assert client.images.get(pushed.tag).id == pushed.image_id
        assert engine_has(client, sealed)


def test_an_imported_copy_sealed_again_runs_the_published_image(
    cli, pushed, engine2_client, tmp_path
):
    """The published seal is gone where it was made (the test above removed
    it), so export seals again, with the newest run: one the tests above ran
    on the published image itself. Imported where the build is not, its tag
    names that copy, whose record ran on the published image; the run pulls
    the published image beside it, its layers already there."""
    bundle = tmp_path / "b.tar"
    exported = json.loads(
        cli.run("export", str(pushed.path), "-o", str(bundle), "--json").stdout
    )
    resealed = exported["image_id"]
    assert resealed not in (pushed.entry["image_id"], pushed.image_id)
    _import_on_engine2(cli, pushed, engine2_client, bundle, resealed)

    result, (record,) = run_with(ENGINE2, pushed)

    _assert_ran_published(record, pushed, ENGINE2)
    assert "pulled and running the published image" in result.stderr
    assert "warning" not in result.stderr, result.describe()
    assert engine2_client.images.get(pushed.tag).id == resealed


def test_a_pull_that_fails_runs_the_engines_copy_and_warns_under_quiet(
    pushed, engine1_client, engine2_client, registry
):
    """Last: the published manifest is deleted from the registry, so engine 2
    cannot pull it; engine 1 still lists the digest for its sealed image."""
    entry = pushed.entry
    _engine2_holds_the_build_unsealed(pushed, engine1_client, engine2_client)
    name, _, digest = entry["ref"].removeprefix(f"{registry}/").partition("@")
    # The export above sealed again and removed the copy it replaced: the
    # published image comes back to engine 1 by digest before the registry
    # loses it, as after any pull there.
    engine1_client.images.pull(f"{registry}/{name}", tag=digest)
    assert (
        entry["ref"]
        in engine1_client.images.get(entry["image_id"]).attrs["RepoDigests"]
    )
    request = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/{digest}", method="DELETE"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(request, timeout=10).close()

    result, (record,) = run_with(None, pushed, "-q", "--host", ENGINE2)

    # The record names what ran: the build's tag and id, no digest.
    assert record["status"] == "succeeded"
    assert record["image"]["id"] == pushed.image_id
    assert record["image"]["ref"] == pushed.tag
    assert record["image"]["digest"] is None
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"reprobox: warning: {ENGINE2}: running its own copy of this build, "
        f"{pushed.tag} ({pushed.image_id[7:19]}, the same layers), not the "
        f"published {entry['ref']}, which it cannot pull (pull of {entry['ref']} "
        "failed: "
    ), result.describe()
    assert line.endswith(f"; the record names {pushed.tag}")
    assert engine2_client.images.get(pushed.tag).id == pushed.image_id
    assert not engine_has(engine2_client, entry["image_id"])
