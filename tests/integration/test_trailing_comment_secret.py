"""A password in a comment after a requirement never reaches the image.

`six==1.16.0  # password=X` was copied into /app/requirements.txt while
`# password=X` on a line of its own was refused: freeze now refuses both,
before it writes anything, in one line naming the file and the line.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
PROJECT_LABEL = "org.reprobox.project"


def test_freeze_refuses_a_password_in_a_requirements_trailing_comment(
    cli, engine_cleanup, docker_client, tmp_path
):
    # Random letters and digits, as a password is: fake, unique to this run.
    password = "Pw9" + secrets.token_hex(4) + "Xk7" + secrets.token_hex(4)
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    requirements = path / "requirements.txt"
    requirements.write_text(f"six==1.16.0 # password={password}\n")

    refused = cli.run("freeze", str(path), check=False, timeout=600)

    assert refused.returncode == 2, refused.describe()
    # One progress line, then the error in one line with its fix.
    errors = [x for x in refused.stderr.splitlines() if x.startswith("reprobox:")]
    assert errors == [
        f"reprobox: error: {requirements}:1: holds a credential (a secret "
        "setting), and this file is copied into the image (remove it (pass "
        "secrets at run time with reprobox run --env NAME), or list the file "
        "in .reproboxignore)"
    ], refused.describe()
    assert len(refused.stderr.strip().splitlines()) == 2, refused.describe()
    assert "Traceback" not in refused.stderr
    assert password not in refused.stdout + refused.stderr
    assert not (path / ".reprobox" / "manifest.json").exists()
    assert not (path / ".reprobox" / "requirements.lock").exists()
    images = docker_client.images.list(filters={"label": f"{PROJECT_LABEL}={name}"})
    assert images == []
