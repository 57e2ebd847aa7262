"""Check the config's [metrics] table: which metrics compare reads, and how far.

metrics.compare names the metrics a comparison looks at; metrics.tolerances
gives each an absolute and/or relative tolerance (Tolerance). Names must be
ones every later command accepts, and a tolerance must be a finite number
≥ 0 for a metric that is compared.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from reprobox.compare.metrics import Tolerance
from reprobox.config_values import string_list, unique_items
from reprobox.errors import ConfigError
from reprobox.metric_names import is_metric_name, metric_name_fault


def checked_metrics(
    path: Path, metrics: dict[str, Any]
) -> tuple[tuple[str, ...], dict[str, Tolerance]]:
    """Return the [metrics] table's compare list and tolerances, checked."""
    tolerances = {}
    for metric, tol in sorted(metrics.get("tolerances", {}).items()):
        _check_metric_name(path, "metrics.tolerances", metric)
        key = f"metrics.tolerances.{metric}"
        unknown = sorted(set(tol) - {"abs", "rel"}) if isinstance(tol, dict) else []
        if unknown:
            raise ConfigError(
                path,
                f"{key}.{unknown[0]}",
                "is not a tolerance key",
                "use abs and/or rel, e.g. { abs = 0.01 }",
            )
        if not isinstance(tol, dict) or not tol:
            raise ConfigError(
                path, key, "must be a table with abs and/or rel", "e.g. { abs = 0.01 }"
            )
        for part, value in tol.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value < float("inf")
            ):
                # TOML reads a number past the largest float (1e400) as inf:
                # "inf is not finite" named a value the user never wrote.
                past = (
                    " (a number past the largest float, such as 1e400, reads as inf)"
                    if value == float("inf")
                    else ""
                )
                raise ConfigError(
                    path,
                    f"{key}.{part}",
                    f"{_as_toml(value)} is not a finite number ≥ 0{past}",
                    f"e.g. {{ {part} = 0.01 }}",
                )
        # compare's own Tolerance: one rule for both (-0.0 is kept as 0.0).
        tolerances[metric] = Tolerance(tol.get("abs"), tol.get("rel"))
    compare_metrics = unique_items(
        path,
        "metrics.compare",
        string_list(path, "metrics.compare", metrics.get("compare", [])),
    )
    for metric in compare_metrics:
        _check_metric_name(path, "metrics.compare", metric)
    for metric in tolerances:
        if compare_metrics and metric not in compare_metrics:
            raise ConfigError(
                path,
                f"metrics.tolerances.{metric}",
                f"{metric!r} is not in metrics.compare, so this tolerance is "
                "never used",
                f"add {metric!r} to metrics.compare, or remove the tolerance",
            )
    return compare_metrics, tolerances


def _check_metric_name(path: Path, key: str, name: str) -> None:
    """Refuse a metric name build, run, push and compare would refuse."""
    if not is_metric_name(name):
        # Frozen, the manifest would be refused by every later command, whose
        # fix (freeze again) would write it again.
        raise ConfigError(
            path,
            key,
            f"{name!r} is {metric_name_fault(name)}",
            "name a metric, e.g. "
            + (
                'compare = ["test_accuracy"]'
                if key == "metrics.compare"
                else "test_accuracy = { abs = 0.01 }"
            ),
        )


def _as_toml(value: object) -> str:
    """Return a value read from TOML as TOML would write it (true, not True;
    "x", not 'x'); a number too large to be finite reads as inf."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_as_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {_as_toml(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return str(value)
