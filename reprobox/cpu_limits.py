"""The CPU quotas reprobox passes to Docker: what it takes, and why not others.

Kept apart from engine.py, which loads the docker SDK: the config reader
checks run.cpus too, and needs none of that.
"""

from __future__ import annotations

MIN_CPUS = 0.01  # Docker's smallest quota; below it the engine silently sets none
MAX_CPUS = 4096  # above any machine's count: a typo, not a quota


def cpus_out_of_range(cpus: float) -> tuple[str, str]:
    """Say why a --cpus or run.cpus outside [MIN_CPUS, MAX_CPUS) is refused,
    and what to give instead."""
    if cpus != cpus:  # NaN
        return "is not a number", f"give a CPU count of {MIN_CPUS} or more"
    if cpus < MIN_CPUS:
        return (
            f"is below the least CPU share Docker enforces ({MIN_CPUS})",
            f"give {MIN_CPUS} or more",
        )
    return (
        "is more CPUs than any machine has",
        "give at most the engine's CPU count (`docker info` shows it as CPUs)",
    )
