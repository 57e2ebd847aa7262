"""Sealing a build again with a newer run leaves no untagged copy behind.

push and export seal the build with its newest succeeded run as
`<tag>-sealed`. Sealed again after another run, that tag moved to the new
copy and the old one stayed on the engine with no tag (breaker S).
"""

from __future__ import annotations

# ruff: noqa: F811
import json

import docker.errors
import pytest
from conftest import TEST_PROJECTS
from conftest_cross import registry  # noqa: F401  (a fixture, taken by name)

from reprobox.share import reference_from_labels

pytestmark = pytest.mark.integration


def test_a_second_seal_removes_the_copy_it_replaced(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    sealed = []
    for n in (1, 2):
        cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", timeout=600)
        cli.run(
            "-q", "export", str(project), "-o", str(tmp_path / f"{n}.tar"), timeout=600
        )
        sealed.append(docker_client.images.get(f"{tag}-sealed").id)
    assert sealed[0] != sealed[1]  # the newer run was sealed in
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(sealed[0])
    labelled = docker_client.images.list(
        all=True, filters={"label": f"org.reprobox.project={name}"}
    )
    assert [image.id for image in labelled if not image.tags] == []


@pytest.mark.registry
def test_push_seals_the_newest_run_even_one_made_on_the_sealed_copy(
    cli, engine_cleanup, docker_client, registry, tmp_path
):
    # AK 2: after a push, `run` takes the published sealed copy; a second push
    # sealed the first run again, since only runs of the unsealed build's id
    # were counted.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", timeout=600)
    cli.run("-q", "push", str(project), "--registry", registry, timeout=600)
    (entry,) = json.loads((project / ".reprobox" / "manifest.json").read_text())[
        "published"
    ]
    cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", timeout=600)
    runs = sorted((project / ".reprobox" / "runs").iterdir())
    second = json.loads((runs[-1] / "record.json").read_text())
    assert second["image"]["id"] == entry["image_id"]  # it ran the sealed copy
    cli.run("-q", "push", str(project), "--registry", registry, timeout=600)
    (again,) = json.loads((project / ".reprobox" / "manifest.json").read_text())[
        "published"
    ]
    assert again["reference_run"] == second["run_id"]
    labels = docker_client.images.get(again["image_id"]).labels
    assert reference_from_labels(labels)["run_id"] == second["run_id"]


def test_export_never_seals_a_run_frozen_with_other_tolerances(
    cli, engine_cleanup, docker_client, tmp_path
):
    # AM 1: a refreeze that changes only tolerances keeps the layers; the run
    # made under it was sealed into the image of the other manifest.
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    toml = project / "reprobox.toml"
    plain = toml.read_text()

    def freeze_and_run(tolerance: str) -> str:
        toml.write_text(
            plain + f"\n[metrics]\ntolerances = {{ acc = {{ abs = {tolerance} }} }}\n"
        )
        cli.run("-q", "freeze", str(project), timeout=600)
        cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", timeout=600)
        return sorted((project / ".reprobox" / "runs").iterdir())[-1].name

    ours = freeze_and_run("0.005")
    theirs = freeze_and_run("0.01")  # newer, the same layers, another manifest
    toml.write_text(plain + "\n[metrics]\ntolerances = { acc = { abs = 0.005 } }\n")
    cli.run("-q", "freeze", str(project), timeout=600)
    done = cli.run(
        "export", str(project), "-o", str(tmp_path / "b.tar"), "--json", timeout=600
    )
    exported = json.loads(done.stdout)
    labels = docker_client.images.get(exported["image_id"]).labels
    assert reference_from_labels(labels)["run_id"] == ours
    assert theirs != ours


def test_importing_an_older_bundle_leaves_the_newer_sealed_copy_its_tag(
    cli, engine_cleanup, docker_client, tmp_path
):
    # AN 1: export sealed a newer run as <tag>-sealed; importing the older
    # bundle moved <tag>-sealed onto its image and left the newer copy <none>.
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    for n in (1, 2):
        cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", timeout=600)
        cli.run(
            "-q", "export", str(project), "-o", str(tmp_path / f"{n}.tar"), timeout=600
        )
    newer = docker_client.images.get(f"{tag}-sealed").id
    done = cli.run("import", str(tmp_path / "1.tar"), "--json", timeout=600)
    imported = json.loads(done.stdout)
    older = imported["image_id"]
    assert older != newer
    assert imported["tag"] == f"{tag}-sealed-{older[7:19]}"
    assert docker_client.images.get(f"{tag}-sealed").id == newer
    assert docker_client.images.get(imported["tag"]).id == older
    labelled = docker_client.images.list(
        all=True, filters={"label": f"org.reprobox.project={name}"}
    )
    assert [image.id for image in labelled if not image.tags] == []
    # The tag it got is one verify takes, and it reruns the older copy (the
    # sleeper records no metric, so the verdict itself is NOT verified).
    cli.run(
        "verify",
        imported["tag"],
        "--runs-dir",
        str(tmp_path / "v"),
        timeout=600,
        check=False,
    )
    ran = [json.loads(p.read_text()) for p in (tmp_path / "v").glob("*/record.json")]
    assert [r["image"]["id"] for r in ran] == [older]


@pytest.mark.registry
def test_a_freeze_that_changes_the_image_says_it_drops_published(
    cli, engine_cleanup, registry, tmp_path
):
    # AN 2: a freeze that changed the build dropped `published` without a
    # word, and freezing back to the pushed build did not list it again.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    toml = project / "reprobox.toml"
    pushed = cli.run("-q", "push", str(project), "--registry", registry, timeout=600)
    # AP 10: said only as progress, which -q hides: nothing shared is verifiable.
    assert pushed.stderr.startswith(
        "reprobox: warning: no succeeded run of this image yet: sharing it without "
        "a reference record"
    ), pushed.stderr
    manifest_path = project / ".reprobox" / "manifest.json"
    (entry,) = json.loads(manifest_path.read_text())["published"]
    assert entry["reference_run"] is None
    toml.write_text(toml.read_text().replace("seed = 1", "seed = 2"))
    changed = cli.run("-q", "freeze", str(project), timeout=600)
    assert "published" not in json.loads(manifest_path.read_text())
    said = changed.stderr
    assert said.startswith("reprobox: warning: this freeze changed the image"), said
    assert entry["ref"] in said and "push this build" in said
    # A freeze that keeps the image (the same sources) has nothing to drop.
    again = cli.run("-q", "freeze", str(project), timeout=600)
    assert "warning" not in again.stderr
