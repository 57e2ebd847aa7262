"""Gather the requirements to lock from a requirements file or a live environment."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from reprobox.errors import InputError, LockError
from reprobox.lock.entries import CollectedRequirements, canonical_name
from reprobox.lock.environment import (
    environment_entries,
    read_installed_distributions,
)
from reprobox.lock.requirements_file import read_requirements_file
from reprobox.lock.sanitize import is_local_url, sanitize_requirements


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
    skipped: list[str] = []
    if python is not None:
        distributions = read_installed_distributions(python, skipped)
        installed = {canonical_name(d.name): d.version for d in distributions}

    if requirements_file is not None:
        entries, warnings = read_requirements_file(requirements_file, root=root)
        source = "requirements"
    else:
        entries, warnings = environment_entries(distributions, root=root)
        warnings = skipped + warnings
        source = "env"

    lines, sanitize_warnings, needs_git = sanitize_requirements(entries, installed)
    local = {
        entry.name: str(entry.requirement.url)
        for entry in entries
        if source == "env"
        and entry.requirement.url
        and is_local_url(entry.requirement.url)
    }
    return CollectedRequirements(
        lines=tuple(lines),
        warnings=tuple(warnings + sanitize_warnings),
        needs_git=needs_git,
        source=source,
        installed_versions=installed,
        local_installs=local,
        origins={entry.name: entry.origin for entry in entries}
        if source == "requirements"
        else {},
    )


# How uv and pip say the index has no such name or version; each group is a name.
_NOT_ON_INDEX = [
    re.compile(pattern)
    for pattern in (
        r"(\S+) was not found in the (?:package registry|provided package locations)",
        r"there is no version of ([^\s=<>!~\[;]+)",
        r"only ([^\s=<>!~\[;]+)\S* (?:is|are) available and you require",
        r"No matching distribution found for ([^\s=<>!~\[;]+)",
        r"satisfies the requirement ([^\s=<>!~\[;]+)",
    )
]


def local_install_not_on_index(
    reason: str, collected: CollectedRequirements
) -> LockError | None:
    """Return the error naming a locally installed package the index lacks.

    reason is the resolver's one-line failure; None when it names no package
    that the live environment had from a path on this machine.
    """
    named = [
        canonical_name(found.group(1))
        for pattern in _NOT_ON_INDEX
        for found in pattern.finditer(reason)
    ]
    name = next((n for n in named if n in collected.local_installs), None)
    if name is None:
        return None
    url = collected.local_installs[name]
    parts = urlsplit(url)
    where = url2pathname(unquote(parts.path)) if parts.scheme == "file" else url
    version = collected.installed_versions.get(name, "?")
    return LockError(
        f"{name} {version} was installed from {where} on this machine (so says "
        f"its direct_url.json), and the package index has no {name} {version} "
        "for the image to install",
        hint=f"publish {name} to an index named in packages.index_url or "
        "extra_index_urls, reinstall it from git at a commit, or uninstall it "
        "from that environment if training does not need it; then freeze again",
    )
