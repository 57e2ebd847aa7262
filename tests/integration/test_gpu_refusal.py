"""`reprobox run --gpus all` on a machine without an NVIDIA driver.

The run must stop with one clear line before anything reaches the engine: no
image is built and no container is created, so nothing is left behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.integration

EXPECTED = (
    "reprobox: error: --gpus all: no NVIDIA driver on this machine "
    "(nvidia-smi not found); run without --gpus or on a GPU host"
)
PROJECT_LABEL = "org.reprobox.project"


def _containers_labelled(name: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    done = subprocess.run(
        [
            shutil.which("docker") or "docker",
            "ps",
            "-a",
            "-q",
            "--filter",
            f"label={PROJECT_LABEL}={name}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    return done.stdout.split()


def test_gpus_all_without_a_driver_leaves_nothing_behind(
    tmp_path, cli, docker_client, engine_cleanup
):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi; the test is for one without")
    name = engine_cleanup.add(f"gpu-refusal-it-{secrets.token_hex(3)}")
    project = tmp_path / name
    project.mkdir()
    (project / "reprobox.toml").write_text(
        f'name = "{name}"\ncommand = "python train.py"\npython = "3.11"\n'
        f'base_image = "{cli.base_image}"\n'
    )
    (project / "requirements.txt").write_text("six==1.17.0\n")
    (project / "train.py").write_text("import six\nprint(six.__version__)\n")
    cli.run("freeze", str(project), timeout=300)

    result = cli.run("run", str(project), "--gpus", "all", check=False, timeout=300)

    assert result.returncode == 2, result.describe()
    assert result.stderr.strip().splitlines()[-1] == EXPECTED, result.describe()
    assert "Traceback" not in result.stderr
    assert _containers_labelled(name) == []
    assert docker_client.images.list(name=f"reprobox/{name}") == []
    assert not (project / ".reprobox" / "runs").exists() or not any(
        (project / ".reprobox" / "runs").iterdir()
    )
