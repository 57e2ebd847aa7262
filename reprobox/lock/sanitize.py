"""Rewrite requirements that would not install on linux/x86_64 elsewhere."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from packaging.requirements import Requirement

from reprobox.errors import LockError
from reprobox.index_urls import lower_scheme
from reprobox.lock.entries import RequirementEntry, canonical_name
from reprobox.lock.host_only import host_only_package
from reprobox.lock.indexes import redact_url

_FULL_COMMIT = re.compile(r"@[0-9a-f]{40}(#|$)")
_OTHER_VCS = ("hg+", "svn+", "bzr+")
# What pip installs a direct URL from, in the image as on any other machine.
_REMOTE_SCHEMES = ("http", "https", "git+https", "git+http", "git+ssh", "git+git")
# A query parameter with one of these in its name carries a credential.
_SECRET_PARAMETER = re.compile(r"token|key|secret|pass|auth|sig|cred", re.I)
# pip and uv fill ${NAME} in from the environment; the build has no such values.
_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def sanitize_requirements(
    entries: Sequence[RequirementEntry],
    installed_versions: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str], bool]:
    """Return portable requirement lines (sorted), warnings, and if git is needed."""
    present = {entry.name for entry in entries}
    names: dict[str, str] = {}  # requirement line -> canonical name
    warnings: list[str] = []
    pinned_local: list[str] = []

    for entry in entries:
        requirement = _replace_host_only(entry, present, warnings)
        if requirement is None:
            continue
        if requirement.url is not None and requirement.url != lower_scheme(
            requirement.url
        ):
            # uv reads `name @ HTTPS://...` as a local path named "HTTPS:".
            requirement = Requirement(str(requirement))
            requirement.url = lower_scheme(requirement.url)
        url = requirement.url
        if url is not None and is_local_url(url):
            requirement = _pin_installed(entry, installed_versions or {})
            pinned_local.append(str(requirement))
        elif url is not None:
            _check_remote_reference(entry, url, warnings)
        names[str(requirement)] = canonical_name(requirement.name)

    if pinned_local:
        warnings.append(
            "installed from local files (conda builds or wheels on this machine), "
            "locked at their installed versions from the index instead: "
            + ", ".join(sorted(pinned_local))
        )
    needs_git = any(" @ git+" in line for line in names)
    ordered = sorted(names, key=lambda line: (names[line], line))
    return ordered, warnings, needs_git


def _replace_host_only(
    entry: RequirementEntry, present: set[str], warnings: list[str]
) -> Requirement | None:
    requirement = entry.requirement
    host_only = host_only_package(entry.name)
    if host_only is None:
        return requirement
    what = f"{entry.origin}: {requirement.name} is {host_only.reason}"
    replacement = host_only.replacement
    if replacement is None:
        warnings.append(f"{what}; dropped, it does not install on Linux")
        return None
    if replacement in present or requirement.url is not None:
        warnings.append(f"{what}; dropped, {replacement} is locked instead")
        return None
    mapped = Requirement(str(requirement))
    mapped.name = replacement
    warnings.append(f"{what}; locked {mapped} instead")
    return mapped


def is_local_url(url: str) -> bool:
    """Tell whether a requirement's URL is a path on this machine."""
    scheme = urlsplit(url).scheme
    return scheme in ("", "file") or len(scheme) == 1  # one letter: a Windows drive


def _pin_installed(
    entry: RequirementEntry, installed: Mapping[str, str]
) -> Requirement:
    requirement = entry.requirement
    version = installed.get(entry.name)
    if version is None:
        raise LockError(
            f"{entry.origin}: {requirement.name} points at a local file "
            f"({requirement.url}) that does not exist in the image",
            hint=f"write {requirement.name}==<version> (the version installed where "
            "you trained), or freeze with --from-env",
        )
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    marker = f"; {requirement.marker}" if requirement.marker else ""
    return Requirement(f"{requirement.name}{extras}=={version}{marker}")


def _check_remote_reference(
    entry: RequirementEntry, url: str, warnings: list[str]
) -> None:
    name = entry.requirement.name
    if url.startswith(_OTHER_VCS):
        raise LockError(
            f"{entry.origin}: {name} comes from {url.split('+')[0]}; "
            "only git sources can be locked",
            hint=f"install {name} from an index or a git repository",
        )
    scheme = urlsplit(url).scheme.lower()
    if scheme.endswith("+file"):
        raise LockError(
            f"{entry.origin}: {name} @ {redact_url(url)} is a repository on this "
            "machine, which does not exist in the image",
            hint=f"push it and write {name} @ git+https://HOST/REPO@<commit>",
        )
    if scheme not in _REMOTE_SCHEMES:
        raise LockError(
            f"{entry.origin}: {name} @ {redact_url(url)}: pip cannot install from "
            f"{scheme}:// URLs",
            hint="use an https:// or git+https:// URL, or publish the package to "
            "a declared index",
        )
    parts = urlsplit(url)
    # git@host is ssh's user name, no secret; a password is one whatever the user.
    if parts.password is not None or parts.username not in (None, "git"):
        raise LockError(
            f"{entry.origin}: {name} @ {redact_url(url)} carries credentials, "
            "which would end up in the lock",
            hint="use a public URL, or publish the package to a declared index",
        )
    _check_url_query(entry, url)
    if url.startswith("git+") and not _FULL_COMMIT.search(url):
        warnings.append(
            f"{entry.origin}: {name} @ {redact_url(url)} names no commit; "
            "locked at the commit its branch points to now"
        )


def _check_url_query(entry: RequirementEntry, url: str) -> None:
    """Refuse a direct URL that carries a credential in its query or a ${NAME}."""
    name = entry.requirement.name
    if _VARIABLE.search(url):
        raise LockError(
            f"{entry.origin}: {name} @ {redact_url(_VARIABLE.sub('***', url))} "
            "reads an environment variable, which would be written into the lock "
            "and is not set in the build",
            hint="use a public URL, or publish the package to a declared index, "
            "whose credentials may be ${NAME} references",
        )
    for item in urlsplit(url).query.split("&"):
        key, _, value = item.partition("=")
        if value and _SECRET_PARAMETER.search(key):
            raise LockError(
                f"{entry.origin}: {name} @ {redact_url(url)} passes {key}= in its "
                "query string, a credential that would end up in the lock and "
                "the manifest",
                hint="use a public URL, or publish the package to a declared index, "
                "whose credentials may be ${NAME} references",
            )
