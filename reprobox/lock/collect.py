"""Gather the requirements to lock from a requirements file or a live environment."""

from __future__ import annotations

from pathlib import Path

from reprobox.errors import InputError
from reprobox.lock.entries import CollectedRequirements, canonical_name
from reprobox.lock.environment import (
    environment_entries,
    read_installed_distributions,
)
from reprobox.lock.requirements_file import read_requirements_file
from reprobox.lock.sanitize import sanitize_requirements


def collect_requirements(
    requirements_file: str | Path | None = None,
    *,
    python: str | None = None,
    root: str | Path | None = None,
) -> CollectedRequirements:
    """Return portable requirement lines from a file, or from the env of python."""
    if requirements_file is None and python is None:
        raise InputError(
            "nothing to lock: give a requirements file or --from-env with a python"
        )

    installed: dict[str, str] = {}
    if python is not None:
        distributions = read_installed_distributions(python)
        installed = {canonical_name(d.name): d.version for d in distributions}

    if requirements_file is not None:
        entries, warnings = read_requirements_file(requirements_file, root=root)
        source = "requirements"
    else:
        entries, warnings = environment_entries(distributions, root=root)
        source = "env"

    lines, sanitize_warnings, needs_git = sanitize_requirements(entries, installed)
    return CollectedRequirements(
        lines=tuple(lines),
        warnings=tuple(warnings + sanitize_warnings),
        needs_git=needs_git,
        source=source,
        installed_versions=installed,
    )
