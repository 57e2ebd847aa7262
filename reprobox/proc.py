"""The one place reprobox starts subprocesses, and cleans up after killed ones."""

from __future__ import annotations

import contextlib
import ctypes
import functools
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

from reprobox.stopping import STOPPING as STOP_SIGNALS

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


def _prepare_child(restore: Sequence[int], mask: set) -> None:
    """In the child, between fork and exec: die with reprobox, then take signals.

    The stop signals come in held (start_process); they are let in only once
    the handlers inherited from reprobox are back to the default, as exec
    would set them: one that came meanwhile ends the child, not Python in it.
    """
    die_with_parent()
    for sig in restore:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def start_process(argv: Sequence[str], **popen_args) -> Iterator[subprocess.Popen]:
    """Start argv, which dies with reprobox; stop it if the block is left by an error.

    Between fork and exec both sides run Python (fork hooks, the prctl call),
    where a Ctrl-C was printed by the child as "Exception ignored" or dropped
    by reprobox's own fork hooks, which then went on as if it never came. So
    the stop signals are held across the start; reprobox takes one that came
    right after it, inside the block, and the child just before its exec.
    """
    restore = [sig for sig in STOP_SIGNALS if callable(signal.getsignal(sig))]
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        proc = subprocess.Popen(
            argv,
            preexec_fn=functools.partial(_prepare_child, restore, mask),
            **popen_args,
        )
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    with proc:  # closes its pipes and reaps it
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            yield proc
        except BaseException:
            _stop(proc)
            raise


def _stop(proc: subprocess.Popen) -> None:
    """Ask the child to stop, as a Ctrl-C would, then kill it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


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
    with start_process(
        argv,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        stdout, stderr = child.communicate(input, timeout=timeout)
    proc = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
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
