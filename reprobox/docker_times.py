"""Times the Docker engine reports for a container, read as seconds.

The engine writes them in RFC 3339 with up to nine digits of a second
(2026-12-06T12:18:40.123456789Z), and the zero time 0001-01-01T00:00:00Z for
one that has not happened; Python's datetime reads at most six digits.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z")


def engine_time(value: Any) -> float | None:
    """Return a UTC engine timestamp as seconds since the epoch; None for the
    zero time, another zone or anything else."""
    match = _STAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group(1).startswith("0001-"):
        return None
    try:
        whole = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    fraction = int((match.group(2) or "0").ljust(9, "0")) / 1e9
    return whole.replace(tzinfo=timezone.utc).timestamp() + fraction


def finished_at(state: Any) -> float | None:
    """Return when a stopped container stopped, from its State's FinishedAt,
    when its start is known too and came first (else None, as wall_seconds)."""
    if wall_seconds(state) is None:
        return None
    return engine_time(state.get("FinishedAt"))


def wall_seconds(state: Any) -> float | None:
    """Return how long a stopped container ran, from its State's StartedAt
    and FinishedAt, to the millisecond; None when either is unknown or they
    are out of order."""
    if not isinstance(state, dict):
        return None
    started = engine_time(state.get("StartedAt"))
    finished = engine_time(state.get("FinishedAt"))
    if started is None or finished is None or finished < started:
        return None
    return round(finished - started, 3)
