"""Exact arithmetic on metric values near the float limits, and how it is shown.

Two finite floats near ±1.8e308 have a difference, spread or deviation past
the largest float: as floats they overflow to inf (or raise). Here they are
Fractions, judged exactly and shown in three digits as they are (3.4e+308).
"""

from __future__ import annotations

import functools
import math
import sys
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, localcontext
from fractions import Fraction


@functools.lru_cache(maxsize=1 << 16, typed=True)
def written(number: float) -> Fraction:
    """Return a finite float as the number it is written as, exactly.

    Its shortest round-trip decimal (repr): what the metrics file, the record
    and every table show. Tolerances are judged on these: 0.905 - 0.9 is
    0.005 as written (0.0050000000000000044 in binary), so it passes abs
    0.005, as anyone reading the two values expects; 0.30000000000000004 is
    written apart from 0.3, so it still fails abs 1e-30. Distinct floats have
    distinct written values in the same order, so nothing that differs is
    ever taken as equal. An integer (one past 2**53 that no float holds, see
    records.as_number) is its own exact value. Cached by type as well as
    value: 2**60 and its float are equal, yet written 24 apart.
    """
    if isinstance(number, int):
        return Fraction(number)
    # Through Decimal: a third of the time Fraction takes to parse the text,
    # and compare reads every value of every epoch of every run this way.
    return Fraction(*Decimal(repr(float(number))).as_integer_ratio())


def value_text(number: float | int) -> str:
    """Show a metric value exactly (shortest round-trip form).

    An integer (one past 2**53, see records.as_number) is shown whole up to 19
    digits, beyond that in the shorter of its whole and its exact scientific
    form: 10**30 as 1e+30, 10**30 + 1 whole. As its float, 10**30 + 1 read
    1e+30 beside 10**30, while the delta said +1.
    """
    if not isinstance(number, int):
        return repr(float(number))
    whole = str(abs(number))
    sign = "-" if number < 0 else ""
    if len(whole) < 20:
        return sign + whole
    digits = whole.rstrip("0")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    short = f"{mantissa}e+{len(whole) - 1}"
    return sign + (short if len(short) < len(whole) else whole)


def exact_difference(value: float | None, reference: float | None) -> Fraction | None:
    """Return value - reference exactly as written (see written), or None
    unless both are finite numbers."""
    if value is None or reference is None:
        return None
    if not (math.isfinite(value) and math.isfinite(reference)):
        return None
    return written(value) - written(reference)


# Digits enough for the difference of any two finite metric values, from
# 1.8e308 down to 5e-324, to come out exact.
_WIDE = Context(prec=1000, Emax=MAX_EMAX, Emin=MIN_EMIN)


def written_gap(value: float, reference: float) -> Decimal:
    """Return value - reference of two finite values as written, exactly.

    As exact_difference, as a Decimal: a quarter of the time, for the many
    epochs of every run's curves.
    """
    return _WIDE.subtract(written_decimal(value), written_decimal(reference))


def written_decimal(number: float) -> Decimal:
    """Return a finite value as written (see written), as a Decimal."""
    return Decimal(number) if isinstance(number, int) else Decimal(repr(number))


def difference_number(
    value: float, reference: float, exact: Fraction | Decimal | None = None
) -> int | float:
    """Return value - reference of two finite metric values as written, as a
    number JSON carries: whole where either is an integer, else a float.

    Every difference, delta and spread of metric values is taken so (see
    written): integers exactly (1 against 2**62 is 4611686018427387903, where
    their float difference read 4.611686018427388e+18; 5 against 5 is 0, not
    0.0), floats on their shortest decimals (0.6 - 0.5 is 0.1, not the binary
    0.09999999999999998); ±inf past the largest float. exact: that
    difference, where the caller has it already.
    """
    if exact is None:
        exact = written(value) - written(reference)
    whole = isinstance(value, int) or isinstance(reference, int)
    return int(exact) if whole and exact == int(exact) else float_or_inf(exact)


def three_digits(number: float | Fraction, *, sign: bool = False) -> str:
    """Show a number in three significant digits, as format(x, ".3g") does.

    An exact number past the largest float is shown as it is (3.6e+308), where
    its float would read inf.
    """
    spec = "+" if sign else ""
    try:
        as_float = float(number)
        # Below the smallest normal float a float holds too few digits: an
        # exact 5e-324 read 4.94e-324. Those are shown from the exact value.
        if isinstance(number, Fraction) and 0 < abs(as_float) < sys.float_info.min:
            raise OverflowError
        return format(as_float, f"{spec}.3g")
    except OverflowError:
        with localcontext(prec=3):
            rounded = Decimal(number.numerator) / Decimal(number.denominator)
        return format(rounded.normalize(), f"{spec}g")


def float_or_inf(number: Fraction | Decimal) -> float:
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


def bound_text(bound: float) -> str:
    """Show a tolerance bound as it is written: its shortest round-trip form
    (0.005, 1.0000001, 1e-320), a whole number without ".0".

    Rounded to six digits, rel 1.0000001 read "rel 1" (which hid why a
    relative difference of 1 failed it), and a bound below the smallest
    normal float, 1e-320, read 9.99989e-321.
    """
    text = repr(float(bound))
    return text[:-2] if text.endswith(".0") else text


def exact_text(number: float) -> str:
    """Show a float's exact decimal value: 0.005 is 0.005000000000000000104..."""
    return format(Decimal(number), "g")


def beside_bound(number: Fraction, bound: float, *, sign: bool = False) -> str:
    """Show number in three significant digits, or as many more as it takes.

    Enough that the shown |number| stands to the shown bound (bound_text) as
    |number| stands to the bound: under, equal or over. Rounded to +0.005, a
    delta of 0.0050001 failed abs 0.005 while 0.0049999 passed it. Where no
    number of digits gets it strictly, the fewest that read on the verdict's
    side (<= for within); where even that fails, the bound's hidden digits
    decide, and the caller shows them (sides_agree, exact_text).
    """
    size, edge = abs(number), written(bound)
    want = (size > edge) - (size < edge)
    limit = Fraction(Decimal(bound_text(bound)))
    text, weak = three_digits(number, sign=sign), None
    for digits in range(4, 42):
        shown = abs(Fraction(Decimal(_plain(text))))
        got = (shown > limit) - (shown < limit)
        if got == want:
            return text
        if weak is None and (got <= 0) == (want <= 0):
            weak = text
        with localcontext(prec=digits):
            rounded = Decimal(number.numerator) / Decimal(number.denominator)
        text = format(rounded.normalize(), "+g" if sign else "g")
    return weak or text


def sides_agree(text: str, number: Fraction, bound: float) -> bool:
    """Tell whether a shown number reads on the right side of the shown bound."""
    within = abs(number) <= written(bound)
    shown = abs(Fraction(Decimal(_plain(text))))
    return (shown <= Fraction(Decimal(bound_text(bound)))) == within


def _plain(text: str) -> str:
    return text.replace("+", "", 1) if text.startswith("+") else text
