"""Sealing a build again with a newer run leaves no untagged copy behind.

push and export seal the build with its newest succeeded run as
`<tag>-sealed`. Sealed again after another run, that tag moved to the new
copy and the old one stayed on the engine with no tag (breaker S).
"""

from __future__ import annotations

import json
import subprocess
import sys

import docker.errors
import pytest
from conftest import REPO, TEST_PROJECTS

pytestmark = pytest.mark.integration


def _reprobox(cli, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "reprobox", *args], env=cli.env(), cwd=REPO,
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr}"
    return done


def test_a_second_seal_removes_the_copy_it_replaced(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    _reprobox(cli, "-q", "freeze", str(project))
    tag = json.loads(_reprobox(cli, "build", str(project), "--json").stdout)["tag"]
    sealed = []
    for n in (1, 2):
        _reprobox(cli, "-q", "run", str(project), "--env", "SLEEPER_SECONDS=0")
        _reprobox(cli, "-q", "export", str(project), "-o", str(tmp_path / f"{n}.tar"))
        sealed.append(docker_client.images.get(f"{tag}-sealed").id)
    assert sealed[0] != sealed[1]  # the newer run was sealed in
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(sealed[0])
    labelled = docker_client.images.list(
        all=True, filters={"label": f"org.reprobox.project={name}"}
    )
    assert [image.id for image in labelled if not image.tags] == []
