"""A push or export SIGKILLed after its seal: the next build puts <tag>-sealed
back on the copy sealed before, and leaves no copy of the project untagged."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from conftest_cross import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def untagged_of(docker_client, name: str) -> list[str]:
    """Return the ids of the project's images that no tag names."""
    found = docker_client.images.list(
        filters={"dangling": True, "label": f"org.reprobox.project={name}"}
    )
    return sorted(image.id for image in found)


def kill_after_seal(cli, args: list[str]) -> str:
    """Start reprobox with args, SIGKILL it on its `sealed run` line; return that
    line (fail when it ended before the kill)."""
    proc = cli.start(
        *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    said = ""
    try:
        for line in proc.stderr:
            if line.startswith("sealed run"):
                said = line
                proc.kill()
                break
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert said, f"`reprobox {' '.join(args)}` ended unsealed"
    assert proc.returncode == -signal.SIGKILL, f"it ended first: {said}"
    return said


@pytest.mark.parametrize(
    "command", ["export", pytest.param("push", marks=pytest.mark.registry)]
)
def test_a_share_killed_after_its_seal_leaves_no_untagged_copy(
    cli, engine_cleanup, docker_client, tmp_path, command
):
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    if command == "export":
        share = ["export", str(project), "-o", str(tmp_path / "bundle.tar")]
    else:
        share = ["push", str(project), "--registry", REGISTRY]
    pushed = f"{REGISTRY}/reprobox/{name}:{tag.rsplit(':', 1)[1]}"
    sealed = f"{tag}-sealed"
    markers = Path(project) / ".reprobox" / "pushing"
    try:
        cli.run("-q", "run", str(project), "-e", "SLEEPER_SECONDS=0")
        cli.run(*share)
        first = docker_client.images.get(sealed).id
        # A newer run: the next seal makes another copy and moves the tag.
        cli.run("-q", "run", str(project), "-e", "SLEEPER_SECONDS=0")
        said = kill_after_seal(cli, share)
        newer = docker_client.images.get(sealed).id
        assert newer != first, said

        after = cli.run("build", str(project))
        now = docker_client.images.get(sealed).id
        left = untagged_of(docker_client, name)
        registry_tag = docker_client.images.list(name=pushed)
    finally:
        for image in untagged_of(docker_client, name):  # what a failure left
            docker_client.images.remove(image)
        if docker_client.images.list(name=pushed):
            docker_client.images.remove(pushed, noprune=True)
    # As after a stopped push or export: <tag>-sealed is what was last shared.
    assert now == first, after.describe()
    assert f"pointed {sealed} back at {first[:19]}" in after.stderr, after.describe()
    assert left == [], after.describe()
    assert newer not in {i.id for i in docker_client.images.list(all=True)}
    assert list(markers.iterdir()) == []
    if command == "push":
        assert [i.id for i in registry_tag] == [first], after.describe()
