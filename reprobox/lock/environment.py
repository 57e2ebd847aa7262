"""Read the packages of the Python environment the user trained in."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from reprobox import proc
from reprobox.errors import InputError, LockError
from reprobox.lock.entries import ENVIRONMENT_ORIGIN, RequirementEntry, canonical_name
from reprobox.lock.indexes import redact_url

# Installer tooling and reprobox itself are not part of the training setup.
EXCLUDED_DISTRIBUTIONS = frozenset({"pip", "setuptools", "wheel", "reprobox"})

# Runs inside the user's interpreter (Python 3.8+): metadata only, no imports of
# the packages themselves, so no framework starts up.
_READ_DISTRIBUTIONS = """
import json, re, sys
from importlib import metadata
found = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name:
        continue
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in found:
        continue
    try:
        direct_url = dist.read_text("direct_url.json")
    except Exception:
        direct_url = None
    found[key] = {"name": name, "version": dist.version, "direct_url": direct_url}
json.dump([found[key] for key in sorted(found)], sys.stdout)
"""


@dataclass(frozen=True)
class InstalledDistribution:
    """One installed distribution and, if any, its PEP 610 direct_url.json text."""

    name: str
    version: str
    direct_url: str | None = None


def read_installed_distributions(python: str) -> list[InstalledDistribution]:
    """Return the distributions installed for the given Python executable."""
    try:
        completed = proc.run_command([python, "-c", _READ_DISTRIBUTIONS], timeout=120)
    except FileNotFoundError:
        raise InputError(f"Python executable not found: {python}") from None
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise InputError(
            f"cannot list the packages of {python}: {tail[0]}",
            hint="give the python of the environment you trained in",
        ) from None
    except subprocess.TimeoutExpired:
        raise InputError(f"listing the packages of {python} took over 120 s") from None
    try:
        rows = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise InputError(f"{python} printed no package list; is it a Python?") from None
    return [
        InstalledDistribution(row["name"], row["version"], row.get("direct_url"))
        for row in rows
    ]


def environment_entries(
    distributions: list[InstalledDistribution],
) -> tuple[list[RequirementEntry], list[str]]:
    """Return one requirement per installed distribution, and warnings."""
    entries: list[RequirementEntry] = []
    warnings: list[str] = []
    for dist in sorted(distributions, key=lambda d: canonical_name(d.name)):
        if canonical_name(dist.name) in EXCLUDED_DISTRIBUTIONS:
            continue
        line = _requirement_line(dist, warnings)
        if line is None:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise LockError(
                f"{ENVIRONMENT_ORIGIN}: {dist.name} {dist.version} cannot be written "
                f"as a requirement: {exc}"
            ) from None
        entries.append(RequirementEntry(requirement, ENVIRONMENT_ORIGIN))
    return entries, warnings


def _requirement_line(dist: InstalledDistribution, warnings: list[str]) -> str | None:
    pinned = f"{dist.name}=={dist.version}"
    if not dist.direct_url:
        return pinned
    try:
        origin = json.loads(dist.direct_url)
        url = origin["url"]
    except (json.JSONDecodeError, KeyError, TypeError):
        warnings.append(
            f"{dist.name}: unreadable direct_url.json; locked as {pinned} from an index"
        )
        return pinned

    if "vcs_info" in origin:
        return _vcs_line(dist, url, origin)
    if origin.get("dir_info", {}).get("editable"):
        warnings.append(
            f"{dist.name} is an editable install of a local folder and is not locked; "
            "the project's own code reaches the image through the build context"
        )
        return None
    # A local file or folder becomes a file URL here; sanitising pins its version.
    return f"{dist.name} @ {url}"


def _vcs_line(dist: InstalledDistribution, url: str, origin: dict) -> str:
    vcs_info = origin["vcs_info"]
    vcs = vcs_info.get("vcs")
    commit = vcs_info.get("commit_id")
    if vcs != "git":
        raise LockError(
            f"{dist.name} was installed from {vcs} ({redact_url(url)}); "
            "only git sources can be locked",
            hint=f"install {dist.name} from an index or a git repository",
        )
    if not commit:
        raise LockError(f"{dist.name}: direct_url.json names no git commit")
    line = f"{dist.name} @ git+{url}@{commit}"
    subdirectory = origin.get("subdirectory")
    if subdirectory:
        line += f"#subdirectory={subdirectory}"
    return line
