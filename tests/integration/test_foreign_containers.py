"""reprobox sweeps only the run containers it started, never another of the image.

Any container of a project's image inherits its project label: one a user
started by hand with `docker run`, or the builder's while a push seals the
image. The sweep at the start of run, build and push took them for
containers of interrupted runs and removed them (breaker AO 2).
"""

from __future__ import annotations

import contextlib

import docker.errors
import pytest

pytestmark = pytest.mark.integration


def test_a_container_of_the_image_not_started_by_a_run_is_left_alone(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    by_hand = docker_client.containers.create(tag, command=["true"])
    try:
        assert by_hand.labels["org.reprobox.project"] == name
        for command in (["build"], ["run", "--env", "SLEEPER_SECONDS=0"]):
            done = cli.run(command[0], str(project), *command[1:], timeout=600)
            assert "interrupted run" not in done.stderr
            by_hand.reload()  # raises NotFound once the sweep removed it
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            by_hand.remove(force=True)
