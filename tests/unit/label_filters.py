"""Docker's label filters, for fake engines that list containers."""

from __future__ import annotations


def labelled(container, filters) -> bool:
    """Tell whether container matches Docker's label filters: every entry,
    `key=value` or a bare `key` (the label is there)."""
    wanted = filters["label"]
    for entry in [wanted] if isinstance(wanted, str) else wanted:
        key, has_value, value = entry.partition("=")
        if key not in container.labels or (
            has_value and container.labels[key] != value
        ):
            return False
    return True
