"""Render the generated Dockerfile: a pure function of the frozen inputs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reprobox import __version__
from reprobox.config_env import ENV_NAME
from reprobox.errors import InputError
from reprobox.templates_dir import environment

_IMAGE_REF = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_PYTHON = re.compile(r"^3\.\d{1,2}$")
_VERSION = re.compile(r"^\d+(\.\d+)*$")
# A public index: https, a host name, a plain path; no credentials, no quoting.
_PUBLIC_INDEX = re.compile(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$")
_CONFIG_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
CUDA_SOURCES = ("base-image", "pip-wheels", "unknown")
# The line above the ENV block that sets the manifest's environment; the block
# is read back (dockerfile_environment) to check the manifest against it.
ENV_HEADING = "# Settings that change numerics, frozen from the project config."
_ENV_SEPARATOR = " \\\n    "
_ENV_ENTRY = re.compile(rf'({ENV_NAME.pattern})="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class GpuImage:
    """What a GPU image carries and needs, as the Dockerfile states it.

    cuda_source is "pip-wheels" (nvidia-* wheels in the lock), "base-image", or
    "unknown" (no framework reprobox knows: versions are None, nothing checked).
    """

    cuda: str | None
    cudnn: str | None
    min_driver: str | None
    cuda_source: str


def quote_env_value(value: str) -> str:
    """Quote a value for a Dockerfile ENV line so it stays one literal value.

    Double quotes with backslash escapes keep spaces and quotes literal; `$` is
    escaped so the Dockerfile parser does not substitute variables. Line
    breaks are refused earlier, by the config check; refuse them here too.
    """
    if any(ch in value for ch in "\r\n\x00"):
        raise InputError(f"environment value {value[:40]!r} holds a line break")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _env_entries(environment_vars: Mapping[str, str]) -> list[str]:
    """Return the NAME="value" entries of the ENV block, sorted by name."""
    return [
        f"{name}={quote_env_value(environment_vars[name])}"
        for name in sorted(environment_vars)
    ]


def dockerfile_environment(text: str) -> dict[str, str] | None:
    """Return the variables a generated Dockerfile's ENV block sets.

    {} when it has no such block; None when the block is not in the form
    render_dockerfile writes, so that it cannot be read back exactly.
    """
    start = text.find(f"\n{ENV_HEADING}\nENV ")
    if start < 0:
        return None if ENV_HEADING in text else {}
    body = text[start + len(ENV_HEADING) + len("\n\nENV ") :].split("\n\n", 1)[0]
    entries = body.split(_ENV_SEPARATOR)
    found = {}
    for entry in entries:
        match = _ENV_ENTRY.fullmatch(entry)
        if match is None:
            return None
        found[match[1]] = re.sub(r"\\(.)", r"\1", match[2])
    return found if _env_entries(found) == entries else None


def builds_as_root(text: str) -> bool:
    """Return whether a generated Dockerfile runs its build steps as root.

    Dockerfiles frozen before reprobox wrote `USER 0:0` (or, earlier, `USER
    root`) after FROM run them as whatever user the base image ends on.
    """
    return re.search(r"^USER (?:root|0:0)$", text, re.MULTILINE) is not None


def check_image_ref(ref: str) -> str:
    """Return ref when it is a well-formed image reference, else raise."""
    if not _IMAGE_REF.fullmatch(ref):
        raise InputError(
            f"base image {ref!r} is not a valid image reference",
            hint='e.g. base_image = "python:3.11-slim-bookworm"',
        )
    return ref


def check_public_index(url: str) -> str:
    """Return url when it is a credential-free https index a Dockerfile may name."""
    if not _PUBLIC_INDEX.fullmatch(url):
        raise InputError(
            f"package index {url!r} cannot be written into the Dockerfile",
            hint="only public https:// indexes without credentials are written; "
            "others reach the build as secrets",
        )
    return url


def _check_gpu(gpu: GpuImage) -> GpuImage:
    for what, value in (
        ("CUDA", gpu.cuda),
        ("cuDNN", gpu.cudnn),
        ("driver", gpu.min_driver),
    ):
        if value is not None and not _VERSION.fullmatch(value):
            raise InputError(f"{what} version {value!r} is not a plain version")
    if gpu.cuda_source not in CUDA_SOURCES:
        raise InputError(f"CUDA source {gpu.cuda_source!r} is unknown")
    known = gpu.cuda is not None and gpu.cudnn is not None and gpu.min_driver
    if gpu.cuda_source != "unknown" and not known:
        raise InputError(f"a {gpu.cuda_source} GPU image needs CUDA, cuDNN and driver")
    return gpu


def render_dockerfile(
    *,
    base_image: str,
    command: Sequence[str],
    environment_vars: Mapping[str, str],
    system_packages: Sequence[str] = (),
    config_name: str = "reprobox.toml",
    install_python: str | None = None,
    extra_index_urls: Sequence[str] = (),
    gpu: GpuImage | None = None,
    vcs_requirements: bool = False,
    python: str = "3.11",
    slim: bool = True,
) -> str:
    """Return the Dockerfile text for a frozen project.

    install_python names the distribution Python the build installs into a base
    without one (a CUDA image); extra_index_urls are public indexes the build
    adds to the project's own (PyTorch's +cuXYZ wheels live only there).
    """
    for name in environment_vars:
        if not ENV_NAME.fullmatch(name):
            raise InputError(f"environment variable name {name!r} is not valid")
    for package in system_packages:
        if not _PACKAGE.fullmatch(package):
            raise InputError(f"system package name {package!r} is not valid")
    if install_python is not None and not _PYTHON.fullmatch(install_python):
        raise InputError(f"Python version {install_python!r} is not major.minor")
    if not _PYTHON.fullmatch(python):
        raise InputError(f"Python version {python!r} is not major.minor")
    if not _CONFIG_NAME.fullmatch(config_name):
        raise InputError(f"config file name {config_name!r} is not a plain name")
    template = environment(autoescape=False).get_template("Dockerfile.j2")
    return template.render(
        reprobox_version=__version__,
        config_name=config_name,
        base_image=check_image_ref(base_image),
        system_packages=sorted(set(system_packages)),
        install_python=install_python,
        extra_index_urls=[check_public_index(url) for url in extra_index_urls],
        gpu=_check_gpu(gpu) if gpu else None,
        vcs_requirements=vcs_requirements,
        python=python,
        slim=slim,
        env_heading=ENV_HEADING,
        environment=_env_entries(environment_vars),
        # JSON form: no shell between Docker and the command's arguments.
        command=json.dumps(list(command)),
    )
