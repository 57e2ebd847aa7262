"""Check the host infrastructure that scripts/setup-host and scripts/second-engine make.

These tests drive the docker CLI directly: they check the machines reprobox runs
on, not reprobox. Outside CI a missing part skips its tests; in CI (CI=true,
where .ci/run has just set everything up) a missing part fails them.
"""

import http.client
import io
import json
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.integration

ENGINE_HOST = "unix:///var/run/docker.sock"
ENGINE2_HOST = "unix:///run/reprobox-engine2/docker.sock"
ENGINE2_NETNS = "reprobox2"
ENGINE2_DATA_ROOT = "/var/lib/reprobox-engine2"
BASE_IMAGE = "reprobox-base:bookworm-py3.11"
REGISTRY = "127.0.0.1:5000"
TEST_REPOSITORY = "reprobox-infra-test"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI sets everything up with scripts/setup-host)")
    pytest.skip(reason)


def _docker_command(host: str, *args: str) -> list[str]:
    return [shutil.which("docker") or "docker", "-H", host, *args]


def _docker_env() -> dict[str, str]:
    # DOCKER_HOST or DOCKER_CONTEXT from the caller must not redirect the checks.
    return {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}


def _docker(host: str, *args: str, timeout: float = 300) -> str:
    """Run the docker CLI against one engine and return its stdout."""
    done = subprocess.run(
        _docker_command(host, *args),
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_docker_env(),
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"docker -H {host} {' '.join(args)} exited {done.returncode}:\n"
            f"{done.stderr.strip()}"
        )
    return done.stdout


def _docker_cleanup(host: str, *args: str) -> None:
    """Remove something a test made; it may already be gone."""
    subprocess.run(
        _docker_command(host, *args),
        check=False,
        capture_output=True,
        env=_docker_env(),
        timeout=120,
    )


def _engine_info(host: str) -> dict | None:
    try:
        return json.loads(_docker(host, "info", "--format", "{{json .}}", timeout=30))
    except (AssertionError, subprocess.TimeoutExpired):
        return None


def _registry_get(path: str) -> http.client.HTTPResponse:
    # An empty ProxyHandler: an http_proxy from the environment must not see this.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(f"http://{REGISTRY}{path}", timeout=10)


def _registry_delete(repository: str, digest: str) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repository}/manifests/{digest}", method="DELETE"
    )
    with opener.open(request, timeout=10):
        pass


def _links(netns: str | None) -> dict[str, dict]:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    done = subprocess.run(
        [*prefix, "-j", "link", "show"], capture_output=True, text=True, check=True
    )
    return {link["ifname"]: link for link in json.loads(done.stdout)}


@pytest.fixture(scope="module")
def engine() -> dict:
    if shutil.which("docker") is None:
        _missing("no docker CLI on PATH")
    info = _engine_info(ENGINE_HOST)
    if info is None:
        _missing(f"no Docker engine answers on {ENGINE_HOST}")
    return info


@pytest.fixture(scope="module")
def base_image(engine: dict) -> str:
    try:
        _docker(ENGINE_HOST, "image", "inspect", BASE_IMAGE, timeout=30)
    except AssertionError:
        _missing(f"the engine has no {BASE_IMAGE}")
    return BASE_IMAGE


@pytest.fixture(scope="module")
def registry() -> str:
    try:
        _registry_get("/v2/").close()
    except (urllib.error.URLError, OSError):
        _missing(f"no registry answers on http://{REGISTRY}/v2/")
    return REGISTRY


@pytest.fixture(scope="module")
def engine2(engine: dict) -> dict:
    info = _engine_info(ENGINE2_HOST)
    if info is None:
        _missing(f"no second engine answers on {ENGINE2_HOST}")
    return info


def test_engine_answers_with_overlay2(engine: dict) -> None:
    assert engine["ServerVersion"]
    assert engine["Driver"] == "overlay2"
    assert engine["CgroupVersion"] in ("1", "2")


def test_base_image_makes_a_venv_and_has_git_and_ca_certificates(
    base_image: str,
) -> None:
    name = f"reprobox-infra-test-{uuid.uuid4().hex[:12]}"
    script = (
        "python3 -m venv /tmp/venv"
        " && /tmp/venv/bin/python -c "
        "'import ssl, sys; print(\"%d.%d\" % sys.version_info[:2])'"
        " && /tmp/venv/bin/python -m pip --version >/dev/null"
        " && git --version"
        " && test -s /etc/ssl/certs/ca-certificates.crt && echo certificates"
    )
    try:
        out = _docker(
            ENGINE_HOST,
            "run",
            "--name",
            name,
            "--network",
            "none",
            base_image,
            "sh",
            "-c",
            script,
        )
    finally:
        _docker_cleanup(ENGINE_HOST, "rm", "-f", name)
    lines = out.splitlines()
    assert lines[0] == "3.11"
    assert lines[1].startswith("git version ")
    assert lines[2] == "certificates"


def test_base_image_carries_no_host_resolver_hostname_or_mirror(
    base_image: str,
) -> None:
    wanted = {
        "etc/resolv.conf",
        "etc/hostname",
        "etc/apt/sources.list.d/debian.sources",
    }
    found: dict[str, str] = {}
    save = subprocess.Popen(
        _docker_command(ENGINE_HOST, "image", "save", base_image),
        stdout=subprocess.PIPE,
        env=_docker_env(),
    )
    try:
        with tarfile.open(fileobj=save.stdout, mode="r|") as image:
            for member in image:
                if not member.name.endswith("layer.tar"):
                    continue
                with tarfile.open(
                    fileobj=image.extractfile(member), mode="r|"
                ) as layer:
                    for entry in layer:
                        name = entry.name.removeprefix("./")
                        if name in wanted and entry.isfile():
                            found[name] = layer.extractfile(entry).read().decode()
    finally:
        save.stdout.close()
        save.wait(timeout=60)

    assert found["etc/resolv.conf"] == ""
    assert found["etc/hostname"] == "localhost\n"
    uris = [
        line.split(":", 1)[1].strip()
        for line in io.StringIO(found["etc/apt/sources.list.d/debian.sources"])
        if line.startswith("URIs:")
    ]
    assert uris == [
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
    ]


@pytest.mark.registry
def test_registry_answers_v2(registry: str) -> None:
    with _registry_get("/v2/") as response:
        assert response.status == 200
        assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


@pytest.mark.second_engine
def test_second_engine_is_a_separate_engine(engine: dict, engine2: dict) -> None:
    assert engine2["ID"] != engine["ID"]
    assert engine2["Name"] == ENGINE2_NETNS
    assert engine2["DockerRootDir"] == ENGINE2_DATA_ROOT
    assert engine["DockerRootDir"] != ENGINE2_DATA_ROOT


@pytest.mark.second_engine
def test_second_engine_has_its_own_docker0_and_no_way_out(engine2: dict) -> None:
    host_links = _links(None)
    netns_links = _links(ENGINE2_NETNS)

    assert "docker0" in host_links, "the host's docker0 is gone"
    assert "docker0" in netns_links
    assert netns_links["docker0"]["address"] != host_links["docker0"]["address"]
    routes = subprocess.run(
        ["ip", "-n", ENGINE2_NETNS, "-j", "route", "show", "default"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(routes.stdout or "[]") == []


@pytest.mark.registry
@pytest.mark.second_engine
def test_image_pushed_on_host_is_pulled_and_run_on_second_engine(
    base_image: str, registry: str, engine2: dict
) -> None:
    token = uuid.uuid4().hex
    container = f"reprobox-infra-test-{token[:12]}"
    image = f"{registry}/{TEST_REPOSITORY}:{token[:12]}"
    digest = ""
    try:
        _docker(
            ENGINE_HOST,
            "run",
            "--name",
            container,
            "--network",
            "none",
            base_image,
            "sh",
            "-c",
            f"echo {token} > /marker",
        )
        _docker(ENGINE_HOST, "commit", container, image)
        _docker(ENGINE_HOST, "push", "-q", image)
        pushed = json.loads(
            _docker(
                ENGINE_HOST,
                "image",
                "inspect",
                "--format",
                "{{json .RepoDigests}}",
                image,
            )
        )
        digest = pushed[0].split("@", 1)[1]

        _docker(ENGINE2_HOST, "pull", "-q", image)
        pulled = json.loads(
            _docker(
                ENGINE2_HOST,
                "image",
                "inspect",
                "--format",
                "{{json .RepoDigests}}",
                image,
            )
        )
        isolated = _docker(
            ENGINE2_HOST,
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "sh",
            "-c",
            "cat /marker; ls /sys/class/net",
        ).split()
        bridged = _docker(
            ENGINE2_HOST,
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "cat /marker; ls /sys/class/net",
        ).split()
    finally:
        _docker_cleanup(ENGINE_HOST, "rm", "-f", container)
        for host in (ENGINE_HOST, ENGINE2_HOST):
            _docker_cleanup(host, "rmi", image)
        if digest:
            _registry_delete(TEST_REPOSITORY, digest)

    assert pulled == pushed
    assert isolated == [token, "lo"]
    assert bridged == [token, "eth0", "lo"]
