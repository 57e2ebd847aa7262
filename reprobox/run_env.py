"""Variables a run takes from reprobox and its strict profile, never from the config.

One list for every check against them: the config's [env] and pass_env may
not set what the image or reprobox sets, nor change what the strict profile or
a seed fixes (the manifest would state a value the run does not get), and the
runner sets them from here. A run-time --env still wins over the profile and
the seed.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from reprobox.errors import ConfigError
from reprobox.runtime.gpu_facts import DETERMINISTIC_CUBLAS, STRICT_GPU_ENV
from reprobox.runtime.machine_facts import THREAD_COUNT_VARS

# reprobox's own variables in the container (REPROBOX_OUT, REPROBOX_SEED...).
OWN_PREFIX = "REPROBOX_"
# Set by the image or by every run; another value breaks the run.
# (LD_PRELOAD is set by neither: unset is what they decide for it.)
RESERVED_WHY = (
    "is the image's and reprobox's to decide (where Python, packages and "
    "libraries come from); setting it breaks the run"
)
RESERVED = (
    "HOME",
    "LD_AUDIT",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "PATH",
    "PYTHONHOME",
    "PYTHONPATH",
    # Where Python looks for its own platform library: any other value stops
    # it at start-up ("No module named 'encodings'").
    "PYTHONPLATLIBDIR",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
)
# Set from the run's seed; under the strict profile without a seed, to this.
HASH_SEED = "PYTHONHASHSEED"
STRICT_HASH_SEED = "0"
# What the strict profile sets in the image and the container.
STRICT_ENV = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "TF_DETERMINISTIC_OPS": "1",
    "TF_ENABLE_ONEDNN_OPTS": "0",
}
# Everything the strict profile fixes, with the values a config may repeat
# (the first is the one the profile sets): its variables, the thread counts the
# start-up hook pins to one, and the cuBLAS workspace.
STRICT_SETTINGS: dict[str, tuple[str, ...]] = {
    **{name: (value,) for name, value in STRICT_ENV.items()},
    **{name: ("1",) for name in THREAD_COUNT_VARS},
    **{
        name: (value, *(v for v in DETERMINISTIC_CUBLAS if v != value))
        for name, value in STRICT_GPU_ENV.items()
    },
}


def set_by_image(name: str) -> bool:
    """Tell whether name is the image's, reprobox's or --gpus's to decide, so
    no config, --env or reference record may set it (see reserved_why)."""
    return reserved_why(name) is not None


def reserved_why(name: str) -> str | None:
    """Say why a config or --env may not set name, or None where it may.

    One wording per kind, for [env], pass_env and --env alike.
    """
    if name.startswith(OWN_PREFIX):
        return (
            "is reprobox's own: the REPROBOX_ prefix is kept for what reprobox "
            "tells the run (REPROBOX_SEED, REPROBOX_PROFILE, REPROBOX_OUT, "
            "REPROBOX_METRICS...)"
        )
    if name == "HOME":
        return (
            "is the image's to decide (the home folder of the user the run "
            "starts as); setting it breaks the run"
        )
    # Read by the NVIDIA container runtime: which GPUs and driver parts a
    # container gets. --gpus decides them (the image sets the capabilities
    # for GPU builds).
    if name == "NVIDIA_VISIBLE_DEVICES":
        return (
            "is --gpus's to decide (the NVIDIA runtime hands a container the GPUs "
            "it names, whatever --gpus and the record say)"
        )
    if name == "NVIDIA_DRIVER_CAPABILITIES":
        return (
            "is --gpus's to decide (the NVIDIA runtime gives a container the "
            "driver libraries it names, compute and utility with --gpus, "
            "whatever the record says)"
        )
    return RESERVED_WHY if name in RESERVED else None


def run_hash_seed(profile: str, seed: int | None) -> str | None:
    """Return the PYTHONHASHSEED a run of this profile and seed sets, if any."""
    if seed is not None:
        return str(seed)
    return STRICT_HASH_SEED if profile == "strict" else None


def fixed_by_run(
    profile: str, seed: int | None, *, seeded: bool = False
) -> dict[str, tuple[str, ...]]:
    """Return what a run fixes, by name: the values a config may repeat.

    seeded says the run takes its seeds from --seeds: then PYTHONHASHSEED
    takes each, and none may be repeated, unless they are one (seed, --seeds 3).
    """
    fixed: dict[str, tuple[str, ...]] = {}
    if profile == "strict":
        fixed.update(STRICT_SETTINGS)
    hash_seed = run_hash_seed(profile, seed)
    if seeded:
        fixed[HASH_SEED] = (str(seed),) if seed is not None else ()
    elif hash_seed is not None:
        fixed[HASH_SEED] = (hash_seed,)
    return fixed


def check_env_kept_by_run(
    path: Path,
    env: Mapping[str, str],
    *,
    profile: str,
    seed: int | None,
    seeded: bool = False,
    pass_env: tuple[str, ...] = (),
    run_flags: Mapping[str, str] | None = None,
) -> None:
    """Refuse config variables a run of this profile and seed would replace.

    env is the config's [env]; pass_env's names come from the freezing shell.
    run_flags is None when the config itself chose the profile and seed; at run
    time it holds the run's --env values, and one of them wins over all.
    """
    from reprobox.config import config_key  # config imports this module

    fixed = fixed_by_run(profile, seed, seeded=seeded)
    at_run = run_flags is not None
    for name in sorted(set(env) | set(pass_env)):
        value = env.get(name)
        replaced = _replaced(name, value, fixed, run_flags, seed, seeded, at_run)
        if replaced is None:
            continue
        by_seed, who, sets = replaced
        wins = "the seed wins" if by_seed else "the profile wins"
        if value is None:
            raise ConfigError(
                path,
                config_key(path, "pass_env"),
                f"names {name}, but {who} {sets} and {wins}, so the shell's "
                "value would not be the run's",
                f"remove {name} from pass_env, or pass it at run time with "
                f"`reprobox run --env {name}`, which wins",
            )
        if at_run:
            choices = f"--env {_shell_word(f'{name}={value}')}" + "".join(
                f" or --env {_shell_word(f'{name}={v}')}" for v in fixed[name][:1]
            )
            fix = (
                f"pass {choices} to choose, which wins; leave out "
                f"{who.split()[0] if by_seed else who}; or remove it from [env]"
            )
        else:
            other = "as the seed sets it" if by_seed else 'or use profile = "default"'
            fix = (
                f"remove it from [env], {other}; or pass it at run time with "
                f"`reprobox run --env {_shell_word(f'{name}={value}')}`, which wins"
            )
        raise ConfigError(
            path,
            config_key(path, f"env.{name}"),
            f"is {value!r}, but {who} {sets} and {wins}",
            fix,
        )


def replaced_by_run(
    frozen: Mapping[str, str],
    names: tuple[str, ...],
    *,
    profile: str,
    seed: int | None,
    seeded: bool = False,
    run_flags: Mapping[str, str],
) -> list[str]:
    """Say each value the image took from the freezing shell (names) that this
    run's --profile strict or seed replaces, where no --env chose.

    The config's [env] and pass_env are refused for this (check_env_kept_by_run);
    a numerics variable the freezing shell happened to have went in without
    a word, and was replaced at run time without one.
    """
    fixed = fixed_by_run(profile, seed, seeded=seeded)
    said = []
    for name in sorted(n for n in names if n in frozen):
        value = frozen[name]
        replaced = _replaced(name, value, fixed, run_flags, seed, seeded, True)
        if replaced is None:
            continue
        _, who, sets = replaced
        said.append(
            f"the image sets {name}={value!r}, from the shell that froze it, but "
            f"{who} {sets} and wins (pass --env "
            f"{_shell_word(f'{name}={value}')} to keep the image's)"
        )
    return said


def _replaced(
    name: str,
    value: str | None,
    fixed: Mapping[str, tuple[str, ...]],
    run_flags: Mapping[str, str] | None,
    seed: int | None,
    seeded: bool,
    at_run: bool,
) -> tuple[bool, str, str] | None:
    """Say whether the run replaces name's value (None, a shell value the
    config only names, counts as replaced): (by the seed, who sets it, what it
    sets), or None where it does not, or a --env of the run chose."""
    if name not in fixed or name in (run_flags or {}):
        return None
    if value is not None and value in fixed[name]:
        return None
    by_seed = name == HASH_SEED and (seeded or seed is not None)
    who = _who_sets(by_seed, seed, seeded, at_run=at_run)
    sets = f"sets {fixed[name][0]!r}" if fixed[name] else "sets each run's seed"
    return by_seed, who, sets


def _who_sets(by_seed: bool, seed: int | None, seeded: bool, *, at_run: bool) -> str:
    if by_seed:
        if seeded:
            return "--seeds"
        return f"--seed {seed}" if at_run else f"seed = {seed}"
    return "--profile strict" if at_run else 'profile "strict"'


def _shell_word(text: str) -> str:
    """Quote text as a shell reads one word, so a suggested command pastes
    as it reads (OMP_NUM_THREADS=' 1' keeps its blank)."""
    return shlex.quote(text)
