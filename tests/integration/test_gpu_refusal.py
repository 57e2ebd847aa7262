"""`reprobox run --gpus all` where no GPU can be had.

On a machine without an NVIDIA driver, or on an engine without the NVIDIA
container runtime, the run must stop with one clear line before anything
reaches the engine: no image is built, no container is created and no run
record is written, so nothing is left behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE2,
    engine1_client,
    engine2_client,
    two_engine_cleanup,
)

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


def _frozen_project(tmp_path, cli, name: str):
    project = tmp_path / name
    project.mkdir()
    (project / "reprobox.toml").write_text(
        f'name = "{name}"\ncommand = "python train.py"\npython = "3.11"\n'
        f'base_image = "{cli.base_image}"\n'
    )
    (project / "requirements.txt").write_text("six==1.17.0\n")
    (project / "train.py").write_text("import six\nprint(six.__version__)\n")
    cli.run("freeze", str(project), timeout=300)
    return project


def _no_runs(project) -> bool:
    runs = project / ".reprobox" / "runs"
    return not runs.exists() or not any(runs.iterdir())


def test_gpus_all_without_a_driver_leaves_nothing_behind(
    tmp_path, cli, docker_client, engine_cleanup
):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi; the test is for one without")
    name = engine_cleanup.add(f"gpu-refusal-it-{secrets.token_hex(3)}")
    project = _frozen_project(tmp_path, cli, name)

    result = cli.run("run", str(project), "--gpus", "all", check=False, timeout=300)

    assert result.returncode == 2, result.describe()
    assert result.stderr.strip().splitlines()[-1] == EXPECTED, result.describe()
    assert "Traceback" not in result.stderr
    assert _containers_labelled(name) == []
    assert docker_client.images.list(name=f"reprobox/{name}") == []
    assert _no_runs(project)


def test_gpus_on_an_engine_without_the_nvidia_runtime_leaves_nothing_behind(
    tmp_path, cli, engine1_client, engine2_client, two_engine_cleanup
):
    if any("nvidia" in name for name in engine2_client.info().get("Runtimes") or {}):
        pytest.skip(f"{ENGINE2} has the NVIDIA runtime; the test is for one without")
    name = f"gpu-engine-it-{secrets.token_hex(3)}"
    two_engine_cleanup.names.append(name)
    project = _frozen_project(tmp_path, cli, name)

    result = cli.run(
        "run",
        str(project),
        "--gpus",
        "all",
        "--host",
        ENGINE2,
        check=False,
        timeout=300,
    )

    assert result.returncode == 2, result.describe()
    assert result.stderr.strip().splitlines()[-1] == (
        f"reprobox: error: --gpus all: the Docker engine at {ENGINE2} has no NVIDIA "
        "container runtime (run without --gpus, or on an engine with the NVIDIA "
        "container runtime: `nvidia-ctk runtime configure --runtime=docker`, then "
        "restart dockerd)"
    ), result.describe()
    assert "Traceback" not in result.stderr
    assert "built " not in result.stderr
    for client in (engine1_client, engine2_client):
        assert (
            client.containers.list(
                all=True, filters={"label": f"{PROJECT_LABEL}={name}"}
            )
            == []
        )
        assert client.images.list(name=f"reprobox/{name}") == []
    assert _no_runs(project)
