"""The border with Docker: every engine call goes through this module.

Images are built with the docker CLI through BuildKit (the SDK has no BuildKit,
and BuildKit is what gives cache mounts and build secrets); everything else
uses the docker SDK. Docker's errors become reprobox errors here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.utils
import requests.exceptions
import urllib3.exceptions
from docker.types import Mount

from reprobox.addresses import engine_key  # noqa: F401  (re-exported)
from reprobox.docker_times import finished_at, wall_seconds
from reprobox.errors import (
    BuildError,
    EngineError,
    InputError,
    ReproboxError,
    first_line,
    shortened,
)
from reprobox.index_urls import lower_scheme
from reprobox.proc import run_command, start_process

log = logging.getLogger("reprobox")

LABEL_PREFIX = "org.reprobox"
CODE_LABEL = f"{LABEL_PREFIX}.code-sha256"  # sha256 over the project's files
RUN_LABEL = f"{LABEL_PREFIX}.run-id"
OWNER_LABEL = f"{LABEL_PREFIX}.owner"
_STEP = re.compile(r"^#\d+ (\[[^\]]+\] .*)$")
_FAILED_STEP = re.compile(r"^ > (\[[^\]]+\] .*?):?$")
ADDRESS_FORMS = "unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
DEFAULT_ADDRESS = "unix:///var/run/docker.sock"
# docker-py waits 60 s for any answer; `docker load` answers only once it has
# loaded the whole image, and a multi-GB stream to a busy engine can pause
# longer than that. Image streams, loads, pushes and pulls wait this long.
LONG_CALL_TIMEOUT_S = 1800


@dataclass
class Engine:
    """A connection to one Docker engine, with the CLI that can build on it."""

    client: docker.DockerClient
    host: str | None  # None: the default from the environment

    @property
    def address(self) -> str:
        """Return the address this engine was reached at, for messages."""
        return engine_address(self)

    def describe(self) -> dict:
        """Return the engine's address, ID, version, OS and architecture.

        The ID (`docker info`) tells engines apart wherever the record is
        read: the address is as given here, and a link or another spelling
        of it means nothing on another machine (brk r48 BS 1).
        """
        try:
            info = self.client.version()
        except (
            docker.errors.DockerException,
            requests.exceptions.RequestException,
        ) as exc:
            raise engine_failure(self, "reporting its version", exc) from None
        return {
            "host": self.host or os.environ.get("DOCKER_HOST") or "default",
            "id": engine_id(self),
            "server_version": info.get("Version"),
            "os": info.get("Os"),
            "arch": info.get("Arch"),
        }


def connect(host: str | None = None, context: str | None = None) -> Engine:
    """Connect to an engine by URL, by docker context name, or from the env."""
    for flag, given in (("--host", host), ("--context", context)):
        if given is not None and not given.strip():
            raise InputError(
                f"{flag} is empty",
                hint=f"give {ADDRESS_FORMS}" if flag == "--host" else "name a context",
            )
    check_engine_flags([host] if host else [], [context] if context else [])
    if context:
        host = _context_host(context, f"--context {context!r}")
        check_engine_address(host, f"docker context {context!r} points to {host!r}")
    elif host:
        check_engine_address(host, f"--host {host!r}")
    elif os.environ.get("DOCKER_HOST"):
        env_host = os.environ["DOCKER_HOST"]
        check_engine_address(env_host, f"DOCKER_HOST={env_host!r}")
    elif os.environ.get("DOCKER_CONTEXT") not in (None, "", "default"):
        # The docker CLI honours DOCKER_CONTEXT; the SDK does not: follow the CLI.
        name = os.environ["DOCKER_CONTEXT"]
        host = _context_host(
            name, f"DOCKER_CONTEXT={name!r}", "or unset DOCKER_CONTEXT"
        )
        check_engine_address(host, f"DOCKER_CONTEXT={name!r} points to {host!r}")
    where = host or os.environ.get("DOCKER_HOST") or DEFAULT_ADDRESS
    # What the user can change: the flag they gave, else the variable, else start one.
    fix = (
        "check the address given"
        if host
        else "check DOCKER_HOST"
        if os.environ.get("DOCKER_HOST")
        else "start one (scripts/setup-host does) or pass --host"
    )
    try:
        # The scheme in lower case: the SDK reads `unix://` with no path as
        # the default socket, but `UNIX://` as a socket with an empty path.
        if host:
            client = docker.DockerClient(
                base_url=lower_scheme(host), use_ssh_client=True
            )
        else:
            environment = dict(os.environ)
            if environment.get("DOCKER_HOST"):
                environment["DOCKER_HOST"] = lower_scheme(environment["DOCKER_HOST"])
            client = docker.from_env(environment=environment)
        client.ping()
        version = client.version()
    except (ValueError, TypeError, KeyError, AttributeError):
        version = None  # an answer that is not JSON of Docker's shape
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if "Permission denied" in str(exc):
            raise EngineError(
                f"the Docker engine at {where} refused this user (permission denied "
                "on its socket)",
                hint="add the user to the docker group (then log in again), or "
                "run as root",
            ) from exc
        raise EngineError(f"no Docker engine answers at {where}", hint=fix) from exc
    if not (
        isinstance(version, dict)
        and all(isinstance(version.get(k), str) for k in ("Version", "ApiVersion"))
    ):
        raise EngineError(
            f"the engine at {where} answered with something that is not Docker's API",
            hint=fix
            if host or os.environ.get("DOCKER_HOST")
            else "check what listens at that socket",
        )
    global _last_address
    _last_address = where
    return Engine(client=client, host=host)


# The engine reprobox connected to last: named by a failure caught only at the top.
_last_address: str | None = None


def check_engine_flags(hosts: Sequence[str], contexts: Sequence[str]) -> None:
    """Refuse --host given with --context: either names the engine."""
    if hosts and contexts:
        # Taking one silently would ignore the other, and both may name one
        # engine: `--context default --host unix:///var/run/docker.sock`.
        raise InputError(
            "--host and --context exclude each other",
            hint="name the engine with one of them",
        )


def context_address(name: str) -> str:
    """Return the engine address a docker context points to."""
    return _context_host(name, f"--context {name!r}")


_SCHEMES = frozenset(("unix", "npipe", "ssh", "tcp", "http", "https", "fd"))


def check_engine_address(address: str, shown: str) -> None:
    """Raise InputError unless address is one the docker SDK can connect to."""
    if not address.isprintable() or any(c.isspace() for c in address):
        # The SDK drops a line break from a unix path without a word, and the
        # address is quoted in later messages: it must stay one plain line.
        raise InputError(
            f"{shown} is not a Docker engine address: it holds a space or a "
            "control character",
            hint=f"give {ADDRESS_FORMS}",
        )
    scheme, sep, rest = address.partition("://")
    scheme = scheme.lower()
    named = address.split(":", 1)[0].lower()
    if not sep and ":" in address and named in _SCHEMES:
        # `unix:` or `unix:/x` read as a host named unix: "no engine answers"
        # (exit 3) for what is a slip in the address (exit 2).
        raise InputError(
            f"{shown} is not a Docker engine address: {named}: needs // after it",
            hint=f"give {ADDRESS_FORMS}",
        )
    hostname = rest.split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    if scheme in ("ssh", "tcp", "http", "https") and not hostname:
        raise InputError(
            f"{shown} is not a Docker engine address: it names no host",
            hint=f"give {ADDRESS_FORMS}",
        )
    try:
        docker.utils.parse_host(address)
    except (ValueError, docker.errors.DockerException) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        reason = reason.replace(f": {address}", "")  # shown already
        if reason.endswith("port is required") and sep:
            # docker-py's words for tcp://HOST with no port (brk r49 BR 4).
            reason = (
                f"it names no port, which {scheme}:// needs (e.g. "
                f"{scheme}://{hostname}:2375)"
            )
        elif reason.endswith("port is required"):
            # A bare word (garbage, foo.bar): docker-py reads it as a tcp
            # host; it names neither a scheme nor a port (brk r50 BT 1).
            reason = f"it names no scheme and no port (e.g. tcp://{address}:2375)"
        raise InputError(
            f"{shown} is not a Docker engine address: {reason}",
            hint=f"give {ADDRESS_FORMS}",
        ) from None


def engine_runtimes(engine: Engine) -> dict[str, str]:
    """Return the container runtimes the engine has registered: name to program."""
    try:
        info = engine.client.info()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise engine_failure(engine, "reading its facts (docker info)", exc) from None
    found = info.get("Runtimes") if isinstance(info, dict) else None
    if not isinstance(found, dict):
        return {}
    return {
        str(name): str(facts.get("path", "")) if isinstance(facts, dict) else ""
        for name, facts in found.items()
    }


def engine_id(engine: Engine) -> str | None:
    """Return the daemon's own ID (`docker info`), the same however it is reached.

    dockerd keeps it in its data root, so two addresses that reach one daemon
    (a hard link to its socket, tcp and unix) give one ID; None when the
    engine does not say.
    """
    try:
        info = engine.client.info()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise engine_failure(engine, "reading its facts (docker info)", exc) from None
    found = info.get("ID") if isinstance(info, dict) else None
    return found if isinstance(found, str) and found.strip() else None


@contextmanager
def long_calls(*engines: Engine) -> Iterator[None]:
    """Let the engines' calls inside wait LONG_CALL_TIMEOUT_S for an answer."""
    apis = [engine.client.api for engine in engines]
    saved = [(api, api.timeout) for api in apis if hasattr(api, "timeout")]
    for api, _ in saved:
        api.timeout = max(api.timeout or 0, LONG_CALL_TIMEOUT_S)
    try:
        yield
    finally:
        for api, timeout in saved:
            api.timeout = timeout


def engine_address(engine) -> str:
    """Return the address an engine was reached at: --host, DOCKER_HOST, default."""
    host = getattr(engine, "host", None)
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_ADDRESS


def is_engine_trouble(exc: BaseException) -> bool:
    """Tell an error of the Docker SDK or its HTTP stack from any other."""
    return any(
        cls.__module__.split(".")[0] in ("docker", "requests", "urllib3")
        for cls in type(exc).__mro__
    )


def is_connection_lost(exc: BaseException) -> bool:
    """Tell an engine call that failed because the connection broke or hung up."""
    lost = (
        requests.exceptions.ConnectionError,
        urllib3.exceptions.ProtocolError,
        http.client.IncompleteRead,
        ConnectionError,
    )
    return isinstance(exc, lost) and not isinstance(
        exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)
    )


def engine_lost_during_run(engine: Engine, exc: BaseException) -> EngineError:
    """Say that the engine went away (or failed) while a run's container lived."""
    address = engine_address(engine)
    if is_connection_lost(exc):
        return EngineError(
            f"lost the connection to the engine at {address!r} while the run was "
            "going; the container may still be running there; the next reprobox "
            "command against that engine removes it"
        )
    return engine_failure(engine, "running the container", exc)


def engine_trouble_reason(exc: BaseException) -> str:
    """Say in words why an engine call failed; never the SDK's raw repr."""
    if isinstance(exc, docker.errors.APIError):
        reason = exc.explanation or exc
    elif isinstance(exc, (requests.exceptions.Timeout, TimeoutError)) or any(
        word in str(exc).lower() for word in ("timed out", "timeout")
    ):
        return "it stopped answering (read timed out)"
    elif is_connection_lost(exc):
        return "the connection broke"
    else:
        reason = exc
    return first_line(reason, empty=type(exc).__name__)


def engine_failure(
    engine: Engine | None, doing: str, exc: BaseException
) -> EngineError:
    """Return one line saying the engine failed (timed out, hung up) while doing.

    Every engine error no nearer border caught comes through here, so that a
    dropped connection reads the same everywhere. Without an engine in hand,
    the one reprobox last connected to is named.
    """
    address = engine_address(engine) if engine is not None else _last_address
    where = f"the Docker engine at {address!r}" if address else "the Docker engine"
    return EngineError(
        f"{where} failed while {doing}: {engine_trouble_reason(exc)}",
        hint="check that engine (`docker info`; is it overloaded or out of disk?) "
        "and try again",
    )


def _context_host(name: str, shown: str, fix: str = "") -> str:
    cli = shutil.which("docker")
    if not cli:
        raise EngineError(f"{shown} needs the docker CLI, which is not installed")
    proc = run_command([cli, "context", "inspect", name], check=False)
    if proc.returncode != 0:
        raise InputError(
            f"{shown}: docker context {name!r} not found",
            hint="list them with `docker context ls`" + (f", {fix}" if fix else ""),
        )
    endpoints = json.loads(proc.stdout)[0]["Endpoints"]
    return endpoints["docker"]["Host"]


def find_build_cli(
    env: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """Return a docker CLI that builds with BuildKit, and the env it needs."""
    override = os.environ.get("REPROBOX_DOCKER_CLI")
    candidates = [override] if override else []
    for path in (shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"):
        if path and path not in candidates:
            candidates.append(path)
    broken: list[str] = []
    started = 0
    for cli in candidates:
        if not cli or not os.access(cli, os.X_OK):
            continue
        has_buildx = (
            run_command([cli, "buildx", "version"], env=env, check=False).returncode
            == 0
        )
        proc = run_command(
            [cli, "version", "--format", "{{.Client.Version}}"], env=env, check=False
        )
        version = proc.stdout.strip()
        if proc.returncode != 0 and not version:
            # It printed not even its own version: the CLI itself cannot start
            # (a bad DOCKER_CONTEXT, a broken config), whatever plugins it has.
            broken.append(first_line(proc.stderr, empty=f"exit code {proc.returncode}"))
            continue
        started += 1
        major = version.split(".")[0]
        # Before 23.0 `docker build` uses the legacy builder, buildx plugin or not,
        # unless DOCKER_BUILDKIT=1; from 23.0 it is buildx, if installed.
        if major.isdigit() and int(major) < 23:
            return cli, {"DOCKER_BUILDKIT": "1"}
        if has_buildx:
            return cli, {}
    if broken and not started:
        raise EngineError(
            f"the docker CLI failed: {broken[0]}",
            hint="check DOCKER_CONTEXT and DOCKER_HOST; `docker version` shows why",
        )
    raise EngineError(
        "no docker CLI here can build with BuildKit",
        hint="install the buildx plugin, or Debian's docker.io (docker 20.10)",
    )


def _cli_env(engine: Engine, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDKIT_")}
    host = engine.host or env.get("DOCKER_HOST")
    if host:
        # The SDK takes a scheme in any case; the docker CLI that builds takes
        # lower case only ("invalid bind address format" for UNIX://), from a
        # flag, a context or DOCKER_HOST alike.
        env["DOCKER_HOST"] = lower_scheme(host)
    env.pop("DOCKER_CONTEXT", None) if engine.host else None
    env.update(extra)
    return env


def _inherited_fds(paths) -> tuple[int, ...]:
    """Return the descriptors behind /dev/fd/N paths, for the child to inherit."""
    found = [re.fullmatch(r"/dev/fd/(\d+)", str(path)) for path in paths]
    return tuple(sorted(int(match.group(1)) for match in found if match))


class BuildCutShort(KeyboardInterrupt):
    """A stop during a build whose CLI had to be killed: the engine may still
    finish the build and tag it after reprobox has looked."""


def build_image(
    engine: Engine,
    context_dir: Path,
    tag: str,
    *,
    labels: Mapping[str, str],
    secrets: Mapping[str, Path],
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Build context_dir into tag with BuildKit; return the image id."""
    cli, cli_env = find_build_cli(_cli_env(engine, {}))
    argv = [
        cli,
        "build",
        "--progress=plain",
        "--tag",
        tag,
        "--file",
        str(context_dir / "Dockerfile"),
    ]
    for key in sorted(labels):
        argv += ["--label", f"{key}={labels[key]}"]
    for name in sorted(secrets):
        argv += ["--secret", f"id={name},src={secrets[name]}"]
    argv.append(str(context_dir))
    log.info("building %s", tag)
    lines: list[str] = []
    proc = None
    try:
        with start_process(
            argv,
            env=_cli_env(engine, cli_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            pass_fds=_inherited_fds(secrets.values()),
            # Its own process group: a Ctrl-C or hang-up sent to reprobox's
            # group would otherwise reach the CLI too, and a hang-up kills it
            # at once, while the engine goes on to export and tag unseen.
            # Stopped by reprobox alone (SIGTERM), the CLI waits for the
            # engine to end the build, so the tag can be asked for after.
            start_new_session=True,
        ) as proc:  # stopped (SIGTERM, then SIGKILL) if the build is interrupted
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                lines.append(line)
                if on_line:
                    # BuildKit shows a RUN step's whole command as it starts,
                    # and three times more when it fails: the repeats are cut.
                    on_line(shortened(line, 240) if _RUN_ECHO.search(line) else line)
            code = proc.wait()
    except KeyboardInterrupt:
        if proc is not None and proc.returncode == -signal.SIGKILL:
            raise BuildCutShort from None
        raise
    if code != 0:
        error = build_failure_error(tag, lines)
        # Every failure carries the whole log: the CLI keeps it in build.log.
        error.build_log = tuple(lines)
        raise error
    return image_id(engine, tag)


def build_failure_error(tag: str, lines: Sequence[str]) -> ReproboxError:
    """Return the error a failed build of tag ends in, from its log's lines."""
    # The Dockerfile's own checks say what the user must change; say it alone.
    for line in lines:
        # The message the check prints, not the step's own command text
        # (BuildKit echoes the RUN line, which holds the same words).
        found = _PYTHON_MISMATCH.search(line)
        if found:
            return InputError(
                f"the base image has Python {found[1]}, the project is frozen "
                f"for {found[2]}",
                hint="set python to the base image's, or another base_image, "
                "then freeze again",
            )
    step = failing_step(lines)
    return BuildError(
        f"building {tag} failed",
        step=shortened(step, 240) if step else None,
        log_tail="\n".join(
            shortened(line, 240) for line in lines[-25:] if not _ECHOED_RUN.match(line)
        ),
    )


# BuildKit's closing line repeats a failed RUN's whole command, which the
# failing step already names.
_ECHOED_RUN = re.compile(r"^#\d+ ERROR: (?:executor failed running|process \")")
# The lines in which BuildKit repeats a failed RUN step's command, after
# showing it once as the step began.
_RUN_ECHO = re.compile(
    r"^ > \[[^\]]*\] RUN |executor failed running \[|^#\d+ ERROR: process \""
)


_PYTHON_MISMATCH = re.compile(
    r"the base image has Python (\d+\.\d+), the project is frozen for (\d+\.\d+)"
)


def failing_step(lines: Sequence[str]) -> str | None:
    """Return the Dockerfile step a BuildKit plain log says failed."""
    for line in reversed(lines):
        match = _FAILED_STEP.match(line)
        if match:
            return match.group(1)
    steps = [m.group(1) for m in map(_STEP.match, lines) if m]
    return steps[-1] if steps else None


def image_id(engine: Engine, ref: str) -> str | None:
    """Return the id of the image ref on this engine, or None when absent."""
    try:
        return engine.client.images.get(ref).id
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.is_client_error():  # the engine finds the reference itself wrong
            raise InputError(
                f"{ref!r} is not an image reference the engine accepts: "
                f"{first_line(exc.explanation or exc)}",
                hint="give NAME[:TAG], NAME@sha256:DIGEST or an image id",
            ) from None
        raise EngineError(f"cannot inspect image {ref}: {exc}") from None
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot inspect image {ref}: {first_line(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, f"inspecting image {ref}", exc) from None


def registry_digest(engine: Engine, ref: str) -> str | None:
    """Return the registry digest the engine knows for ref's own repository."""
    if "@" in ref:
        return ref.split("@", 1)[1]
    try:
        attrs = engine.client.images.get(ref).attrs
    except docker.errors.DockerException:
        return None
    repo = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    for entry in attrs.get("RepoDigests") or []:
        name, _, digest = entry.partition("@")
        if name == repo or name == f"docker.io/library/{repo}":
            return digest
    return None


def ensure_base_image(engine: Engine, ref: str, *, where: str = "base_image") -> None:
    """Make sure the base image is on the engine, pulling it when it is not.

    where names the setting the image came from, for the error. An image its
    registry says it does not have is bad input (exit 2); a registry that
    cannot be reached is trouble between the engine and it (exit 3).
    """
    if image_id(engine, ref) is not None:
        return
    try:
        engine.client.images.pull(ref)
    except docker.errors.DockerException as exc:
        reason = first_line(getattr(exc, "explanation", None) or exc)[:160]
        hint = (
            "pull, load or build it onto this engine first (scripts/setup-host "
            "makes reprobox-base:bookworm-py3.11), or change base_image and "
            "freeze again"
        )
        if _NOT_IN_REGISTRY.search(reason):
            raise InputError(
                f"{where}: {ref} is not on this engine and its registry has no "
                f"such image ({reason})",
                hint=hint,
            ) from None
        raise EngineError(
            f"{where}: {ref} is not on this engine and cannot be pulled ({reason})",
            hint=hint,
        ) from None


# What a registry answers for a name or tag it does not hold.
_NOT_IN_REGISTRY = re.compile(
    r"manifest unknown|not found|pull access denied|repository does not exist"
    r"|name unknown",
    re.IGNORECASE,
)


def image_labels(engine: Engine, ref: str) -> dict[str, str]:
    """Return the labels of image ref."""
    try:
        return dict(engine.client.images.get(ref).labels or {})
    except docker.errors.ImageNotFound:
        raise EngineError(f"image {ref} is not on this engine") from None


def image_layers_digest(engine: Engine, ref: str) -> str | None:
    """Return a sha256 over the image's filesystem layers (labels excluded)."""
    import hashlib

    try:
        layers = engine.client.images.get(ref).attrs["RootFS"]["Layers"]
    except (docker.errors.ImageNotFound, KeyError):
        return None
    return "sha256:" + hashlib.sha256("\n".join(layers).encode()).hexdigest()


def image_label(engine: Engine, ref: str, name: str) -> str | None:
    """Return one label of an image, or None."""
    try:
        labels = engine.client.images.get(ref).attrs["Config"].get("Labels") or {}
    except (docker.errors.ImageNotFound, KeyError, AttributeError):
        return None
    value = labels.get(name)
    return value if isinstance(value, str) else None


def image_digests(engine: Engine, ref: str) -> list[str]:
    """Return the registry digests (RepoDigests) known for image ref."""
    try:
        return list(engine.client.images.get(ref).attrs.get("RepoDigests") or [])
    except docker.errors.ImageNotFound:
        return []


@dataclass
class ContainerSpec:
    """Everything needed to start one training container."""

    image: str
    command: Sequence[str]
    env: Mapping[str, str]
    labels: Mapping[str, str]
    user: str
    mounts: Sequence[tuple[Path, str, bool]]  # host path, container path, read-only
    cpus: float | None = None
    memory: int | None = None  # bytes
    device_requests: list | None = None
    network: str = "bridge"


def start_container(engine: Engine, spec: ContainerSpec):
    """Create and start a container for spec; return the SDK container."""
    mounts = [
        Mount(target=target, source=str(source), type="bind", read_only=ro)
        for source, target, ro in spec.mounts
    ]
    kwargs = dict(
        image=spec.image,
        command=list(spec.command),
        environment=dict(spec.env),
        labels=dict(spec.labels),
        user=spec.user,
        mounts=mounts,
        detach=True,
        network_mode=spec.network,
        security_opt=["no-new-privileges"],
        cap_drop=["ALL"],
        init=True,
    )
    if spec.cpus:
        kwargs["nano_cpus"] = int(spec.cpus * 1e9)
    if spec.memory:
        kwargs["mem_limit"] = spec.memory
        kwargs["memswap_limit"] = spec.memory  # no swap: over the limit is OOM
    if spec.device_requests:
        kwargs["device_requests"] = spec.device_requests
    try:
        container = engine.client.containers.create(**kwargs)
    except docker.errors.ImageNotFound:
        raise EngineError(
            f"image {spec.image} is not on this engine",
            hint="run `reprobox build` first",
        ) from None
    except docker.errors.APIError as exc:
        explanation = first_line(exc.explanation or exc)
        if exc.is_client_error():
            # A 4xx: the engine judged the settings, not itself, to be wrong.
            raise InputError(
                f"the engine refused the container's settings: {explanation}",
                hint="lower --cpus/--memory or run.cpus to what this engine has, "
                "or fix --gpus/--env",
            ) from None
        raise EngineError(f"the engine refused the container: {explanation}") from None
    try:
        container.start()
    except docker.errors.APIError as exc:
        remove_container(container)
        explanation = first_line(exc.explanation or exc)
        if spec.device_requests and "could not select device driver" in explanation:
            # The preflight passed, yet the engine has no GPU driver after all:
            # the user's --gpus does not fit this engine, as the preflight says.
            raise InputError(
                f"the Docker engine at {engine_address(engine)} cannot give "
                f"containers GPUs: {explanation}",
                hint="run without --gpus, or on an engine with the NVIDIA "
                "container runtime",
            ) from None
        raise EngineError(f"the container did not start: {explanation}") from None
    return container


def _wait_gone(container, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            container.reload()
        except docker.errors.NotFound:
            return
        time.sleep(0.2)


def remove_container(container) -> None:
    """Stop and remove a container, whatever state it is in."""
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # another removal is under way: wait for it
            _wait_gone(container)
            return
        print(
            f"reprobox: could not remove container {container.id[:12]}: {exc}",
            file=sys.stderr,
        )
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        print(
            f"reprobox: could not remove container {container.id[:12]}: "
            f"{engine_trouble_reason(exc)}",
            file=sys.stderr,
        )


def remove_run_containers(engine: Engine, run_id: str) -> int:
    """Remove every container labelled with run_id; return how many."""
    try:
        found = engine.client.containers.list(
            all=True, filters={"label": f"{RUN_LABEL}={run_id}"}
        )
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return 0
    for container in found:
        remove_container(container)
    return len(found)


@dataclass
class LeftOutput:
    """What the container of a run whose reprobox died ran with and printed."""

    env: dict[str, str]  # the variables it started with, secret ones included
    chunks: Iterator[bytes]  # all its output, as the engine kept it
    # The training's own exit code, when it had ended before it was stopped.
    exit_code: int | None = None
    # How long the container ran, start to stop, and when it stopped (seconds
    # since the epoch), when the engine says.
    duration_s: float | None = None
    finished: float | None = None


def stopped_run_output(
    engine: Engine, run_id: str, *, owner_gone: bool = False
) -> LeftOutput | None:
    """Stop the container of run_id; return its env and everything it printed.

    A killed reprobox read its container's output only up to its death; the
    engine keeps all of it until the container is removed. None when there is
    no such container, or, with owner_gone, when its owner label does not say
    its reprobox is gone (another machine's, or alive); reading its output
    raises EngineError (a log driver that keeps none, an engine gone meanwhile).
    """
    trouble = (docker.errors.DockerException, requests.exceptions.RequestException)
    try:
        found = engine.client.containers.list(
            all=True, filters={"label": f"{RUN_LABEL}={run_id}"}
        )
    except trouble:
        return None
    if not found:
        return None
    container = found[0]
    if owner_gone and owner_alive(container.labels.get(OWNER_LABEL, "")):
        return None
    exit_code = exited_code(container)
    # Still training (its reprobox died, not the script): stop it, so that
    # the log read is the whole of it and nothing is written after.
    try:
        _kill_and_wait(container)
    except trouble as exc:
        raise engine_failure(
            engine, f"stopping the container of {run_id}", exc
        ) from None
    with contextlib.suppress(*trouble):
        container.reload()  # its State now says when it stopped
    state = container.attrs.get("State")
    env = (container.attrs.get("Config") or {}).get("Env") or []
    variables = dict(item.partition("=")[::2] for item in env if isinstance(item, str))

    def chunks() -> Iterator[bytes]:
        try:
            yield from container.logs(stream=True, follow=False)
        except trouble as exc:
            raise engine_failure(
                engine, f"reading run {run_id}'s container output", exc
            ) from None

    return LeftOutput(
        env=variables,
        chunks=chunks(),
        exit_code=exit_code,
        duration_s=wall_seconds(state),
        finished=finished_at(state),
    )


def exited_code(container) -> int | None:
    """Return the exit code of a container whose command ended on its own.

    None while it still runs, and when the engine cannot say.
    """
    trouble = (docker.errors.DockerException, requests.exceptions.RequestException)
    try:
        container.reload()
    except trouble:
        return None
    state = container.attrs.get("State") or {}
    code = state.get("ExitCode")
    if state.get("Status") != "exited" or not isinstance(code, int):
        return None
    return code


def stop_and_read_tail(container, lines: int) -> bytes:
    """Stop a run's container; return the last lines it printed, as the engine
    kept them (empty when it cannot give them)."""
    try:
        _kill_and_wait(container)
        return bytes(container.logs(stream=False, tail=lines))
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return b""


def _kill_and_wait(container) -> None:
    """Kill a run's container and wait until it has stopped.

    Nothing it prints comes after: its log, read next, is the whole of it.
    """
    trouble = (docker.errors.DockerException, requests.exceptions.RequestException)
    with contextlib.suppress(*trouble):  # most often already stopped (409)
        container.kill()
    container.wait(timeout=30)


def remove_orphans(
    engine: Engine,
    project_label: str,
    alive: Callable[[str], bool | None] | None = None,
) -> list[str]:
    """Remove run containers of a project whose reprobox process is gone.

    alive(run_id) says from better evidence (the run's lock) whether its
    reprobox lives, or None when it cannot tell; then the owner label decides.
    Only containers reprobox started for a run (they carry its run-id label)
    are judged: any container of the image inherits the project label, such
    as the one the engine's builder runs while a push seals the image, or
    one a user started by hand with `docker run`.
    """
    removed = []
    labels = [f"{LABEL_PREFIX}.project={project_label}", RUN_LABEL]
    try:
        found = engine.client.containers.list(all=True, filters={"label": labels})
        owners = [(c, c.labels.get(OWNER_LABEL, "")) for c in found]
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return removed
    except (TypeError, KeyError, ValueError, AttributeError):
        where = engine.host or os.environ.get("DOCKER_HOST") or "the default address"
        raise EngineError(
            f"the engine at {where} answered with something that is not Docker's API",
            hint="check --host / DOCKER_HOST points at a Docker engine",
        ) from None
    for container, owner in owners:
        run_id = container.labels.get(RUN_LABEL, "")
        known = alive(run_id) if alive is not None and run_id else None
        if known if known is not None else owner_alive(owner):
            continue
        remove_container(container)
        removed.append(run_id or container.id[:12])
    return removed


def owner_label() -> str:
    """Return this process's owner label: host name, pid and start time."""
    return f"{os.uname().nodename}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    """Return a live process's start time; "?" when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "?"
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        # A killed process nobody has reaped yet (a zombie) keeps its entry,
        # start time included, for as long as its parent waits: it is dead.
        return "?"
    return fields[19]


def owner_alive(owner: str) -> bool:
    """Tell whether the reprobox an owner label names still runs (elsewhere: yes)."""
    try:
        node, pid, started = owner.split(":")
    except ValueError:
        return False
    if node != os.uname().nodename:
        return True  # another machine's run: not ours to judge
    # "?" is what a dead or zombie process reads as: never a live one's label.
    return pid.isdigit() and started != "?" and _start_time(int(pid)) == started
