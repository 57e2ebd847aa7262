"""Locks and freeze: reprobox (uv) vs pip-compile, capture vs importing TF, scaling."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from bench_build import PROJECT
from bench_common import (
    CA, HERE, WORK, Row, clean_env, clock, fmt_s, fmt_times, median, met, sh,
)

PACKAGES_FILE = HERE / "light_packages.txt"
SIZES = (10, 50, 200)

_LOCK_DRIVER = """
import json, sys
from reprobox.lock import resolve_lock
lines = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith('#')]
print(json.dumps(resolve_lock(lines, ca_cert=sys.argv[2]).pins))
"""
_CAPTURE_DRIVER = """
import os, sys
from reprobox.freeze import _host_facts
from reprobox.lock import collect_requirements
_host_facts(os.environ)
print(len(collect_requirements(None, python=sys.argv[1]).lines))
"""


def _reprobox_lock(requirements: Path) -> dict:
    out = sh([sys.executable, "-c", _LOCK_DRIVER, str(requirements), CA]).stdout
    return json.loads(out)


def _pip_compile(requirements: Path) -> dict:
    env = clean_env(PIP_CONFIG_FILE="/dev/null", PIP_CERT=CA,
                    PIP_DISABLE_PIP_VERSION_CHECK="1")
    out = sh([sys.executable, "-m", "piptools", "compile", "--quiet", "--no-header",
              "--generate-hashes", "--allow-unsafe", "--strip-extras",
              "--output-file", "-", str(requirements)], env=env).stdout
    return {m.group(1).lower().replace("_", "-"): m.group(2) for m in
            re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", out, re.M)}


def bench_lock(n: int) -> Row:
    """Lock the example's requirements: reprobox vs pip-compile, pins compared."""
    requirements = PROJECT / "requirements.txt"
    _reprobox_lock(requirements)  # warm both caches before timing
    _pip_compile(requirements)
    ours, theirs, pins = [], [], {}
    for _ in range(n):
        ours.append(clock(lambda: pins.update(ours=_reprobox_lock(requirements))))
        theirs.append(clock(lambda: pins.update(theirs=_pip_compile(requirements))))
    norm = {k.lower().replace("_", "-").replace(".", "-"): v
            for k, v in pins["ours"].items()}
    other = {k.replace(".", "-"): v for k, v in pins["theirs"].items()}
    differ = sorted(k for k in set(norm) | set(other) if norm.get(k) != other.get(k))
    same = "same pins" if not differ else "pins differ: " + ", ".join(
        f"{k} {norm.get(k)} vs {other.get(k)}" for k in differ)
    ratio = median(theirs) / median(ours)
    return Row(f"lock resolution, example requirements ({len(norm)} pins, {same})",
               fmt_times(ours), fmt_times(theirs), f"{ratio:.1f}× faster",
               "≥ 50× faster, same pins", met(ratio >= 50 and not differ))


def bench_capture(n: int, tf_python: Path) -> Row:
    """Capture facts and packages of an env with TF vs importing TF there."""
    ours, theirs = [], []
    for _ in range(n):
        ours.append(clock(lambda: sh([sys.executable, "-c", _CAPTURE_DRIVER,
                                      str(tf_python)])))
        theirs.append(clock(lambda: sh([str(tf_python), "-c", "import tensorflow"])))
    ratio = median(ours) / median(theirs)
    return Row("`reprobox freeze` capture only, env with TensorFlow", fmt_times(ours),
               fmt_times(theirs) + " import tensorflow", f"{ratio:.2f}×",
               "faster than importing TF (< 1.0×)", met(ratio < 1.0))


def _scaling_env(size: int) -> tuple[Path, Path]:
    """Return (requirements file, venv python) for the first `size` packages."""
    names = [l.strip() for l in PACKAGES_FILE.read_text().splitlines() if l.strip()]
    folder = WORK / f"scale-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{name}\n" for name in names[:size]))
    python = folder / "venv" / "bin" / "python"
    if not python.exists():
        sh(["uv", "venv", "-q", "--python", "/usr/bin/python3", str(folder / "venv")])
        sh(["uv", "pip", "install", "-q", "--no-config", "--python", str(python),
            "-r", str(requirements)], env=clean_env(SSL_CERT_FILE=CA))
    (folder / "reprobox.toml").write_text(
        f'name = "scale{size}"\ncommand = "python -c pass"\npython = "3.11"\n'
        'base_image = "reprobox-base:bookworm-py3.11"\n\n[packages]\n'
        'requirements = "requirements.txt"\n')
    return requirements, python


def bench_scaling(n: int) -> list[str]:
    """Return table lines: capture, lock and freeze time for 10, 50, 200 packages."""
    lines = ["| requirements | installed in env | capture (from env) | lock (uv) | "
             "`reprobox freeze --from-env` |", "|---|---|---|---|---|"]
    for size in SIZES:
        requirements, python = _scaling_env(size)
        count = len(sh(["uv", "pip", "list", "--python", str(python),
                        "--format", "freeze"]).stdout.split())
        capture, lock, freeze = [], [], []
        for _ in range(n):
            capture.append(clock(lambda: sh([sys.executable, "-c", _CAPTURE_DRIVER,
                                             str(python)])))
            lock.append(clock(lambda: _reprobox_lock(requirements)))
            freeze.append(clock(lambda: sh(
                ["reprobox", "-q", "freeze", "--from-env", "--python-exe", str(python),
                 "--ca-cert", CA, "."], cwd=requirements.parent)))
        lines.append(f"| {size} | {count} | {fmt_times(capture)} | {fmt_times(lock)} | "
                     f"{fmt_times(freeze)} |")
    return lines


__all__ = ["bench_lock", "bench_capture", "bench_scaling", "fmt_s"]
