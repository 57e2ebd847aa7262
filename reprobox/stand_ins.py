"""Values that documentation, tests and code write in a secret's place.

Every rule that reads a credential from a line (a URL's password, a script's
export, os.environ, a Terraform setting, a JSON record, an assignment in code)
asks this one module whether the value is a stand-in, so that a word such as
dummy or your marks a placeholder wherever it is written: `dummy-api-key`,
`YOUR_TOKEN`, `test-secret-1234`, `xxxxxxxx`, `changeme`.

A short stand-in word counts as a word of the value, not as letters inside a
random run, which may hold "test" or "fake" by chance: the value is cut into
words at separators, digits and changes of case first.
"""

from __future__ import annotations

import re

# Whole values that stand for a secret: its own name, and the defaults and
# metasyntactic words of examples (https://guest:guest@localhost, foo:bar@).
STAND_IN_VALUES = frozenset(
    (
        "password",
        "passwd",
        "pass",
        "pwd",
        "pw",
        "secret",
        "token",
        "apikey",
        "api_key",
        "key",
        "changeme",
        "example",
        "redacted",
        "hidden",
        "masked",
        "guest",
        "admin",
        "root",
        "test",
        "demo",
        "foo",
        "bar",
        "baz",
        "qux",
    )
)
# Words that begin a word of a stand-in, wherever it stands in the value:
# dummy-api-key, fake_token, test1234, sample-key, your_key, ExampleSecret.
_STAND_IN_STARTS = (
    "example",
    "dummy",
    "fake",
    "test",
    "sample",
    "placeholder",
    "changeme",
    "redacted",
    "replace",
    "insert",
    "lorem",
    "your",
)
# Words that are a stand-in only whole: key-here, change_me.
_STAND_IN_WORDS = frozenset(("here", "changeme", "xxx"))
# The words of a value: a capitalised or lowercase word, a run of capitals,
# or a run of digits, as an identifier or a phrase is read.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
# my_password, my-secret, mytoken: a name for one's own secret, not the secret.
_MY_SECRET = re.compile(r"my[\W_]?(?:pass|secret|token|key)", re.I)
# A run of x's, as docs blank out a token (ghp_xxxxxxxx, XXXX-XXXX), and
# "example" anywhere: AWS's documented keys end so (...7EXAMPLE,
# ...CYEXAMPLEKEY), and seven letters are never in a random run by chance.
_X_RUN_OR_EXAMPLE = re.compile(r"xxx|example", re.I)


# A value that describes its slot instead of filling it: lowercase words
# joined by - or _, one of which names the secret or where it is kept
# (path-to-private-key, my_secret_name). A passphrase of words names none.
_SLOT_PHRASE = re.compile(r"[a-z]+(?:[-_][a-z]+)+")
_SLOT_WORDS = frozenset(
    ("key", "token", "secret", "password", "pass", "path", "file", "name", "here")
)


def stand_in(value: str) -> bool:
    """Tell whether value is a stand-in for a secret by the words it is made of."""
    value = value.strip().strip("\"'")
    flat = re.sub(r"[\W_]+", "", value.lower())
    if value.lower() in STAND_IN_VALUES or flat in STAND_IN_VALUES:
        return True
    if _X_RUN_OR_EXAMPLE.search(value) or _MY_SECRET.match(value):
        return True
    if _SLOT_PHRASE.fullmatch(value) and _SLOT_WORDS & set(re.split("[-_]", value)):
        return True
    words = [word.lower() for word in _WORD.findall(value)]
    return any(
        word.startswith(_STAND_IN_STARTS) or word in _STAND_IN_WORDS for word in words
    )
