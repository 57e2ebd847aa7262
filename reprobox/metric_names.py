"""Which metric names reprobox records, judges and lets a user name.

One test for every place a name enters: the project config (metrics.compare,
metrics.tolerances), the manifest and the image label it is sealed into, a
run record's compare_settings, compare's --metric and --tol, and the metrics
a run captures. A name one of them refused and another let through made a
loop (freeze wrote what build then refused) or a row nothing could select.
"""

from __future__ import annotations

import unicodedata
from typing import Any


def metric_name_problem(name: Any) -> str | None:
    """Say why name cannot be a metric name ("is blank", ...), or None if it can.

    A blank name ("", " ", a tab) is a slip (an unset shell variable, a stray
    quote), not a metric; compared, it would read as missing in every run. A
    name holding a character nobody can type back as --metric (a control
    character, a zero-width space, half of a UTF-16 pair from a JSON
    "\\ud800" escape, which no file can even store as UTF-8) could be recorded
    but never selected.
    """
    if not isinstance(name, str):
        return "is not text"
    if not name.strip():
        return "is blank"
    for char in name:
        # Spaces of any script can be typed; other separators (a line
        # separator) and every "other" category (Cc, Cf, Cs, Co, Cn) cannot.
        category = unicodedata.category(char)
        if category == "Cs":
            return f"holds U+{ord(char):04X} (half of a UTF-16 pair, no character)"
        if not char.isprintable() and category != "Zs":
            called = unicodedata.name(char, "").lower()
            what = f"{called}, not printable" if called else "not printable"
            return f"holds U+{ord(char):04X} ({what})"
    return None


def is_metric_name(name: Any) -> bool:
    """Tell whether name is a metric name reprobox accepts (see metric_name_problem)."""
    return metric_name_problem(name) is None


def metric_name_fault(name: Any) -> str:
    """Name the kind of a name is_metric_name refuses, to follow "is" or "holds":
    "a blank metric name" or "an unprintable metric name" (its repr shows the
    character)."""
    problem = metric_name_problem(name)
    if problem is None or problem == "is blank":
        return "a blank metric name"
    if problem == "is not text":
        return "a metric name that is not text"
    return "an unprintable metric name"
