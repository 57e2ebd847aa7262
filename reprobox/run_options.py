"""What a run is given: where it writes, how it is made, what its container sees.

RunTarget names the runs folder and the data files a run mounts; RunOptions
holds the seed, profile and resource flags; container_env turns those into the
training container's variables, refusing an --env value no run could use
before any run folder exists; container_spec makes of them all what the
engine is asked to start. Apart from runner.py, which runs the container, so
that the CLI and verify can check options without reading how a run ends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobox.atomic import writable_text
from reprobox.config import ProjectConfig
from reprobox.engine import (
    LABEL_PREFIX,
    OWNER_LABEL,
    RUN_LABEL,
    ContainerSpec,
    owner_label,
)
from reprobox.errors import InputError
from reprobox.run_env import (
    HASH_SEED,
    OWN_PREFIX,
    STRICT_ENV,
    reserved_why,
    run_hash_seed,
)
from reprobox.runtime.machine_facts import THREAD_COUNT_VARS
from reprobox.secret_masking import hidden_names

OUT_IN_CONTAINER = "/reprobox/out"


@dataclass
class RunOptions:
    """How one run is made: seed, profile, resources and extra env."""

    seed: int | None = None
    profile: str = "default"
    cpus: float | None = None
    memory: str | None = None
    gpus: str | None = None
    device_requests: list | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    repeat_index: int | None = None
    seed_sweep: str | None = None
    network: str = "bridge"


# ASCII only: float() reads "\uff14", and re.I alone matches the Kelvin sign to k.
_MEMORY = re.compile(r"(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?", re.I | re.ASCII)
_MEMORY_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MEMORY_UNITS["p"] = 1 << 50
MIN_MEMORY, MAX_MEMORY = 6 << 20, 1 << 50  # Docker's least; 1024t


def memory_bytes(memory: str) -> int:
    """Return a memory limit as the docker CLI reads it (4g, 1.5GiB), in bytes."""
    match = _MEMORY.fullmatch(memory.strip())
    if match is None:
        raise InputError(
            f"--memory {memory!r} is not a size", hint="e.g. --memory 4g or 1.5g"
        )
    size = int(float(match[1]) * _MEMORY_UNITS[match[2].lower()])
    if not MIN_MEMORY <= size <= MAX_MEMORY:
        raise InputError(
            f"--memory {memory} is outside what Docker accepts (6m to 1024t)",
            hint="e.g. --memory 4g",
        )
    return size


def container_env(manifest: Mapping[str, Any], opts: RunOptions) -> dict[str, str]:
    """Return the variables the training container starts with.

    The profile's settings come first, then what the user gave with --env
    (their explicit choice wins), then reprobox's own REPROBOX_* variables,
    which nothing may replace.
    """
    for name in sorted(opts.extra_env):
        why = reserved_why(name)
        if why is not None:
            own = name.startswith(OWN_PREFIX)
            raise InputError(
                f"--env {name}: {why}",
                hint=f"drop --env {name}; --seed, --profile and --gpus set what "
                "a run is told"
                if own
                else f"drop --env {name}",
            )
    hash_seed = opts.extra_env.get("PYTHONHASHSEED")
    if hash_seed is not None and not (
        hash_seed == "random"
        or (re.fullmatch(r"[0-9]{1,10}", hash_seed) and int(hash_seed) <= 4294967295)
    ):
        raise InputError(
            f"--env PYTHONHASHSEED={hash_seed!r} is not what Python accepts",
            hint="give random or a whole number from 0 to 4294967295, or use --seed",
        )
    # Read as whole numbers by TensorFlow, OpenMP and the BLAS libraries (and
    # by the start-up hook): anything else is refused before a container exists.
    for name in THREAD_COUNT_VARS:
        value = opts.extra_env.get(name)
        if value is not None and not re.fullmatch(r"[1-9][0-9]{0,5}", value):
            raise InputError(
                f"--env {name}={value!r} is not a thread count",
                hint="give a whole number of 1 or more, or leave it out: reprobox "
                "fits threads to the CPU quota",
            )
    profile: dict[str, str] = {"HOME": "/tmp"}
    reprobox = {
        "REPROBOX_OUT": OUT_IN_CONTAINER,
        "REPROBOX_METRICS": f"{OUT_IN_CONTAINER}/metrics.json",
        "REPROBOX_PROFILE": opts.profile,
    }
    if opts.seed is not None:
        reprobox["REPROBOX_SEED"] = str(opts.seed)
    hash_seed = run_hash_seed(opts.profile, opts.seed)
    if hash_seed is not None:
        profile[HASH_SEED] = hash_seed
    if opts.profile == "strict":
        profile.update(STRICT_ENV)
        reprobox["REPROBOX_OP_DETERMINISM"] = "1"
    elif manifest.get("determinism", {}).get("tf_op_determinism"):
        reprobox["REPROBOX_OP_DETERMINISM"] = "1"
    if opts.gpus:
        reprobox["REPROBOX_REQUIRE_GPU"] = "1"
    hidden = sorted(hidden_names(opts.extra_env))
    if hidden:
        # The hook writes the numerics variables into capture.json, a file of
        # the run folder: those the record shows as *** it writes so too.
        reprobox["REPROBOX_HIDDEN_ENV"] = ",".join(hidden)
    return {**profile, **opts.extra_env, **reprobox}


@dataclass(frozen=True)
class RunTarget:
    """Where a run's outputs go and which data files it mounts read-only."""

    project: str
    runs_dir: Path
    data: tuple[tuple[Path, str], ...] = ()  # host path, path relative to /app
    # The command whose start closes a record this run leaves open.
    closed_by: str = "the next `reprobox run` or `build`"
    # Another runs folder the command can be given, said after a write failure.
    elsewhere: str = ""

    @classmethod
    def for_project(cls, cfg: ProjectConfig) -> RunTarget:
        return cls(
            project=cfg.name,
            runs_dir=cfg.state_dir / "runs",
            data=tuple((cfg.root / rel, rel) for rel in cfg.data),
        )


def check_mountable(target: RunTarget) -> None:
    """Refuse a runs folder or data file the engine cannot mount: a path that
    holds bytes that are not UTF-8.

    The engine takes paths as JSON text: such a byte arrives as U+FFFD, the
    path names nothing there, and the run would end in a refusal that blames
    --cpus or --memory.
    """
    for path in (target.runs_dir, *(host for host, _ in target.data)):
        if writable_text(str(path)) != str(path):
            raise InputError(
                f"{writable_text(str(path))}: the path holds bytes that are not "
                "UTF-8, which the Docker engine cannot mount",
                hint="rename the folder to a UTF-8 name, or move the project",
            )


def container_spec(
    target: RunTarget,
    run_id: str,
    run_dir: Path,
    *,
    manifest: Mapping[str, Any],
    image_id: str,
    env: dict[str, str],
    opts: RunOptions,
    user: str,
) -> ContainerSpec:
    """Return what the engine is asked to start for a run whose folder is run_dir.

    The run folder is mounted writable at OUT_IN_CONTAINER, the data files
    read-only under /app; the labels let a later command find the container
    (by run, owner and project) if this reprobox dies.
    """
    mounts = [(run_dir, OUT_IN_CONTAINER, False)]
    mounts += [(host, f"/app/{rel}", True) for host, rel in target.data]
    return ContainerSpec(
        image=image_id,
        command=list(manifest["project"]["command"]),
        env=env,
        labels={
            RUN_LABEL: run_id,
            OWNER_LABEL: owner_label(),
            f"{LABEL_PREFIX}.project": target.project,
        },
        user=user,
        mounts=mounts,
        cpus=opts.cpus,
        memory=memory_bytes(opts.memory) if opts.memory else None,
        device_requests=opts.device_requests,
        network=opts.network,
    )
