"""Read the packages of the Python environment the user trained in."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from reprobox import proc
from reprobox.errors import InputError, LockError
from reprobox.lock.entries import ENVIRONMENT_ORIGIN, RequirementEntry, canonical_name
from reprobox.lock.indexes import redact_text, redact_url

# Installer tooling and reprobox itself are not part of the training setup.
EXCLUDED_DISTRIBUTIONS = frozenset({"pip", "setuptools", "wheel", "reprobox"})
# A distribution name as PEP 508 allows it: nothing a requirement line could
# read as a version, marker or URL.
_DISTRIBUTION_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")

# Runs inside the user's interpreter (Python 3.8+): metadata only, no imports of
# the packages themselves, so no framework starts up. A folder whose metadata
# cannot be read, or names no package, comes back as a row with a "problem".
_READ_DISTRIBUTIONS = """
import json, re, sys
from importlib import metadata
found = {}
problems = []
for dist in metadata.distributions():
    folder = str(getattr(dist, "_path", "") or "")
    try:
        meta = dist.metadata
        name = meta["Name"] if meta is not None else None
        version = dist.version if name else None
    except UnicodeDecodeError:
        problems.append({"folder": folder, "problem": "its metadata is not UTF-8"})
        continue
    except Exception as exc:
        why = "%s: %s" % (type(exc).__name__, exc)
        problems.append({"folder": folder, "problem": why[:160]})
        continue
    if not name:
        has_file = any(dist.read_text(f) is not None for f in ("METADATA", "PKG-INFO"))
        why = "no Name in its metadata" if has_file else "no METADATA file"
        problems.append({"folder": folder, "problem": why, "skipped": True})
        continue
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in found:
        continue
    try:
        direct_url = dist.read_text("direct_url.json")
    except Exception:
        direct_url = None
    found[key] = {"name": name, "version": version, "direct_url": direct_url}
json.dump([found[key] for key in sorted(found)] + problems, sys.stdout)
"""
# The package a .dist-info or .egg-info folder was installed for.
_FOLDER_PACKAGE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._]*)-.*\.(?:dist|egg)-info")


# What the training Python answers before its packages are read: that it is a
# Python, and one that can read them (importlib.metadata, 3.8+).
_PROBE = "import sys; print('reprobox-python', *sys.version_info[:2])"
_PROBE_ANSWER = re.compile(r"reprobox-python (\d+) (\d+)")
_PYTHON_FIX = "give the Python of the environment you trained in, e.g. .venv/bin/python"


def check_training_python(python: str, named_by: str) -> tuple[int, int]:
    """Return python's (major, minor), refusing it unless it runs as a Python
    3.8 or later; named_by says where the path came from (`--python-exe X`),
    as the error names it."""
    # A bare name (python3.11) is looked up on PATH, as running it would.
    path = Path(shutil.which(python) or python if os.sep not in python else python)
    if not path.exists():
        raise InputError(
            f"{named_by}: not an executable Python (no such file)", hint=_PYTHON_FIX
        )
    if path.is_dir():
        inside = path / "bin" / "python"
        hint = f"give {inside}" if inside.is_file() else _PYTHON_FIX
        raise InputError(f"{named_by}: not an executable Python (a folder)", hint=hint)
    if not os.access(path, os.X_OK):
        raise InputError(
            f"{named_by}: not an executable Python (this user may not run it)",
            hint=_PYTHON_FIX,
        )
    try:
        done = proc.run_command([python, "-c", _PROBE], check=False, timeout=60)
    except OSError as exc:
        raise InputError(
            f"{named_by}: not an executable Python ({exc.strerror or exc})",
            hint=_PYTHON_FIX,
        ) from None
    except subprocess.TimeoutExpired:
        raise InputError(
            f"{named_by}: not an executable Python (no answer in 60 s)",
            hint=_PYTHON_FIX,
        ) from None
    answer = _PROBE_ANSWER.search(done.stdout or "")
    if done.returncode < 0:
        why = f"killed by {signal.Signals(-done.returncode).name}"
    elif done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
        why = f"exit {done.returncode}: {tail[0][:160]}"
    elif answer is None:
        why = "it printed no Python version"
    elif (int(answer[1]), int(answer[2])) < (3, 8):
        why = f"Python {answer[1]}.{answer[2]}; reading its packages needs 3.8+"
    else:
        return int(answer[1]), int(answer[2])
    raise InputError(f"{named_by}: not an executable Python ({why})", hint=_PYTHON_FIX)


@dataclass(frozen=True)
class InstalledDistribution:
    """One installed distribution and, if any, its PEP 610 direct_url.json text."""

    name: str
    version: str
    direct_url: str | None = None


def read_installed_distributions(
    python: str, warnings: list[str] | None = None
) -> list[InstalledDistribution]:
    """Return the distributions installed for the given Python executable.

    A metadata folder that names no package (no METADATA file) is skipped, as
    pip skips it, and said in warnings; one that cannot be read is refused.
    """
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
    if not isinstance(rows, list):
        rows = [None]  # refused below
    problems = [r for r in rows if isinstance(r, dict) and "problem" in r]
    rows = [r for r in rows if r not in problems]
    for problem in sorted(problems, key=lambda r: str(r.get("folder"))):
        _tell_problem(python, problem, warnings)
    if not all(
        isinstance(row, dict)
        and isinstance(row.get("name"), str)
        and isinstance(row.get("version"), str)
        and isinstance(row.get("direct_url"), (str, type(None)))
        for row in rows
    ):
        raise InputError(
            f"{python} printed a package list reprobox cannot read",
            hint="give the python of the environment you trained in",
        )
    return [
        InstalledDistribution(row["name"], row["version"], row.get("direct_url"))
        for row in rows
    ]


def _tell_problem(python: str, problem: dict, warnings: list[str] | None) -> None:
    """Refuse a metadata folder that cannot be read; warn of one skipped."""
    folder = str(problem.get("folder") or "a package's metadata folder")
    why = str(problem.get("problem"))
    package = _FOLDER_PACKAGE.fullmatch(Path(folder).name)
    named = package[1] if package else "the package it belongs to"
    if problem.get("skipped") is True:
        if warnings is not None:
            warnings.append(
                f"{ENVIRONMENT_ORIGIN}: {folder} has {why}, so it is skipped "
                f"and not locked; reinstall {named} there if training needs it, "
                "or remove the folder"
            )
        return
    raise InputError(
        f"cannot list the packages of {python}: {folder}: {why}",
        hint=f"reinstall {named} in that environment: "
        f"pip install --force-reinstall {named}"
        if package
        else "reinstall the package that folder belongs to",
    )


def environment_entries(
    distributions: list[InstalledDistribution],
    root: str | Path | None = None,
) -> tuple[list[RequirementEntry], list[str]]:
    """Return one requirement per installed distribution, and warnings.

    root is the project folder: an editable install inside it reaches the image
    as code, one outside it could not and is refused.
    """
    entries: list[RequirementEntry] = []
    warnings: list[str] = []
    for dist in sorted(distributions, key=lambda d: canonical_name(d.name)):
        if canonical_name(dist.name) == "reprobox":
            # Said, unlike the installers': training code may import it.
            warnings.append(
                f"{ENVIRONMENT_ORIGIN}: reprobox is installed there and left out "
                "of the lock: the image gets reprobox's start-up hook instead, so "
                "code that imports reprobox would not find it there"
            )
        if canonical_name(dist.name) in EXCLUDED_DISTRIBUTIONS:
            continue
        _check_metadata(dist)
        line = _requirement_line(dist, warnings, root)
        if line is None:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise LockError(
                f"{ENVIRONMENT_ORIGIN}: {dist.name} {dist.version} cannot be written "
                f"as a requirement: {str(exc).splitlines()[0]}"
            ) from None
        if requirement.marker is not None or canonical_name(
            requirement.name
        ) != canonical_name(dist.name):
            # Metadata spliced into the line read back as something else.
            raise LockError(
                f"{ENVIRONMENT_ORIGIN}: {dist.name}'s metadata does not read back "
                f"as one requirement ({redact_text(line)[:120]!r})",
                hint=f"reinstall {dist.name} in the training environment",
            )
        entries.append(RequirementEntry(requirement, ENVIRONMENT_ORIGIN))
    return entries, warnings


def _requirement_line(
    dist: InstalledDistribution, warnings: list[str], root: str | Path | None = None
) -> str | None:
    pinned = f"{dist.name}=={dist.version}"
    if not dist.direct_url:
        return pinned
    origin = _read_direct_url(dist.direct_url)
    if origin is None:
        warnings.append(
            f"{dist.name}: unreadable direct_url.json; locked as {pinned} from an index"
        )
        return pinned
    url = origin["url"]

    if "vcs_info" in origin:
        return _vcs_line(dist, url, origin)
    if origin.get("dir_info", {}).get("editable") is True:
        _check_editable_inside(dist, url, root)
        warnings.append(
            f"{dist.name} is an editable install of a local folder and is not locked; "
            "the project's own code reaches the image through the build context"
        )
        return None
    # A local file or folder becomes a file URL here; sanitising pins its version.
    return f"{dist.name} @ {url}"


def _check_editable_inside(
    dist: InstalledDistribution, url: str, root: str | Path | None
) -> None:
    """Refuse an editable install of a folder the build context does not hold."""
    if root is None:
        return
    parts = urlsplit(url)
    folder = Path(url2pathname(unquote(parts.path))) if parts.scheme == "file" else None
    project = Path(root).resolve()
    try:
        inside = folder is not None and folder.resolve().is_relative_to(project)
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    if inside:
        return
    shown = str(folder) if folder is not None else redact_url(url)
    raise LockError(
        f"{ENVIRONMENT_ORIGIN}: {dist.name} is an editable install of {shown}, "
        f"outside the project {project}, so the image would not have it",
        hint=f"install {dist.name} from an index or a git commit in that "
        "environment, or move its folder into the project",
    )


def _check_metadata(dist: InstalledDistribution) -> None:
    """Refuse a name or version that would not read back as one exact pin."""
    if not isinstance(dist.name, str) or not _DISTRIBUTION_NAME.fullmatch(dist.name):
        raise LockError(
            f"{ENVIRONMENT_ORIGIN}: an installed distribution is named "
            f"{str(dist.name)[:80]!r}, which is not a package name",
            hint="reinstall or remove it in the training environment",
        )
    try:
        Version(dist.version)
    except (InvalidVersion, TypeError):
        raise LockError(
            f"{ENVIRONMENT_ORIGIN}: {dist.name} has version "
            f"{str(dist.version)[:80]!r} in its metadata, which is not a version",
            hint=f"reinstall {dist.name} in the training environment",
        ) from None


def _read_direct_url(text: str) -> dict | None:
    """Return a PEP 610 direct_url.json as a dict of the expected shapes, or None."""
    try:
        origin = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(origin, dict) or not isinstance(origin.get("url"), str):
        return None
    for key in ("vcs_info", "dir_info", "archive_info"):
        if key in origin and not isinstance(origin[key], dict):
            return None
    vcs_info = origin.get("vcs_info", {})
    for key in ("vcs", "commit_id", "requested_revision"):
        if vcs_info.get(key) is not None and not isinstance(vcs_info[key], str):
            return None
    subdirectory = origin.get("subdirectory")
    if subdirectory is not None and not isinstance(subdirectory, str):
        return None
    # Each goes into one requirement line, where a space would end the URL.
    spliced = [origin["url"], vcs_info.get("commit_id") or "", subdirectory or ""]
    if any(re.search(r"\s", text) for text in spliced):
        return None
    return origin


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
