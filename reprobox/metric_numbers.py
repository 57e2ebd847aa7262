"""How a metric number is kept: an integer as itself, anything else a float."""

from __future__ import annotations


def kept_number(value: int | float) -> int | float:
    """Return a metric number as the record keeps it and compare reads it.

    An integer stays the integer it is, so a script writing 5 reads 5, not
    5.0, in the record, the run summary and compare, and one past 2**53 keeps
    every digit (as a float 2**53 + 1 reads 2**53, and 2**60 reads
    1.152921504606847e+18, 24 off). Anything else is a float: Keras logs
    np.float32. An older record's 5.0 is equal to 5 as written.
    Raise OverflowError for an integer beyond the largest float.
    """
    number = float(value)
    whole = isinstance(value, int) and not isinstance(value, bool)
    return value if whole else number
