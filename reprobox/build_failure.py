"""Say in one line why an image build failed, when the log shows a known cause.

A failed `RUN` is the engine's way of reporting many things that are not
engine trouble: a base image without Python, a package that will not build
from source, an index the build container cannot reach. Each of those has a
fix the user can make, so it is named with that fix (and the exit code of bad
input); a failure this module does not recognise stays a BuildError with the
failing step and the log's tail.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Sequence
from pathlib import Path

from reprobox.atomic import atomic_write_text
from reprobox.errors import EngineError, InputError, ReproboxError, shortened
from reprobox.marker_files import odd_entry

# BuildKit's plain progress prefixes each line of a step's output: "#6 12.28 ".
_PREFIX = re.compile(r"^#\d+ (?:\d+\.\d+ )?")
_NO_PYTHON = re.compile(r"\bpython3: (?:\d+: )?(?:command )?not found")
# A base with no shell at all (FROM scratch and a few files): the engine
# cannot start a RUN step, python3 is never asked for.
_NO_SHELL = re.compile(r'exec: "/bin/sh": stat /bin/sh: no such file or directory')
# A USER by name on a base without /etc/passwd (a Dockerfile frozen with
# `USER root` before reprobox wrote it by number).
_NO_USER = re.compile(r"unable to find user ([^\s:]+)")
_NO_VENV = re.compile(r"ensurepip is not available|No module named venv")
# Why a connection failed, most telling first: the first found names it.
_NETWORK = [
    re.compile(reason)
    for reason in (
        r"Connection refused",
        r"Temporary failure in name resolution|Name or service not known",
        r"Network is unreachable|No route to host",
        r"Read timed out|ConnectTimeoutError",
        r"Failed to establish a new connection",
    )
]
_CERTIFICATE = re.compile(r"CERTIFICATE_VERIFY_FAILED")
# Python's "[Errno 13] Permission denied: '/opt/venv'", the shell's "cannot
# create /x: Permission denied", apt's "open (13: Permission denied)"; not
# ssh's "Permission denied (publickey)", a git+ssh source that wants a key.
_PERMISSION = re.compile(r"Permission denied(?! \()")
# What pip says last when retries to the index ran out.
_GAVE_UP = re.compile(
    r"No matching distribution found|Could not install packages due to an OSError"
)
_NO_DISTRIBUTION = re.compile(r"No matching distribution found for (\S+)")
_HASH_MISMATCH = re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES")
_HASH_LINE = re.compile(r"^\s+(\S+?)(?:==\S+)? from \S+")
_BUILD_FAILED = re.compile(
    r"Failed building wheel for (\S+)"
    r"|Failed to build installable wheels for some pyproject\.toml based "
    r"projects \((.+)\)"
    r"|Running setup\.py install for (\S+) did not run successfully"
)
_ENCOUNTERED = re.compile(r"Encountered error while trying to install package")
_ARROW = re.compile(r"^\s*╰─>\s*(\S+)\s*$")


def _step_output(lines: Sequence[str]) -> list[str]:
    """Return the build log's lines without BuildKit's step and time prefix."""
    return [_PREFIX.sub("", line) for line in lines]


def explain_build_failure(
    lines: Sequence[str],
    *,
    config: str,
    base_image: str,
    python: str,
    loopback_indexes: Sequence[str] = (),
    as_root: bool = True,
) -> ReproboxError | None:
    """Return the error that names why the build failed, or None when unknown.

    config is the project config file's name and base_image the image the
    build started from; loopback_indexes are the config keys of indexes that
    sit on this machine's loopback, which no build container can reach;
    as_root says whether the Dockerfile runs its build steps as root.
    """
    out = _step_output(lines)
    text = "\n".join(out)
    if _NO_SHELL.search(text):
        return InputError(
            f"{config}: base_image {base_image} has no /bin/sh (so no python3 "
            "either), which every build step runs in",
            hint="use a base image with python3 and python3-venv (such as "
            f"python:{python}-slim-bookworm), then freeze again",
        )
    no_user = _NO_USER.search(text)
    if no_user:
        return InputError(
            f"{config}: base_image {base_image} has no user {no_user.group(1)} "
            "(no /etc/passwd entry), which .reprobox/Dockerfile names by name",
            hint="freeze again: this reprobox names the build user by number; "
            "a base image with python3 and python3-venv has such a file",
        )
    if _NO_PYTHON.search(text):
        return InputError(
            f"{config}: base_image {base_image} has no python3, which the "
            "image's virtual environment is made with",
            hint="use a base image with python3 and python3-venv (such as "
            f"python:{python}-slim-bookworm), then freeze again",
        )
    if _NO_VENV.search(text):
        return InputError(
            f"{config}: base_image {base_image} has python3 without its venv module",
            hint="use a base image with python3-venv installed, then freeze again",
        )
    if _CERTIFICATE.search(text):
        return InputError(
            "the build container does not trust the package index's certificate "
            "(CERTIFICATE_VERIFY_FAILED)",
            hint="behind a TLS-inspecting proxy, give its CA with ca_cert in "
            f"{config}, --ca-cert or PIP_CERT, then freeze again",
        )
    # Before the index checks: pip ends a refused write with "Could not install
    # packages due to an OSError", which after a retried download reads as
    # an index out of reach.
    refused = next((line for line in out if _PERMISSION.search(line)), None)
    if refused:
        return _permission_error(refused.strip(), config, base_image, as_root)
    network = next(filter(None, (reason.search(text) for reason in _NETWORK)), None)
    if network and _GAVE_UP.search(text):
        reason = network.group(0)
        if loopback_indexes:
            keys = " and ".join(loopback_indexes)
            return InputError(
                f"{config}: {keys}: the build container cannot reach an index on "
                f"this machine's loopback ({reason})",
                hint="127.0.0.1 in a container is the container itself: serve "
                "the index on an address the engine's containers reach, set it "
                "in the config and freeze again",
            )
        return EngineError(
            f"the build container cannot reach the package index ({reason})",
            hint="the engine's containers need network access to the index "
            "(check the engine's proxy and DNS settings), or build on an "
            "engine that has it",
        )
    if _HASH_MISMATCH.search(text):
        names = [m.group(1) for m in map(_HASH_LINE.match, out) if m]
        which = f" ({', '.join(dict.fromkeys(names))})" if names else ""
        return InputError(
            "a package the build downloaded does not match its hash in "
            f"requirements.lock{which}: the index now serves other bytes than "
            "it did at freeze",
            hint="if the change is expected, freeze again to lock the new "
            "files; otherwise check the index",
        )
    failed = _failed_package(out)
    if failed:
        return InputError(
            f"package {failed} failed to build from source in the image "
            f"(Python {python}, {base_image})",
            hint=f"pin a {failed} version with a wheel for Python {python} on "
            "Linux x86_64, or use a base_image that has the compiler and headers "
            "it needs, then freeze again",
        )
    missing = _NO_DISTRIBUTION.search(text)
    if missing:
        return InputError(
            f"the build found no {missing.group(1)} on the package index it "
            "uses, although the lock names it",
            # The build's pip keeps index pages in its cache mount up to the
            # minutes PyPI allows: a release newer than that page is
            # locked (the resolver asked afresh) but not yet seen by the build.
            hint="either the lock was resolved against an index the build does "
            f"not use (check index_url and extra_index_urls in {config}, then "
            "freeze again), or the index published that version minutes ago "
            "and the page the build's pip cached does not list it yet (build "
            "again in a few minutes)",
        )
    return None


def _permission_error(
    line: str, config: str, base_image: str, as_root: bool
) -> InputError:
    said = shortened(line, 120)
    if not as_root:
        return InputError(
            f"{config}: base_image {base_image} ends on a user who may not write "
            f"where the build installs ({said}), and .reprobox/Dockerfile, frozen "
            "by an older reprobox, builds as that user",
            hint="freeze again: the Dockerfile it writes builds as root and "
            "trains as uid 1000, whatever user the base image ends on",
        )
    return InputError(
        f"{config}: base_image {base_image}: a build step running as root was "
        f"denied permission ({said})",
        hint="the base image's files refuse root in the build container (a "
        "rootless engine refuses files owned by users it does not map): use "
        "another base_image and freeze again, or build on another engine",
    )


def _failed_package(out: Sequence[str]) -> str | None:
    for index, line in enumerate(out):
        if _ENCOUNTERED.search(line):
            for following in out[index + 1 : index + 3]:
                arrow = _ARROW.match(following)
                if arrow:
                    return arrow.group(1)
    for line in out:
        found = _BUILD_FAILED.search(line)
        if found:
            return next(group for group in found.groups() if group)
    return None


BUILD_LOG = "build.log"


def _build_log_kind(path: Path) -> str | None:
    """Name what is at path when a build log may not replace it, else None.

    A regular file, nothing, or a link to a file or to nothing is replaced by
    a rename, which never writes through a link; a FIFO, folder or device is
    the user's, and writing through a FIFO would wait for a reader for ever.
    """
    what = odd_entry(path)
    if what != "a link":
        return what
    if path.is_file() or not path.exists():
        return None
    return "a link to a folder" if path.is_dir() else "a link to a special file"


def keep_build_log(state_dir: Path, text: str) -> tuple[Path | None, str | None]:
    """Write a failed build's log into state_dir's build.log.

    Return (its path, None), or (None, why it was not kept and the fix): the
    caller warns with it, so a log that cannot be kept never hides why the
    build failed.
    """
    path = state_dir / BUILD_LOG
    what = _build_log_kind(path)
    if what is None:
        try:
            atomic_write_text(path, text + "\n", mode=0o600)
            return path, None
        except InputError:  # made odd since the look
            what = _build_log_kind(path) or "not a regular file"
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                fix = f"make {path.parent} writable, then build again"
            else:
                fix = "fix that, then build again"
            return None, f"could not keep the build log in {path}: {reason} ({fix})"
    return None, (
        f"{path} is {what}, not a file reprobox wrote, so the build log was not "
        "kept there (move it away, then build again)"
    )


def drop_build_log(state_dir: Path) -> None:
    """Remove a failed build's log after a build that succeeded.

    Only what keep_build_log may write is removed: a FIFO or a folder there is
    the user's, and stays.
    """
    path = state_dir / BUILD_LOG
    if _build_log_kind(path) is None:
        with contextlib.suppress(OSError):
            os.unlink(path)
