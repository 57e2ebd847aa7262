"""Read, check and normalise lock text (pip-tools requirements format with hashes)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from reprobox.errors import LockError
from reprobox.lock.entries import canonical_name
from reprobox.lock.indexes import BuildSecrets, redact_text
from reprobox.secret_shapes import credential_line

_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}\b")
_TRAILING_OPTIONS = re.compile(r"(\s+--[a-z-]+(=\S*)?)+\s*$")
_LOCAL_PATH = re.compile(r"(^|[\s=])(~?/|\.\.?/|[A-Za-z]:\\)")
_VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")


@dataclass(frozen=True)
class LockBlock:
    """One requirement of a lock: its first line number, name, pin and lines."""

    line_number: int
    name: str
    requirement: Requirement
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def is_vcs(self) -> bool:
        return (self.requirement.url or "").startswith(_VCS_SCHEMES)


def lock_sha256(text: str) -> str:
    """Return the sha256 hex digest of the lock text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lock_blocks(text: str) -> list[LockBlock]:
    """Split lock text into requirement blocks; top-level comments are left out."""
    blocks: list[LockBlock] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line[:1].isspace() and line.strip() and current:
            current.append(line.rstrip())
            continue
        if current:
            blocks.append(_make_block(start, current))
            current = []
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("-"):
            raise LockError(
                f"lock line {number}: option '{redact_text(stripped)}' is not allowed "
                "in a lock; it carries only pinned packages"
            )
        start, current = number, [line.rstrip()]
    if current:
        blocks.append(_make_block(start, current))
    return blocks


def _make_block(line_number: int, lines: list[str]) -> LockBlock:
    first = lines[0].rstrip("\\").strip()
    first = _TRAILING_OPTIONS.sub("", first)
    try:
        requirement = Requirement(first)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]  # packaging adds the line and a caret
        raise LockError(
            f"lock line {line_number}: not a requirement: {redact_text(reason)}"
        ) from None
    return LockBlock(
        line_number, canonical_name(requirement.name), requirement, tuple(lines)
    )


def parse_lock(text: str) -> dict[str, str]:
    """Return name -> pinned version (or direct URL) for every package in a lock."""
    pins: dict[str, str] = {}
    for block in lock_blocks(text):
        requirement = block.requirement
        if requirement.url:
            pins[block.name] = requirement.url
            continue
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator not in ("==", "==="):
            raise LockError(
                f"lock line {block.line_number}: {requirement.name} is not pinned "
                "to one version with =="
            )
        pins[block.name] = specifiers[0].version
    return pins


def verify_lock_hashes(text: str) -> None:
    """Raise LockError unless every package line of the lock carries a sha256 hash."""
    for block in lock_blocks(text):
        if not _HASH.search(block.text):
            raise LockError(
                f"lock line {block.line_number}: {block.requirement.name} has no "
                "--hash=sha256: entry, so pip cannot verify what it installs",
                hint="regenerate the lock with reprobox freeze instead of editing it",
            )


def check_lock_is_portable(text: str, secrets: BuildSecrets | None = None) -> None:
    """Raise LockError if text names an index, find-links, a local path or a secret.

    A secret is a credential written out on any line, comments included, or
    a value of secrets (the declared indexes' credentials).
    """
    # First, so that no message below can show it; comments too, as the lock
    # goes into the image as it is written.
    number = credential_line(text)
    if number is not None:
        raise LockError(
            "the lock would carry a credential (a token, or a password or token "
            f"in a URL) on line {number}; refused",
            hint="remove it from the requirements and freeze again",
        )
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        problem = None
        if stripped.startswith("-") and not stripped.startswith("--hash="):
            problem = "a pip option (index, find-links, editable...)"
        elif "file:" in stripped.lower():
            problem = "a file:// URL"
        elif _LOCAL_PATH.search(stripped):
            problem = "a local path"
        if problem:
            raise LockError(
                f"the lock would carry {problem} (line {number}: "
                f"{redact_text(stripped)!r}); a lock must install on any machine",
                hint="declare indexes in the project config; pin packages by version",
            )
    leaked = secrets.contains_in(text) if secrets else []
    if leaked:
        raise LockError(
            f"the lock would contain the credentials of {', '.join(leaked)}; refused"
        )
