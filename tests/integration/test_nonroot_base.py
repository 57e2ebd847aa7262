"""A base image that ends on a non-root user, as every image reprobox builds does.

The generated Dockerfile runs its build steps as root whatever user the base
ends on, and trains as uid 1000. A Dockerfile frozen before it said so builds
as the base's user, is denied /opt/venv, and is named in one line (exit 2).
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from pathlib import Path

import pytest
from conftest import TEST_PROJECTS

from reprobox.atomic import dump_json
from reprobox.seals import seal_manifest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXIT_USAGE = 2


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


def test_a_dockerfile_frozen_without_user_root_says_freeze_again(
    cli, docker_client, engine_cleanup, nonroot_base, tmp_path
):
    project = sleeper_on(cli, engine_cleanup, tmp_path, nonroot_base)
    cli.run("-q", "freeze", str(project))
    # What a reprobox before `USER 0:0` froze: the same file without those lines.
    state = project / ".reprobox"
    dockerfile = state / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    start = text.index("# The build steps run as root")
    end = text.index("USER 0:0\n", start) + len("USER 0:0\n")
    dockerfile.write_text(text[:start] + text[end:], encoding="utf-8")
    manifest = json.loads((state / "manifest.json").read_text(encoding="utf-8"))
    manifest["dockerfile_sha256"] = hashlib.sha256(dockerfile.read_bytes()).hexdigest()
    (state / "manifest.json").write_text(dump_json(seal_manifest(manifest)))

    result = cli.run("-q", "build", str(project), check=False)
    assert result.returncode == EXIT_USAGE, result.describe()
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.describe()
    assert lines[0].startswith(
        f"reprobox: error: reprobox.toml: base_image {nonroot_base} ends on a user "
        "who may not write where the build installs "
        "(Error: [Errno 13] Permission denied: '/opt/venv')"
    ), result.describe()
    assert "freeze again" in lines[0]
    assert "Traceback" not in result.stderr
    log = (state / "build.log").read_text(encoding="utf-8")
    assert "Permission denied: '/opt/venv'" in log

    # Freezing again writes the Dockerfile that builds as root.
    cli.run("-q", "freeze", str(project))
    cli.run("-q", "build", str(project))
