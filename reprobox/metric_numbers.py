"""How a metric number is kept: a float, or an integer no float holds exactly."""

from __future__ import annotations

# Past this every float is an even integer, and its shortest form loses
# digits (2**60 reads 1.152921504606847e+18, 24 off): an integer metric past
# it is kept as the integer it is.
EXACT_FLOAT_LIMIT = 2**53


def kept_number(value: int | float) -> int | float:
    """Return a metric number as the record keeps it and compare reads it.

    A float, or an integer past 2**53 as itself, whether or not a float
    happens to hold it (2**60 does, -(2**60) - 1 does not: a seed sweep of
    the two must not judge one as a float and the other as an integer).
    Raise OverflowError for an integer beyond the largest float.
    """
    number = float(value)
    if isinstance(value, int) and abs(value) > EXACT_FLOAT_LIMIT:
        return value
    return number
