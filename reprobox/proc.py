"""The one place reprobox starts subprocesses."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence

log = logging.getLogger("reprobox")


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run argv (never through a shell) and return its captured output."""
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
