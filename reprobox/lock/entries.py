"""The shapes requirements take on their way from a source to the resolver."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.requirements import Requirement

ENVIRONMENT_ORIGIN = "the live environment"


def canonical_name(name: str) -> str:
    """Return the PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class RequirementEntry:
    """One requirement as read, with where it came from (file:line or env)."""

    requirement: Requirement
    origin: str

    @property
    def name(self) -> str:
        return canonical_name(self.requirement.name)


@dataclass(frozen=True)
class CollectedRequirements:
    """Requirement lines ready for the resolver, and what was changed on the way."""

    lines: tuple[str, ...]
    warnings: tuple[str, ...]
    needs_git: bool
    source: str  # "requirements" or "env"
    installed_versions: dict[str, str]
    # Distributions of the live environment installed from a path on this
    # machine and locked from the index by their version: name -> that URL.
    local_installs: dict[str, str] = field(default_factory=dict)
    # Where each requirement of a file was read (file:line), by canonical name.
    origins: dict[str, str] = field(default_factory=dict)
