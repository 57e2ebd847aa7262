"""Tokens of formats reprobox has no pattern for, told by their shape.

Services keep publishing new token formats, and most share one shape: a short
prefix naming the vendor or the kind (hvs., glptt-, pscale_pw_), a separator,
then a long random run. A variable's value of that shape is taken for a
secret. Only values are judged so: the lines of a project's files are read by
the published formats alone (secret_shapes.PUBLISHED_TOKEN), since code and
docs hold many prefixed identifiers and a false alarm there stops a freeze.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobox.code_assignments import random_string

# One to three words of letters, each part followed by _, - or ., then a run
# of 20 letters and digits, bounded by no letter or digit on either side.
_PREFIXED_RUN = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{2,10}[_.-]){1,3}([A-Za-z0-9]{20,})(?![A-Za-z0-9])"
)
_CLASSES = (re.compile("[a-z]"), re.compile("[A-Z]"), re.compile("[0-9]"))


def vendor_tokens(value: str) -> Iterator[str]:
    """Yield each prefixed token in value: a vendor's prefix and a random run.

    The run must read as random (code_assignments.random_string, strict) and
    mix lower case, upper case and digits, as base62 tokens do; hex digests
    and lower-case slugs after a prefix (git-3f9a..., run-abc...) do not.
    """
    for match in _PREFIXED_RUN.finditer(value):
        run = match.group(1)
        if all(c.search(run) for c in _CLASSES) and random_string(run, strict=True):
            yield match.group()
