"""Runs: reprobox run overhead, thread fitting under a CPU quota, host vs container."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

from bench_build import PROJECT, build_tag, reprobox
from bench_common import (
    CA, DOCKER, WORK, Row, clean_env, clock, fmt_s, fmt_times, median, met, sh,
)

NOOP = WORK / "digits-noop"
HOST_VENV = Path(__file__).resolve().parent / ".venv-host"
HOST_PACKAGES = ("tensorflow-cpu==2.21.0", "scikit-learn==1.7.2")


def prepare_noop() -> str:
    """Freeze and build a copy of digits whose command does nothing; return its tag."""
    NOOP.mkdir(parents=True, exist_ok=True)
    for name in ("requirements.txt", "train.py"):
        shutil.copy2(PROJECT / name, NOOP / name)
    config = (PROJECT / "reprobox.toml").read_text()
    config = config.replace('name = "digits"', 'name = "digits-noop"')
    config = config.replace('command = "python train.py"', 'command = "python noop.py"')
    (NOOP / "reprobox.toml").write_text(config)
    (NOOP / "noop.py").write_text("pass\n")
    reprobox(["freeze", "--ca-cert", CA, "."], cwd=NOOP)
    out = reprobox(["build", "--ca-cert", CA, "--json", "."], cwd=NOOP).stdout
    return json.loads(out)["tag"]


def _plain_run_argv(image: str, project: Path, out_dir: str, cpus=None) -> list[str]:
    """docker run with the env, user, mounts and flags reprobox itself uses."""
    from reprobox.manifest import load_frozen
    from reprobox.config import load_config
    from reprobox.runner import RunOptions, container_env

    frozen = load_frozen(load_config(project))
    env = container_env(frozen.manifest, RunOptions(seed=frozen.manifest.get("seed"),
                                                    cpus=cpus))
    argv = [DOCKER, "run", "--rm", "--init", "--user", "1000:1000",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-v", f"{out_dir}:/reprobox/out"]
    for key, value in sorted(env.items()):
        argv += ["-e", f"{key}={value}"]
    if cpus:
        argv += ["--cpus", str(cpus)]
    return argv + [image, *frozen.manifest["project"]["command"]]


def _with_out_dir(argv_for) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-out-") as out:
        Path(out).chmod(0o777)
        argv = argv_for(out)
        return clock(lambda: sh(argv))


def bench_overhead(n: int, noop_tag: str) -> tuple[Row, list[float]]:
    """Time `reprobox run` against `docker run` of the same image and env."""
    ours, theirs = [], []
    for _ in range(n):
        theirs.append(_with_out_dir(lambda out: _plain_run_argv(noop_tag, NOOP, out)))
        ours.append(clock(lambda: reprobox(["run", "."], cwd=NOOP)))
    extra = median(ours) - median(theirs)
    return Row("`reprobox run` of an already built image (no-op command)",
               fmt_times(ours), fmt_times(theirs), f"+{fmt_s(extra)}",
               "≤ +0.5 s", met(extra <= 0.5)), ours


def _epochs(text: str) -> int:
    return max(len(re.findall(r"^Epoch \d+/", text, re.M)), 1)


def _per_epoch(argv, **kwargs) -> float:
    """Run a training command; return wall seconds per epoch it trained."""
    out = {}
    wall = clock(lambda: out.update(p=sh(argv, **kwargs)))
    return wall / _epochs(out["p"].stdout + out["p"].stderr)


def _reprobox_per_epoch(args) -> float:
    wall = clock(lambda: reprobox(["run", *args]))
    runs = sorted((PROJECT / ".reprobox" / "runs").glob("*/container.log"))
    return wall / _epochs(runs[-1].read_text())


def _per_epoch_cell(values, suffix="") -> str:
    return fmt_times(values).replace(" (", "/epoch (", 1) + suffix


def bench_quota(n: int, tag: str) -> Row:
    """Train with a 1-CPU quota: reprobox (threads fitted) vs plain docker run."""
    ours, theirs = [], []
    for _ in range(n):
        theirs.append(_per_epoch([DOCKER, "run", "--rm", "--cpus", "1", tag]))
        ours.append(_reprobox_per_epoch(["--cpus", "1", "."]))
    ratio = median(ours) / median(theirs)
    return Row("training with `--cpus 1` on 2 cores, wall time per epoch",
               _per_epoch_cell(ours), _per_epoch_cell(theirs),
               f"{ratio:.2f}×", "≤ 1.0×", met(ratio <= 1.0))


def ensure_host_venv() -> Path:
    """Create benchmarks/.venv-host with the example's packages (once)."""
    python = HOST_VENV / "bin" / "python"
    if not python.exists():
        sh(["python3", "-m", "venv", str(HOST_VENV)])
        sh([str(python), "-m", "pip", "install", "-q", *HOST_PACKAGES],
           env=clean_env(PIP_CERT=CA), timeout=1200)
    return python


def bench_host(n: int) -> Row:
    """Train in the container (reprobox run) and on the host, same script."""
    python = ensure_host_venv()
    ours, theirs = [], []
    for _ in range(n):
        theirs.append(_per_epoch([str(python), "train.py"], cwd=PROJECT))
        ours.append(_reprobox_per_epoch(["."]))
    ratio = median(ours) / median(theirs)
    return Row("training in the container (`reprobox run`, all cores), wall time per "
               "epoch", _per_epoch_cell(ours), _per_epoch_cell(theirs, " on the host"),
               f"{ratio:.2f}×", "≤ 1.05×",
               met(ratio <= 1.05))


def latest_record() -> dict:
    runs = sorted((PROJECT / ".reprobox" / "runs").glob("*/record.json"))
    return json.loads(runs[-1].read_text())


def clear_runs() -> None:
    """Delete the run records this benchmark made."""
    for project in (PROJECT, NOOP):
        shutil.rmtree(project / ".reprobox" / "runs", ignore_errors=True)


def profile_run(out_file: Path) -> str:
    """Profile one `reprobox run` of the no-op project; return the top lines."""
    sh(["python3", "-m", "cProfile", "-o", str(out_file), "-m", "reprobox", "-q",
        "run", "."], cwd=NOOP)
    import io
    import pstats

    text = io.StringIO()
    pstats.Stats(str(out_file), stream=text).sort_stats("cumulative").print_stats(25)
    return text.getvalue()


def image_exists(tag: str) -> bool:
    return sh([DOCKER, "image", "inspect", tag], check=False).returncode == 0


__all__ = ["prepare_noop", "bench_overhead", "bench_quota", "bench_host",
           "latest_record", "clear_runs", "profile_run", "build_tag", "image_exists"]
