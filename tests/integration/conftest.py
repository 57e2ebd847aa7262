"""Shared fixtures for tests that drive the real reprobox CLI against a real engine.

Every project a test makes gets a unique name (`<base>-it-<hex>`), so parallel
sessions and leftovers of an earlier one cannot collide; a finaliser removes
every container (by the project label) and image (by tag) those names made.
Outside CI a missing engine or base image skips; with CI=true it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest_cross import BASE_IMAGE, ENGINE1, engine_client

ENGINE_URL = ENGINE1
PROJECT_LABEL = "org.reprobox.project"
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
# Read once at import: tests/conftest.py strips PIP_CERT from os.environ per test,
# but the CLI subprocesses need it to reach PyPI through this host's proxy.
HOST_ENV = dict(os.environ)


def clean_env() -> dict[str, str]:
    """Return the host env minus DOCKER_*, UV_* and PIP_* (PIP_CERT kept)."""
    env = {}
    for key, value in HOST_ENV.items():
        if key.startswith(("DOCKER_", "UV_", "BUILDKIT_")):
            continue
        if key.startswith("PIP_") and key != "PIP_CERT":
            continue
        env[key] = value
    env["PYTHONUNBUFFERED"] = "1"
    return env


def labelled_containers(client, name: str) -> list:
    """Return every container (any state) labelled with project name.

    The SDK lists ids, then inspects each: a container removed in between (a
    run's short-lived one, or one reprobox is cleaning up) is a 404 there, not
    a fault of the test; list again.
    """
    import docker.errors

    for _ in range(50):
        try:
            return client.containers.list(
                all=True, filters={"label": f"{PROJECT_LABEL}={name}"}
            )
        except docker.errors.NotFound:
            time.sleep(0.05)
    pytest.fail(f"containers of {name} kept vanishing while listed")


@dataclass
class CliResult:
    """One finished `python -m reprobox` call."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        """Return the call and its output, for assertion messages."""
        return (
            f"$ {' '.join(self.argv)}\nexit {self.returncode} "
            f"after {self.seconds:.1f}s\n--- stdout\n{self.stdout[-3000:]}"
            f"\n--- stderr\n{self.stderr[-3000:]}"
        )


def reprobox_argv(*args: str) -> list[str]:
    """Return the argv that runs the reprobox CLI under this Python."""
    return [sys.executable, "-m", "reprobox", *args]


def start_reprobox(*args: str, **popen_kwargs) -> subprocess.Popen:
    """Start the reprobox CLI with a clean env; return the running process."""
    return subprocess.Popen(
        reprobox_argv(*args),
        env=clean_env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        **popen_kwargs,
    )


def run_reprobox(*args: str, timeout: float = 900, check: bool = True) -> CliResult:
    """Run the reprobox CLI with a clean env; fail the test if check and it fails."""
    argv = reprobox_argv(*args)
    started = time.monotonic()
    done = subprocess.run(
        argv,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        check=False,
    )
    result = CliResult(
        argv, done.returncode, done.stdout, done.stderr, time.monotonic() - started
    )
    if check and result.returncode != 0:
        pytest.fail(result.describe())
    return result


def copy_project(source: Path, dest_root: Path, base_name: str) -> tuple[Path, str]:
    """Copy a project folder and give it a unique name; return (path, name)."""
    name = f"{base_name}-it-{secrets.token_hex(3)}"
    dest = dest_root / name
    shutil.copytree(
        source, dest, ignore=shutil.ignore_patterns(".reprobox", "__pycache__")
    )
    config = dest / "reprobox.toml"
    text = config.read_text()
    old = f'name = "{base_name}"'
    assert old in text, f"{config} has no {old}"
    config.write_text(text.replace(old, f'name = "{name}"', 1))
    return dest, name


class Cleanup:
    """The project names tests made, and their removal from the engine."""

    def __init__(self, client):
        self.client = client
        self.names: list[str] = []

    def add(self, name: str) -> str:
        """Remember a project name for removal; return it."""
        self.names.append(name)
        return name

    def containers(self, name: str) -> list:
        """Return every container (any state) labelled with project name."""
        return labelled_containers(self.client, name)

    def remove_all(self) -> list[str]:
        """Remove the projects' containers, then their images; return problems."""
        import docker.errors

        problems = []
        for name in self.names:
            for container in self.containers(name):
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    pass
                except docker.errors.DockerException as exc:
                    problems.append(f"container {container.id[:12]}: {exc}")
            # The listing's summaries: images.list() inspects each image and
            # fails on one another process removed meanwhile.
            for image in self.client.api.images(name=f"reprobox/{name}"):
                for tag in image.get("RepoTags") or []:
                    try:
                        self.client.images.remove(tag)
                    except docker.errors.ImageNotFound:
                        pass
                    except docker.errors.DockerException as exc:
                        problems.append(f"image {tag}: {exc}")
        return problems


@pytest.fixture(scope="session")
def docker_client():
    """Return a docker SDK client on the local engine, or skip/fail."""
    client = engine_client(ENGINE_URL)
    yield client
    client.close()


@pytest.fixture(scope="session")
def engine_cleanup(docker_client):
    """Yield the session's Cleanup; remove all it names at the end."""
    cleanup = Cleanup(docker_client)
    yield cleanup
    problems = cleanup.remove_all()
    assert not problems, "cleanup failed: " + "; ".join(problems)


@dataclass
class BuiltProject:
    """A frozen and built project copy."""

    path: Path
    name: str
    tag: str
    image_id: str
    freeze: CliResult
    build: CliResult


def freeze_and_build(path: Path) -> BuiltProject:
    """Freeze and build a project through the CLI; return what was made."""
    import json

    froze = run_reprobox("freeze", str(path))
    built = run_reprobox("build", str(path), "--json")
    info = json.loads(built.stdout)
    name = path.name
    return BuiltProject(path, name, info["tag"], info["image_id"], froze, built)


@pytest.fixture(scope="session")
def digits_project(tmp_path_factory, engine_cleanup) -> BuiltProject:
    """Copy examples/digits under a unique name, freeze and build it once."""
    path, name = copy_project(
        EXAMPLES / "digits", tmp_path_factory.mktemp("digits"), "digits"
    )
    engine_cleanup.add(name)
    project = freeze_and_build(path)
    print(
        f"\n[digits] freeze {project.freeze.seconds:.1f}s, "
        f"build {project.build.seconds:.1f}s -> {project.tag}"
    )
    return project


@pytest.fixture(scope="session")
def test_project(tmp_path_factory, engine_cleanup):
    """Return a factory: copy tests/integration/projects/<base>, freeze, build."""

    def make(base_name: str) -> BuiltProject:
        path, name = copy_project(
            TEST_PROJECTS / base_name, tmp_path_factory.mktemp(base_name), base_name
        )
        engine_cleanup.add(name)
        return freeze_and_build(path)

    return make


def frozen_sleeper(
    tmp_path: Path, engine_cleanup, *, build: bool = False
) -> tuple[Path, str, str | None]:
    """Copy the sleeper project under a unique name and freeze it (-q); with
    build, build it too. Return (path, name, the build's tag or None)."""
    import json

    path, name = copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    run_reprobox("-q", "freeze", str(path), timeout=600)
    if not build:
        return path, name, None
    built = run_reprobox("build", str(path), "--json", timeout=600)
    return path, name, json.loads(built.stdout)["tag"]


class ReproboxCli:
    """The CLI helpers, handed to test modules as the `cli` fixture."""

    run = staticmethod(run_reprobox)
    start = staticmethod(start_reprobox)
    env = staticmethod(clean_env)
    copy_project = staticmethod(copy_project)
    frozen_sleeper = staticmethod(frozen_sleeper)
    base_image = BASE_IMAGE
    host_env = HOST_ENV


@pytest.fixture(scope="session")
def cli() -> ReproboxCli:
    """Return the helpers that drive `python -m reprobox` in a clean env."""
    return ReproboxCli()
