"""Fixtures and helpers for the cross-machine and sharing tests (two engines).

The second engine (scripts/second-engine) stands in for another machine; the
loopback registry (scripts/setup-host) for a team's registry. Outside CI a
missing one skips its tests; with CI=true it fails them. Every project gets a
unique name, and a finaliser removes its containers and images from BOTH
engines (registry tags stay, under repositories no other run uses).

Test modules import the fixtures they need from here by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors
import pytest

ENGINE1 = "unix:///var/run/docker.sock"
ENGINE2 = "unix:///run/reprobox-engine2/docker.sock"
REGISTRY = "127.0.0.1:5000"
BASE_IMAGE = "reprobox-base:bookworm-py3.11"
PROJECT_LABEL = "org.reprobox.project"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHIPPED = re.compile(r"image (present|registry|stream) \(([0-9.]+)s\)")


def missing(reason: str) -> None:
    """Skip, or fail under CI=true, where every engine and the registry must be up."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: scripts/setup-host must have set it up)")
    pytest.skip(reason)


def engine_client(url: str):
    """Return a docker SDK client on the engine at url, with the base image."""
    try:
        import docker
        import docker.errors
    except ImportError:
        missing("the docker SDK is not installed (pip install -e '.[test]')")
    try:
        client = docker.DockerClient(base_url=url, timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        missing(f"no Docker engine answers at {url}: {exc}")
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        missing(f"{url} has no base image {BASE_IMAGE} (scripts/setup-host)")
    return client


@pytest.fixture(scope="session")
def engine1_client():
    """Return a docker client on the host engine, or skip/fail."""
    client = engine_client(ENGINE1)
    yield client
    client.close()


@pytest.fixture(scope="session")
def engine2_client(engine1_client):
    """Return a docker client on the second engine, or skip/fail."""
    client = engine_client(ENGINE2)
    if client.info()["ID"] == engine1_client.info()["ID"]:
        pytest.fail(f"{ENGINE2} is the host engine, not a second one")
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry() -> str:
    """Return the loopback registry's address, or skip/fail when it is down."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        opener.open(f"http://{REGISTRY}/v2/", timeout=10).close()
    except (urllib.error.URLError, OSError) as exc:
        missing(f"no registry answers on http://{REGISTRY}/v2/: {exc}")
    return REGISTRY


@dataclass
class TwoEngineCleanup:
    """Project names and image ids the tests made, removed from both engines."""

    clients: list
    names: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)

    def ours(self, image: dict) -> bool:
        """Tell whether an image (the engine's summary of it, as the images
        listing gives it) is tagged or pulled under one of our projects."""
        repos = [tag.rsplit(":", 1)[0] for tag in image.get("RepoTags") or []]
        repos += [ref.split("@")[0] for ref in image.get("RepoDigests") or []]
        return image["Id"] in self.image_ids or any(
            repo.endswith(f"reprobox/{name}") for repo in repos for name in self.names
        )

    def remove_all(self) -> list[str]:
        """Remove containers (by project label), then images; return problems."""
        import docker.errors

        problems = []
        for client in self.clients:
            for name in self.names:
                for container in client.containers.list(
                    all=True, filters={"label": f"{PROJECT_LABEL}={name}"}
                ):
                    try:
                        container.remove(force=True)
                    except docker.errors.NotFound:
                        pass
                    except docker.errors.DockerException as exc:
                        problems.append(f"container {container.id[:12]}: {exc}")
            # Derived images first: an image with children cannot be removed.
            # The listing's own summaries, not images.list(), which inspects
            # each image in turn and fails on one removed meanwhile by anyone.
            for image in sorted(
                (i for i in client.api.images(all=True) if self.ours(i)),
                key=lambda i: i.get("Created", 0),
                reverse=True,
            ):
                try:
                    client.images.remove(image["Id"], force=True)
                except docker.errors.ImageNotFound:
                    pass
                except docker.errors.DockerException as exc:
                    problems.append(f"image {image['Id'][:19]}: {exc}")
        return problems


@pytest.fixture(scope="session")
def two_engine_cleanup(engine1_client, engine2_client):
    """Yield the session's cleanup; remove all it names from both engines at the end."""
    cleanup = TwoEngineCleanup([engine1_client, engine2_client])
    yield cleanup
    problems = cleanup.remove_all()
    assert not problems, "cleanup failed: " + "; ".join(problems)


@dataclass
class Project:
    """A frozen and built copy of a project under a unique name."""

    path: Path
    name: str
    tag: str
    image_id: str

    @property
    def runs(self) -> Path:
        """Return the project's runs folder."""
        return self.path / ".reprobox" / "runs"

    def manifest(self) -> dict:
        """Return the project's manifest.json as it is now."""
        return json.loads((self.path / ".reprobox" / "manifest.json").read_text())


def make_project(
    cli,
    cleanup: TwoEngineCleanup,
    dest_root: Path,
    base: str,
    files: dict[str, str] | None = None,
) -> Project:
    """Copy examples/digits (then overlay files) as `base-x-<hex>`; freeze and build."""
    name = f"{base}-x-{secrets.token_hex(3)}"
    path = dest_root / name
    shutil.copytree(
        EXAMPLES / "digits",
        path,
        ignore=shutil.ignore_patterns(".reprobox", "__pycache__"),
    )
    for rel, text in (files or {}).items():
        (path / rel).write_text(text)
    config = path / "reprobox.toml"
    config.write_text(
        re.sub(
            r'^name = ".*"$',
            f'name = "{name}"',
            config.read_text(),
            count=1,
            flags=re.MULTILINE,
        )
    )
    cleanup.names.append(name)
    cli.run("freeze", str(path))
    built = json.loads(cli.run("build", str(path), "--json").stdout)
    return Project(path, name, built["tag"], built["image_id"])


def records_of(stdout: str) -> list[dict]:
    """Return the records a `run --json` printed (one run or several)."""
    data = json.loads(stdout)
    return data.get("records", [data])


def run_records(cli, project: Project, *args: str, check: bool = True):
    """Run `reprobox run --json` on project; return (CliResult, records)."""
    result = cli.run("run", str(project.path), "--json", *args, check=check)
    return result, records_of(result.stdout)


def record_path(project: Project, record: dict) -> Path:
    """Return where a record lies on disk."""
    return project.runs / record["run_id"] / "record.json"


def compare_json(
    cli, *paths: Path, reference: dict | None = None, extra: tuple[str, ...] = ()
):
    """Run `reprobox compare --json`; return (CliResult, parsed comparison).

    compare sorts runs by start time; reference (a record) picks the reference.
    """
    if reference is not None:
        extra = ("--reference", reference["run_id"], *extra)
    result = cli.run("compare", *map(str, paths), "--json", *extra, check=False)
    assert result.returncode in (0, 1), result.describe()
    return result, json.loads(result.stdout)


def summary_of(comparison: dict, record: dict) -> dict:
    """Return one run's summary line from a parsed comparison."""
    (found,) = [r for r in comparison["runs"] if r["run_id"] == record["run_id"]]
    return found


def shipped_seconds(stderr: str, how: str) -> float:
    """Return how long the image took to reach the other engine, the way `how`."""
    for found_how, seconds in SHIPPED.findall(stderr):
        if found_how == how:
            return float(seconds)
    raise AssertionError(f"stderr says nothing of 'image {how}':\n{stderr[-2000:]}")


class Stopwatch:
    """Time a block: `with Stopwatch() as w: ...; w.seconds`."""

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.monotonic() - self.started


def remove_from(client, image: str) -> None:
    """Remove image (a tag or an id) from an engine, if it is there."""
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(image, force=True)


def engine_has(client, image: str) -> bool:
    """Tell whether an engine holds image (a tag or an id)."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True
