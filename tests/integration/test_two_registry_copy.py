"""A sealed copy pushed to two registries, once its last tag moves on, is
removed, not kept `<none>` under its two registries' digests (brk round 46)."""

from __future__ import annotations

import contextlib
import secrets

import docker.errors
import pytest
from conftest_cross import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.registry, pytest.mark.timeout(900)]


def untagged_of(docker_client, name: str) -> list[str]:
    """Return the ids of the project's images that no tag names."""
    found = docker_client.images.list(
        all=True, filters={"dangling": True, "label": f"org.reprobox.project={name}"}
    )
    return sorted(image.id for image in found)


def test_a_copy_pushed_to_two_registries_goes_once_untagged(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    first, second = (f"{REGISTRY}/h29a-{secrets.token_hex(4)}" for _ in range(2))
    runs = project / ".reprobox" / "runs"

    def run() -> None:
        cli.run("-q", "run", str(project), "-e", "SLEEPER_SECONDS=0")

    def push(registry: str, *more: str) -> str:
        cli.run("-q", "push", str(project), "--registry", registry, *more)
        return docker_client.images.get(f"{registry}/{tag}").id

    try:
        run()
        push(first)
        first_run = sorted(runs.iterdir())[0]
        run()
        both = push(second)  # S2: the second registry's name and <tag>-sealed
        assert push(first) == both  # reused: now under both registries
        assert push(first, "--reference", str(first_run)) != both
        run()
        push(second)  # takes S2's last tag
        left = untagged_of(docker_client, name)
        present = {i.id for i in docker_client.images.list(all=True)}
    finally:
        for image in untagged_of(docker_client, name):  # what a failure left
            docker_client.images.remove(image, force=True)
        for registry in (first, second):
            for image in docker_client.images.list(name=f"{registry}/reprobox/{name}"):
                for ref in image.tags:  # another tag may hold it: engine_cleanup's
                    with contextlib.suppress(docker.errors.APIError):
                        docker_client.images.remove(ref, noprune=False)
    assert left == []
    assert both not in present
