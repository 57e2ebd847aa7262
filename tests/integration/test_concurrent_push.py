"""Two pushes (or a push and an export) of one project at once share one sealed
image, and the manifest names the one pushed.

Both pushes sealed the build, each making its own copy, and moved the same
`<tag>-sealed` and registry tags: one copy was left with no tag, the second
push was refused as if a freeze were writing, and the manifest could name one
copy while its digest was the other's (breaker).
"""

from __future__ import annotations

import contextlib
import json
import subprocess

import docker.errors
import pytest
from conftest import TEST_PROJECTS

# The registry fixture comes from conftest_cross by import; tests take it by name.
# ruff: noqa: F811
from conftest_cross import registry  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.registry]

PROJECT_LABEL = "org.reprobox.project"


def _labelled(client, name: str) -> list:
    return client.images.list(all=True, filters={"label": f"{PROJECT_LABEL}={name}"})


def _remove_labelled(client, name: str) -> None:
    """Remove every image of the project, sealed copies (the newest) first."""
    images = sorted(
        _labelled(client, name), key=lambda i: i.attrs.get("Created", ""), reverse=True
    )
    for image in images:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(image.id, force=True)


@pytest.mark.parametrize("other", ["push", "export"])
def test_a_push_beside_another_share_publishes_the_image_it_names(
    cli, docker_client, registry, tmp_path, other
):
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    try:
        cli.run("-q", "freeze", str(project))
        tag = json.loads(cli.run("build", str(project), "--json").stdout)["tag"]
        cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0")

        push = ("-q", "push", str(project), "--registry", registry)
        second = {
            "push": push,
            "export": ("-q", "export", str(project), "-o", str(tmp_path / "b.tar")),
        }[other]
        started = [
            cli.start(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for argv in (push, second)
        ]
        outputs = [p.communicate(timeout=600) for p in started]
        for command, (out, err) in zip(started, outputs, strict=True):
            assert command.returncode == 0, f"exit {command.returncode}\n{out}\n{err}"
            assert "freeze" not in err, err

        sealed = docker_client.images.get(f"{tag}-sealed")
        manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
        (entry,) = manifest["published"]
        assert entry["image_id"] == sealed.id
        assert entry["ref"] in sealed.attrs["RepoDigests"]
        untagged = [i.id for i in _labelled(docker_client, name) if not i.tags]
        assert untagged == []
    finally:
        _remove_labelled(docker_client, name)
