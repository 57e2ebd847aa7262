"""Read number options as plain ASCII numbers, as TOML and Docker write them.

Python's int() and float() take more than a user means to type: "1_0" is 10,
" 2" is 2, and digits of any script ("\u0661", full-width "\uff11") are read
as numbers, so `run --repeat 1_0` ran ten times without a word. Every int or
float option of every command is read by these parsers instead (cli.py hands
them out), so an option added later is covered too.

No "+" is taken anywhere in a number: `--seed +3` ran seed 3 while `--seeds +1`
and `--gpus +1` were refused, so one rule holds for every number flag. A "-"
is read, so that each option's own range check can say what it needs
("must be at least 1") rather than "not a number".
"""

from __future__ import annotations

import re

from reprobox.errors import InputError

# A whole number: an optional minus and ASCII digits, nothing else.
WHOLE = re.compile(r"-?[0-9]+")

# A decimal: 0.005, 5e-3, 1, .5 (no blanks, no underscores, no "+", ASCII
# digits only); nan and inf are read, for each option's own range check to refuse.
DECIMAL = re.compile(
    r"-?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e-?[0-9]+)?|nan|inf(?:inity)?)",
    # ASCII: without it, re.IGNORECASE matches the dotless "\u0131" to i, and
    # float() then refused "\u0131nf" with Python's own words.
    re.IGNORECASE | re.ASCII,
)


class NotAPlainNumber(ValueError):
    """A number option's value is not a plain ASCII number."""


class TypedDecimal(float):
    """A float read from an option, keeping the text it was typed as.

    So an option's own range check can echo what the user typed: read back,
    --epsilon -1 said -1.0, and 1e400 said inf.
    """

    typed: str

    def __new__(cls, text: str) -> TypedDecimal:
        number = super().__new__(cls, text)
        number.typed = str(text)
        return number


def whole_number(text: str) -> int:
    """Return text as an int if it is ASCII digits with an optional minus."""
    _refuse_plus(text)
    if not WHOLE.fullmatch(text):
        raise NotAPlainNumber("is not a whole number in ASCII digits")
    return int(text)


def decimal_number(text: str) -> TypedDecimal:
    """Return text as a float if it is a plain ASCII decimal (1.5, 2e-3)."""
    _refuse_plus(text)
    if not DECIMAL.fullmatch(text):
        raise NotAPlainNumber("is not a number in ASCII digits")
    number = TypedDecimal(text)
    if reads_as_zero(text, number):
        raise NotAPlainNumber(TOO_SMALL)
    return number


# A decimal below the smallest float reads as 0 without a word: --tol
# x=rel:1e-400 became an exact tolerance, --epsilon 1e-400 no slack at all.
TOO_SMALL = "is too close to 0 for a float (the smallest is 5e-324), so it reads as 0"


def reads_as_zero(text: str, number: float) -> bool:
    """Tell whether a decimal written with a nonzero digit read as 0 (1e-400)."""
    digits = text.lower().partition("e")[0]
    return number == 0 and re.search(r"[1-9]", digits) is not None


def typed_text(number: float) -> str:
    """Return a number option's value as the user typed it (-1e0, not -1.0),
    or as its shortest form when it was not typed (a default)."""
    return getattr(number, "typed", None) or repr(number)


PLUS = 'has a "+", which number options do not take'


def _refuse_plus(text: str) -> None:
    if "+" in text:
        raise NotAPlainNumber(PLUS)


def refuse_plus(flag: str, value: str, meant: str | None = None) -> None:
    """Refuse a "+" in a flag read by its own parser (--seeds, --gpus), in the
    words every number flag uses; meant: the value to suggest, "+" taken out."""
    if "+" in value:
        fixed = (value if meant is None else meant).replace("+", "")
        raise InputError(f"{flag} {value!r} {PLUS}", hint=f"write {flag} {fixed}")
