"""Read a project's requirements file (with -r includes) into requirement entries."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from reprobox.errors import InputError, LockError
from reprobox.lock.entries import RequirementEntry
from reprobox.lock.indexes import redact_text
from reprobox.paths import is_link_loop
from reprobox.secret_shapes import url_credential

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# A requirements "file" of this name means its [project].dependencies.
PYPROJECT = "pyproject.toml"

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_PER_REQUIREMENT_OPTIONS = re.compile(r"\s--[a-zA-Z].*$")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tar.bz2", ".tgz", ".zip")
_INCLUDE = ("-r", "--requirement")
_CONSTRAINT = ("-c", "--constraint")
_EDITABLE = ("-e", "--editable")
_INDEX_OPTIONS = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-index",
)


def read_requirements_file(
    path: str | Path,
    *,
    root: str | Path | None = None,
) -> tuple[list[RequirementEntry], list[str]]:
    """Return the requirements in path and its -r includes, and warnings.

    Includes must stay inside root (the project folder; by default the folder
    of path): a file outside it is not part of what is shared, and a change to
    it would go unseen.
    """
    entries: list[RequirementEntry] = []
    warnings: list[str] = []
    top = Path(path)
    if top.name == PYPROJECT:
        for index, line in enumerate(_pyproject_dependencies(top)):
            origin = f"{top}: project.dependencies[{index}]"
            entries.append(RequirementEntry(_parse_requirement(line, origin), origin))
        return entries, warnings
    base = Path(root) if root is not None else top.parent
    _read_into(top, entries, warnings, including=(), root=base.resolve())
    return entries, warnings


def requirements_digest(path: str | Path, *, root: str | Path | None = None) -> str:
    """Return the sha256 that says whether path or its -r includes changed.

    A file with no includes hashes to the sha256 of its bytes; with includes,
    each file's path (relative to the first one's folder) and bytes go in. For a
    pyproject.toml, only its [project].dependencies count.
    """
    top = Path(path)
    if top.name == PYPROJECT:
        listed = json.dumps(_pyproject_dependencies(top), separators=(",", ":"))
        return hashlib.sha256(listed.encode("utf-8")).hexdigest()
    base = (Path(root) if root is not None else top.parent).resolve()
    files = requirements_files(top, root=base)
    if len(files) == 1:
        return hashlib.sha256(files[0].read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for file in files:
        for part in (
            file.resolve().relative_to(base).as_posix().encode(),
            file.read_bytes(),
        ):
            digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def requirements_files(
    path: str | Path, *, root: str | Path | None = None
) -> list[Path]:
    """Return path and every file it includes with -r, each once, as named.

    An include that is missing or outside root is left out: reading for the
    lock says what is wrong with it.
    """
    top = Path(path)
    if top.name == PYPROJECT:
        return [top]
    files: list[Path] = []
    base = (Path(root) if root is not None else top.parent).resolve()
    _walk_includes(top, files, base)
    return files


def requirements_named(path: str | Path, *, root: str | Path | None = None) -> str:
    """Name path for a message about its contents, with the files it includes.

    The manifest keeps one digest for path and its -r includes together, so a
    change is known to be in one of them, not which: "requirements.txt or a
    file it includes (other.txt)". A file with no includes is named alone. An
    include that cannot be read, at any level, is said to be so first, in its
    own sentence: "reqs/more.txt, included by reqs/base.txt, is missing."
    """
    top = Path(path)
    base = (Path(root) if root is not None else top.parent).resolve()
    files: list[Path] = []
    faults: list[tuple[Path, Path, str]] = []
    _walk_includes(top, files, base, faults)
    sentences = [
        f"{_shown(included, base)}, included by {_shown(by, base)}, {fault}. "
        for included, by, fault in faults
    ]
    shown = [_shown(file, base) for file in files[1:]]
    for included, _, _ in faults:
        if _shown(included, base) not in shown:
            shown.append(_shown(included, base))
    if not shown:
        return "".join(sentences) + str(top)
    return "".join(sentences) + f"{top} or a file it includes ({', '.join(shown)})"


def _shown(file: Path, root: Path) -> str:
    """Name file from the project folder, keeping its own name if it is a link."""
    try:
        return (file.parent.resolve() / file.name).relative_to(root).as_posix()
    except (ValueError, OSError, RuntimeError):  # outside: as the -r line named it
        return str(file)


def pyproject_declares_dependencies(path: Path) -> bool:
    """Tell whether pyproject.toml has [project] dependencies, listed or dynamic."""
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8-sig")).get("project")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    if not isinstance(project, dict):
        return False
    dynamic = project.get("dynamic")
    return "dependencies" in project or (
        isinstance(dynamic, list) and "dependencies" in dynamic
    )


def _pyproject_dependencies(path: Path) -> list[str]:
    """Return [project].dependencies of a pyproject.toml, checked."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8"
        ) from None
    try:
        project = tomllib.loads(text).get("project")
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    project = project if isinstance(project, dict) else {}
    dynamic = project.get("dynamic")
    if isinstance(dynamic, list) and "dependencies" in dynamic:
        raise InputError(
            f"{path}: project.dependencies is dynamic, so only its build backend "
            "knows them",
            hint="list them in requirements.txt and set packages.requirements to it",
        )
    listed = project.get("dependencies")
    if listed is None:
        raise InputError(
            f"{path}: no [project] dependencies to lock",
            hint='add dependencies = ["numpy==1.26.4", ...] under [project], or '
            "set packages.requirements to a requirements file",
        )
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise InputError(
            f"{path}: project.dependencies must be a list of strings",
            hint='e.g. dependencies = ["numpy==1.26.4"]',
        )
    return listed


def _walk_includes(
    path: Path,
    files: list[Path],
    root: Path,
    faults: list[tuple[Path, Path, str]] | None = None,
) -> None:
    """Add path and its -r includes, at all levels, each once, to files.

    An include that cannot be read goes to faults, if given, as (the include,
    the file whose -r line names it, what is wrong with it).
    """
    if path.resolve() in {f.resolve() for f in files}:
        return
    files.append(path)
    try:
        # Some editors start a file with a byte-order mark; pip skips it too.
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return  # reading for the lock says what is wrong with it
    for _, line in _logical_lines(text):
        option, value = _split_option(line)
        if option not in _INCLUDE or not value or _URL.match(value):
            continue
        included = path.parent / value
        fault = _include_fault(included, root)
        if fault is None:
            _walk_includes(included, files, root, faults)
        elif faults is not None and not any(
            _same_path(included, seen) for seen, _, _ in faults
        ):
            faults.append((included, path, fault[0]))


def _same_path(a: Path, b: Path) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


def _include_fault(included: Path, root: Path) -> tuple[str, str] | None:
    """Say what keeps an -r include from being read, and the fix; None if nothing.

    A link that leads to nothing is said to be one, wherever it points: only a
    file that exists outside root is "outside".
    """
    if is_link_loop(included):
        return (
            "is a symbolic link that loops (it leads back to itself)",
            "point the link at a real file, or fix the -r line",
        )
    if not included.exists():
        if os.path.lexists(included):
            return (
                "is a link to a missing file",
                "point the link at the file, or fix the -r line",
            )
        return (
            "is missing",
            "restore it, or fix the -r line; paths are relative to the file "
            "that includes them",
        )
    if not included.resolve().is_relative_to(root):
        return (
            f"is outside the project folder {root}",
            "copy the file into the project and include it from there",
        )
    if included.is_dir():
        return ("is a folder", "name the requirements file itself in the -r line")
    if not included.is_file():
        return (
            "is not a regular file (a FIFO, socket or device)",
            "include a regular file",
        )
    return None


def _read_into(
    path: Path,
    entries: list[RequirementEntry],
    warnings: list[str],
    including: tuple[Path, ...],
    root: Path,
) -> None:
    resolved = path.resolve()
    if resolved in including:
        raise LockError(f"{path}: includes itself through -r", hint="remove the loop")
    if not resolved.is_relative_to(root):
        raise LockError(
            f"{path} is outside the project folder {root} (through a link)",
            hint="copy the file into the project",
        )
    if path.is_dir():
        raise InputError(
            f"{path} is a folder, not a requirements file",
            hint="name the requirements file itself",
        )
    try:
        # Some editors start a file with a byte-order mark; pip skips it too.
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(
            f"cannot read requirements file {path}: {exc.strerror}"
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (byte {exc.start})",
            hint="save it as UTF-8",
        ) from None
    for number, line in _logical_lines(text):
        origin = f"{path}:{number}"
        option, value = _split_option(line)
        if option in _INCLUDE:
            _read_into(
                _included_path(path, value, origin, root),
                entries,
                warnings,
                (*including, resolved),
                root,
            )
        elif option is not None:
            _check_option(option, value, origin, warnings)
        else:
            if "--hash" in line:
                warnings.append(
                    f"{origin}: its --hash is not kept; the lock pins the hashes "
                    "the index serves for the resolved version"
                )
            entries.append(RequirementEntry(_parse_requirement(line, origin), origin))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Return (first line number, line) with comments gone and continuations joined."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        stripped = _COMMENT.sub("", raw).rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = (pending + stripped).strip()
        pending = ""
        if line:
            lines.append((start, line))
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def _split_option(line: str) -> tuple[str | None, str]:
    if not line.startswith("-"):
        return None, ""
    if line.startswith("--"):
        option = re.split(r"[=\s]", line, maxsplit=1)[0]
        return option, line[len(option) :].lstrip("= \t")
    # Short options may be glued to their value: -rbase.txt
    return line[:2], line[2:].strip()


def _included_path(including_file: Path, value: str, origin: str, root: Path) -> Path:
    if not value:
        raise LockError(f"{origin}: -r needs a file name")
    if _URL.match(value):
        raise LockError(
            f"{origin}: -r {redact_text(value)} is a URL; only files can be included",
            hint="copy the file into the project",
        )
    included = including_file.parent / value
    fault = _include_fault(included, root)
    if fault is not None:
        raise LockError(f"{origin}: -r {value} {fault[0]}", hint=fault[1])
    return included


def _check_option(option: str, value: str, origin: str, warnings: list[str]) -> None:
    if option in _EDITABLE and re.match(r"(git|hg|svn|bzr)\+", value, re.I):
        raise LockError(
            f"{origin}: editable install '{option} {redact_text(value)}' cannot be "
            "locked: an editable checkout has no fixed commit",
            hint="drop the -e and write it as 'name @ git+URL@<commit>'",
        )
    if option in _EDITABLE:
        raise LockError(
            f"{origin}: editable install '{option} {redact_text(value)}' cannot be "
            "locked: it points at a folder on this machine",
            hint="install the project's own code from the build context, and write "
            "other packages as name==version or 'name @ git+URL@<commit>'",
        )
    if option in _CONSTRAINT:
        raise LockError(
            f"{origin}: constraints files ({option}) are not supported",
            hint="put the pins into the requirements file itself",
        )
    if option in _INDEX_OPTIONS and url_credential(value):
        # The file itself goes into the image, credential and all.
        raise LockError(
            f"{origin}: '{option} {redact_text(value)}' holds a credential, and "
            "this file is copied into the image",
            hint="remove the line; declare the index in the project config, its "
            "credential as a ${NAME} reference",
        )
    if option in _INDEX_OPTIONS:
        warnings.append(
            f"{origin}: ignored '{option} {redact_text(value)}'".rstrip()
            + ": indexes come only from the project config, never from a "
            "requirements file or this machine"
        )
        return
    warnings.append(f"{origin}: ignored pip option '{redact_text(option)}'")


def _parse_requirement(line: str, origin: str) -> Requirement:
    text = _PER_REQUIREMENT_OPTIONS.sub("", line).strip()
    if _looks_like_local_path(text):
        raise LockError(
            f"{origin}: '{text}' is a local path, which does not exist in the image",
            hint="pin the package as name==version from an index, or as "
            "'name @ git+URL@<commit>'",
        )
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
            raise LockError(
                f"{origin}: '{redact_text(text)}' is a URL without a package name",
                hint="write it as 'name @ URL'",
            ) from None
        first_line = str(exc).splitlines()[0]
        raise LockError(
            f"{origin}: not a valid requirement: {first_line}",
            hint="fix the line to one PEP 508 requirement, like 'name==1.2', "
            "'name[extra]>=1.0' or 'name @ URL'",
        ) from None


def _looks_like_local_path(text: str) -> bool:
    if "://" in text or " @ " in text or "@" in text.split(";")[0]:
        return False
    if text.startswith((".", "/", "~", "\\")) or re.match(r"^[a-zA-Z]:[\\/]", text):
        return True
    return text.split(";")[0].strip().endswith(_ARCHIVE_SUFFIXES)
