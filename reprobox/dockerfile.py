"""Render the generated Dockerfile: a pure function of the frozen inputs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from reprobox import __version__
from reprobox.errors import InputError
from reprobox.templates_dir import environment

_IMAGE_REF = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


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


def check_image_ref(ref: str) -> str:
    """Return ref when it is a well-formed image reference, else raise."""
    if not _IMAGE_REF.match(ref):
        raise InputError(
            f"base image {ref!r} is not a valid image reference",
            hint='e.g. base_image = "python:3.11-slim-bookworm"',
        )
    return ref


def render_dockerfile(
    *,
    base_image: str,
    command: Sequence[str],
    environment_vars: Mapping[str, str],
    system_packages: Sequence[str] = (),
    config_name: str = "reprobox.toml",
) -> str:
    """Return the Dockerfile text for a frozen project."""
    for name in environment_vars:
        if not _ENV_NAME.match(name):
            raise InputError(f"environment variable name {name!r} is not valid")
    for package in system_packages:
        if not _PACKAGE.match(package):
            raise InputError(f"system package name {package!r} is not valid")
    template = environment(autoescape=False).get_template("Dockerfile.j2")
    return template.render(
        reprobox_version=__version__,
        config_name=config_name,
        base_image=check_image_ref(base_image),
        system_packages=sorted(set(system_packages)),
        environment=[
            f"{name}={quote_env_value(environment_vars[name])}"
            for name in sorted(environment_vars)
        ],
        # JSON form: no shell between Docker and the command's arguments.
        command=json.dumps(list(command)),
    )
