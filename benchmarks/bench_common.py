"""Timing, process and Docker helpers shared by the benchmark modules."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
CA = "/etc/ssl/certs/ca-certificates.crt"
DOCKER = "/usr/bin/docker"  # 20.10: BuildKit with DOCKER_BUILDKIT=1
BASE = "reprobox-base:bookworm-py3.11"


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    reprobox: str
    alternative: str
    ratio: str
    target: str
    met: str


def clean_env(**extra: str) -> dict[str, str]:
    """Return os.environ without PIP_/UV_/DOCKER_ settings, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_", "DOCKER_", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def sh(argv, *, env=None, cwd=None, check=True, timeout=900) -> subprocess.CompletedProcess:
    """Run argv, capture its output, fail loudly with the tail on error."""
    proc = subprocess.run(argv, env=env or clean_env(), cwd=cwd, text=True,
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {proc.returncode}\n{tail}")
    return proc


def clock(func) -> float:
    """Return the wall time of func() in seconds."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def median(values) -> float:
    return statistics.median(values)


def nonce() -> str:
    return uuid.uuid4().hex[:10]


def fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def fmt_times(values) -> str:
    """Median and the spread of the runs, e.g. '1.20 s (n=3, 1.1-1.4)'."""
    m = median(values)
    if len(values) == 1:
        return f"{fmt_s(m)} (n=1)"
    return f"{fmt_s(m)} (n={len(values)}, {fmt_s(min(values))}–{fmt_s(max(values))})"


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def docker_build(context: Path, dockerfile: Path, tag: str) -> None:
    """Build with BuildKit, the proxy's CA given as a secret."""
    sh([DOCKER, "build", "-q", "-f", str(dockerfile), "--secret",
        f"id=ca_cert,src={CA}", "-t", tag, str(context)],
       env=clean_env(DOCKER_BUILDKIT="1"))


def remove_images(*refs: str) -> None:
    """Remove images by tag; missing ones are fine."""
    if refs:
        sh([DOCKER, "rmi", "-f", *refs], check=False)


def image_size(ref: str) -> int:
    out = sh([DOCKER, "image", "inspect", "--format", "{{.Size}}", ref]).stdout
    return int(out.strip())


def cache_record_ids() -> set[str]:
    """Return the ids of the engine's BuildKit cache records."""
    out = sh([DOCKER, "system", "df", "-v", "--format", "{{json .BuildCache}}"]).stdout
    return {r["ID"] for r in json.loads(out or "[]") or []}


def prune_records(ids) -> None:
    """Drop the given build-cache records (those this benchmark made)."""
    left = set(ids)
    for _ in range(3):  # a parent goes only once its children are gone
        for rid in sorted(left):
            sh([DOCKER, "builder", "prune", "-af", "--filter", f"id={rid}"], check=False)
        left &= cache_record_ids()
        if not left:
            return


def machine_facts() -> dict[str, str]:
    """Return the facts printed above the table."""
    server = sh([DOCKER, "version", "--format", "{{.Server.Version}}"]).stdout.strip()
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cores": str(os.cpu_count()), "cpu": model, "docker": server,
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}
