"""Facts about the freezing machine do not make another image.

`OMP_NUM_THREADS=3 reprobox freeze` in a built, pushed project changed only
the manifest's host facts, yet gave a new tag, a new build and a new image id,
and the plain freeze after it dropped `published`, so runs no longer used the
pushed image.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import reprobox_argv

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    engine1_client,
    engine2_client,
    make_project,
    registry,
    run_records,
    two_engine_cleanup,
)

pytestmark = [pytest.mark.integration, pytest.mark.registry]


def _freeze(cli, project, **env: str) -> None:
    done = subprocess.run(
        reprobox_argv("-q", "freeze", str(project.path)),
        env={**cli.env(), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _build(cli, project) -> dict:
    return json.loads(cli.run("build", str(project.path), "--json").stdout)


def test_the_freezing_shells_threads_keep_the_tag_image_and_publication(
    cli, two_engine_cleanup, registry, tmp_path
):
    project = make_project(cli, two_engine_cleanup, tmp_path, "hostfacts")
    _, (first,) = run_records(cli, project)
    cli.run("-q", "push", str(project.path), "--registry", f"{registry}/hostfacts")
    published = project.manifest()["published"]
    sealed_id = published[0]["image_id"]

    _freeze(cli, project, OMP_NUM_THREADS="3")
    manifest = project.manifest()
    assert manifest["host"]["env"] == {"OMP_NUM_THREADS": "3"}
    assert manifest["published"] == published
    assert _build(cli, project) == {
        "built": False,
        "image_id": project.image_id,
        "schema_version": 1,
        "tag": project.tag,
    }
    _, (threads3,) = run_records(cli, project)

    _freeze(cli, project)
    manifest = project.manifest()
    assert manifest["host"]["env"] == {}
    assert manifest["published"] == published
    assert _build(cli, project)["tag"] == project.tag
    _, (plain,) = run_records(cli, project)

    # Both runs after the push ran the pushed (sealed) image, by one manifest.
    assert threads3["image"]["id"] == plain["image"]["id"] == sealed_id
    assert first["manifest_sha256"] == threads3["manifest_sha256"]
    assert threads3["manifest_sha256"] == plain["manifest_sha256"]
    compared = cli.run(
        "compare",
        str(project.runs / first["run_id"]),
        str(project.runs / threads3["run_id"]),
        check=False,
    )
    assert compared.returncode == 0, compared.describe()
    assert "manifest_sha256" not in compared.stdout
