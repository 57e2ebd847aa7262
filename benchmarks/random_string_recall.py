"""Measure how many generated secrets code_assignments.random_string still catches.

Each kind of secret is generated N times with the secrets module (letters and
digits of several lengths, lowercase and digits, hex, base64, base64url) and
judged as a secret-named name's value would be (strict for a bare key or
token). Prints, per kind, the share caught, and the share that made_of_words
alone takes for an identifier (the cost of reading identifiers as words).

    python benchmarks/random_string_recall.py [N]
"""

from __future__ import annotations

import base64
import os
import secrets
import string
import sys

from reprobox.code_assignments import random_string
from reprobox.stand_ins import made_of_words

ALNUM = string.ascii_letters + string.digits
LOWER = string.ascii_lowercase + string.digits


def _run(alphabet: str, length: int):
    return lambda: "".join(secrets.choice(alphabet) for _ in range(length))


KINDS = {
    "alnum12": (_run(ALNUM, 12), False),
    "alnum16": (_run(ALNUM, 16), False),
    "alnum20": (_run(ALNUM, 20), False),
    "alnum32": (_run(ALNUM, 32), True),
    "alnum40": (_run(ALNUM, 40), True),
    "lower+digits20": (_run(LOWER, 20), False),
    "hex32": (lambda: secrets.token_hex(16), True),
    "urlsafe32": (lambda: secrets.token_urlsafe(24), True),
    "base64_40": (lambda: base64.b64encode(os.urandom(30)).decode(), False),
}


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 20000
    for kind, (make, strict) in KINDS.items():
        values = [make() for _ in range(count)]
        caught = sum(random_string(v, strict=strict) for v in values)
        words = sum(made_of_words(v) for v in values)
        print(
            f"{kind:16s} strict={strict!s:5s} caught {caught / count:7.2%}"
            f"  read as words {words / count:7.3%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
