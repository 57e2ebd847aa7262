"""Which metric names reprobox records, judges and lets a user name.

One test for every place a name enters: the project config (metrics.compare,
metrics.tolerances), the manifest and the image label it is sealed into, a
run record's compare_settings, compare's --metric and --tol, and the metrics
a run captures. A name one of them refused and another let through made a
loop (freeze wrote what build then refused) or a row nothing could select.
"""

from __future__ import annotations

from typing import Any


def is_metric_name(name: Any) -> bool:
    """Tell whether name is a metric name reprobox accepts: text, not blank.

    A blank name ("", " ", a tab) is a slip (an unset shell variable, a stray
    quote), not a metric; compared, it would read as missing in every run.
    """
    return isinstance(name, str) and bool(name.strip())
