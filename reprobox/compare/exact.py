"""Exact arithmetic on metric values near the float limits, and how it is shown.

Two finite floats near ±1.8e308 have a difference, spread or deviation past
the largest float: as floats they overflow to inf (or raise). Here they are
Fractions, judged exactly and shown in three digits as they are (3.4e+308).
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction


def exact_difference(value: float | None, reference: float | None) -> Fraction | None:
    """Return value - reference exactly, or None unless both are finite numbers."""
    if value is None or reference is None:
        return None
    if not (math.isfinite(value) and math.isfinite(reference)):
        return None
    return Fraction(value) - Fraction(reference)


def three_digits(number: float | Fraction, *, sign: bool = False) -> str:
    """Show a number in three significant digits, as format(x, ".3g") does.

    An exact number past the largest float is shown as it is (3.6e+308), where
    its float would read inf.
    """
    spec = "+" if sign else ""
    try:
        return format(float(number), f"{spec}.3g")
    except OverflowError:
        with localcontext(prec=3):
            rounded = Decimal(number.numerator) / Decimal(number.denominator)
        return format(rounded.normalize(), f"{spec}g")


def float_or_inf(number: Fraction) -> float:
    """Return number as a float: inf, with its sign, past the largest float."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def root_text(square: Fraction) -> str:
    """Show the square root of an exact number in three digits, however large."""
    with localcontext(prec=20):
        root = (Decimal(square.numerator) / Decimal(square.denominator)).sqrt()
    return three_digits(Fraction(root))
