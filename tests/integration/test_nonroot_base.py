"""A base image that ends on a non-root user, as every image reprobox builds does.

The generated Dockerfile runs its build steps as root whatever user the base
ends on, and trains as uid 1000.
"""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture
def nonroot_base(cli, docker_client):
    """Yield a base image, unique to this test, that ends on `USER 1000`."""
    tag = f"reprobox-test-nonroot-{secrets.token_hex(3)}:1"
    dockerfile = f"FROM {cli.base_image}\nUSER 1000\n"
    docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True
    )
    assert docker_client.images.get(tag).attrs["Config"]["User"] == "1000"
    yield tag
    docker_client.images.remove(tag, force=True)


def sleeper_on(cli, engine_cleanup, tmp_path: Path, base: str) -> Path:
    """Copy the sleeper project onto base; return its folder."""
    from conftest import TEST_PROJECTS

    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    config = project / "reprobox.toml"
    text = config.read_text(encoding="utf-8")
    old = f'base_image = "{cli.base_image}"'
    assert old in text
    config.write_text(text.replace(old, f'base_image = "{base}"'), encoding="utf-8")
    return project


def test_a_non_root_base_builds_and_trains_as_uid_1000(
    cli, docker_client, engine_cleanup, nonroot_base, tmp_path
):
    project = sleeper_on(cli, engine_cleanup, tmp_path, nonroot_base)
    cli.run("-q", "freeze", str(project))
    built = json.loads(cli.run("-q", "build", str(project), "--json").stdout)
    image = docker_client.images.get(built["tag"])
    assert image.attrs["Config"]["User"] == "1000:1000"

    ran = cli.run(
        "run", str(project), "--env", "SLEEPER_SECONDS=0", "--json", timeout=300
    )
    record = json.loads(ran.stdout)
    assert record["status"] == "succeeded", ran.describe()
    log = project / ".reprobox" / "runs" / record["run_id"] / "container.log"
    assert "sleeper done" in log.read_text(encoding="utf-8")
