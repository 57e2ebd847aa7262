"""Turn a training environment into a lock that installs on linux/x86_64 anywhere."""

from reprobox.lock.collect import collect_requirements
from reprobox.lock.entries import CollectedRequirements, RequirementEntry
from reprobox.lock.indexes import (
    BuildSecrets,
    PackageIndexes,
    default_ca_cert,
    redact_text,
    redact_url,
)
from reprobox.lock.lockfile import (
    check_lock_is_portable,
    lock_sha256,
    parse_lock,
    verify_lock_hashes,
)
from reprobox.lock.resolve import LockResult, manylinux_platform, resolve_lock
from reprobox.lock.sanitize import sanitize_requirements

__all__ = [
    "BuildSecrets",
    "CollectedRequirements",
    "LockResult",
    "PackageIndexes",
    "RequirementEntry",
    "check_lock_is_portable",
    "collect_requirements",
    "default_ca_cert",
    "lock_sha256",
    "manylinux_platform",
    "parse_lock",
    "redact_text",
    "redact_url",
    "resolve_lock",
    "sanitize_requirements",
    "verify_lock_hashes",
]
