"""The one place reprobox starts subprocesses, and cleans up after killed ones."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

log = logging.getLogger("reprobox")

_PR_SET_PDEATHSIG = 1  # prctl option: signal the child when its parent dies
# Loaded here, in the parent: a child between fork and exec should only call.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """In the child: get SIGTERM when reprobox dies, even by SIGKILL (Linux).

    A resolver or build left running after reprobox was killed would go on
    with nobody to read it, holding index credentials in its environment.
    """
    if _LIBC is None:
        return
    parent = os.getppid()
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # reprobox died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run argv (never through a shell) and return its captured output.

    The child ends with reprobox: a reprobox killed outright leaves none behind.
    """
    argv = [str(a) for a in argv]
    log.info("running: %s", " ".join(argv))
    proc = subprocess.run(
        argv,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        preexec_fn=die_with_parent,
    )
    if proc.stdout:
        log.debug("stdout of %s:\n%s", argv[0], proc.stdout)
    if proc.stderr:
        log.debug("stderr of %s:\n%s", argv[0], proc.stderr)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(
            proc.returncode, argv, proc.stdout, proc.stderr
        )
    return proc


def pid_alive(pid: int) -> bool:
    """Tell whether a process of that id lives (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_folders(prefix: str, folder: str | None = None) -> list[str]:
    """Remove temp folders whose reprobox was killed; return their names.

    Each folder is named prefix + the pid of the reprobox that made it; one
    whose process is gone was left by a reprobox killed outright (SIGKILL).
    """
    folder = folder or tempfile.gettempdir()
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = re.fullmatch(rf"{re.escape(prefix)}(\d+)-\w+", entry.name)
            if not match or not entry.is_dir(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            if pid_alive(int(match.group(1))):
                continue  # that reprobox still runs
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return sorted(removed)


@contextlib.contextmanager
def process_temp_folder(prefix: str) -> Iterator[Path]:
    """Yield a temp folder named after this process, after sweeping stale ones."""
    remove_stale_folders(prefix)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as tmp:
        yield Path(tmp)
