"""Import on an engine that built the project itself leaves no image untagged."""

from __future__ import annotations

import json

import pytest

# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE2,
    engine1_client,
    engine2_client,
    make_project,
    run_records,
    two_engine_cleanup,
)

pytestmark = [pytest.mark.integration, pytest.mark.second_engine]


def test_import_keeps_the_engines_own_build_tagged(
    cli, two_engine_cleanup, engine2_client, tmp_path
):
    # brk: the build tag moved to the sealed image, the build was left <none>.
    project = make_project(cli, two_engine_cleanup, tmp_path, "beside")
    _, (on_engine2,) = run_records(cli, project, "--host", ENGINE2)
    built_there = on_engine2["image"]["id"]
    run_records(cli, project)  # the reference run export seals in
    bundle = tmp_path / "b.tar"
    cli.run("export", str(project.path), "-o", str(bundle))

    imported = cli.run("import", "--host", ENGINE2, str(bundle), "--json")
    data = json.loads(imported.stdout)
    assert data["tag"] == f"{project.tag}-sealed"
    assert engine2_client.images.get(project.tag).id == built_there
    assert engine2_client.images.get(f"{project.tag}-sealed").id == data["image_id"]
    assert data["image_id"] != built_there
    untagged = [
        image.id
        for image in engine2_client.images.list(
            filters={"dangling": True, "label": f"org.reprobox.project={project.name}"}
        )
    ]
    assert untagged == []

    _, (again,) = run_records(cli, project, "--host", ENGINE2)
    assert again["image"]["id"] == built_there
    assert again["image"]["layers"] == on_engine2["image"]["layers"]
