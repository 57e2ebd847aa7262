"""Start Python as a user's shell starts reprobox: a fresh interpreter that
imports this checkout, without the REPROBOX_* variables of the test run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """Return this process's environment with this checkout on PYTHONPATH and
    no REPROBOX_* variable, which would change what reprobox does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROBOX_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def run_argv(
    argv: Sequence[str], *, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run argv in the clean environment, its output captured as text."""
    return subprocess.run(
        list(argv),
        env=clean_env(),
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_python(script: str, *, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a Python script (dedented) in a fresh interpreter."""
    return run_argv([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd)


def run_reprobox(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m reprobox ARGS` as a user would, through main()."""
    return run_argv([sys.executable, "-m", "reprobox", *args], cwd=cwd)
