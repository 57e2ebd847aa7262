"""reprobox sweeps only the run containers it started, never another of the image.

Any container of a project's image inherits its project label: one a user
started by hand with `docker run`, or the builder's while a push seals the
image. The sweep at the start of run, build and push took them for
containers of interrupted runs and removed them (breaker AO 2).
"""

from __future__ import annotations

import contextlib
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


def test_a_container_of_the_image_not_started_by_a_run_is_left_alone(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    _reprobox(cli, "-q", "freeze", str(project))
    tag = json.loads(_reprobox(cli, "build", str(project), "--json").stdout)["tag"]
    by_hand = docker_client.containers.create(tag, command=["true"])
    try:
        assert by_hand.labels["org.reprobox.project"] == name
        for command in (["build"], ["run", "--env", "SLEEPER_SECONDS=0"]):
            done = _reprobox(cli, command[0], str(project), *command[1:])
            assert "interrupted run" not in done.stderr
            by_hand.reload()  # raises NotFound once the sweep removed it
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            by_hand.remove(force=True)
