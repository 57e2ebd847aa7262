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


# A path to a file holding the secret, not the secret: /path/to/key.pem,
# ~/keys/id_rsa, ./creds.json. Its first part is a lowercase name, which a
# random string starting with / (base64 may) seldom has.
_FILE_PATH = re.compile(r"(?:~|\.{1,2})?/[a-z][\w.-]*(?:/[\w.-]+)*/?")
# A reference or template slot: ${X}, $X, $(cmd), %(x)s, %s, %X%, {x}, <x>.
_PLACEHOLDER_MARK = re.compile(r"\$[({\w]|%\(|%s\b|%\w+%|[{}<>]|\.\.\.|…")
# A value made of one repeated mark (***, ???, ...) or letter (xxx, aaaa),
# or spelled in capitals as a name (PASSWORD, API_TOKEN, YOUR_KEY, MISSING, REPLACE_ME,
# KEY2): digits end a word, as names number things; a random run in
# capitals weaves them in (K8S9X2LQ, ABC123DEF456).
_REPEATED = re.compile(r"([^\w\s])\1*|(\w)\2{2,}")
_CAPITAL_NAME = re.compile(r"_*[A-Z]{2,}[0-9]*(?:_+[A-Z]+[0-9]*)*_*")
# A URL with user:password@ in it, whatever follows: a value that is one is
# judged by its password alone.
_URL_USERINFO = re.compile(r"://([^\s/@:]*):([^\s/@]*)@")
# Words that stand for no value at all: YAML's null and ~, Python's None.
_NO_VALUE_WORDS = frozenset(("null", "none", "nil", "~"))


def placeholder(value: str) -> bool:
    """Tell whether a value is a stand-in for a secret, not one.

    The one judge of every rule that reads a secret's value, on a line of code
    or docs and in a settings file alike: empty or null, a reference or slot
    (`${X}`, `$(cmd)`, `{password}`, `<required>`), a mark (`***`, `?`, and
    OmegaConf's mandatory `???`), a name in capitals (`MISSING`, `REPLACE_ME`),
    a file's path, or a stand-in by its words (stand_in).
    """
    value = value.strip().strip("\"'")
    return bool(
        not value
        or value.lower() in _NO_VALUE_WORDS
        or stand_in(value)
        or _PLACEHOLDER_MARK.search(value)
        or _REPEATED.fullmatch(value)
        or _CAPITAL_NAME.fullmatch(value)
        or (len(value) > 1 and set(value.lower()) <= set("x*.-_?"))
        or _FILE_PATH.fullmatch(value)
        or _url_placeholder(value)
    )


def _url_placeholder(value: str) -> bool:
    """Tell whether value holds user:password@ URLs, each with a stand-in password."""
    found = _URL_USERINFO.findall(value)
    return bool(found) and all(
        placeholder(password) or placeholder_user(user) for user, password in found
    )


def placeholder_user(user: str) -> bool:
    """Tell whether a URL's user is a template slot, so its password is one too.

    Brackets are one too (redis://[[username]:[password]]@host): a URL's user
    and password may not hold them unescaped.
    """
    return bool(_PLACEHOLDER_MARK.search(user) or "[" in user)


# A path to a file: parts parted by / or \, the last with an extension of a
# letter and up to 11 more (exp42/ckpt/Epoch7Step3500.safetensors). Random
# secrets hold / (base64) but no dot, and no dotted extension after it.
_PATH_TO_FILE = re.compile(r"[^\s]*[/\\][\w.+-]*[\w-]\.[A-Za-z][A-Za-z0-9]{0,11}")


def path_to_file(value: str) -> bool:
    """Tell whether value is a path to a file: separators, then a file's extension."""
    return bool(_PATH_TO_FILE.fullmatch(value.strip()))


# The segments of an identifier: a capitalised or lowercase word, or a run of
# capitals (ResNet, ImageNet, ML).
_SEGMENT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# Letter pairs common in English words; a word-like segment is mostly made of
# them, random letters seldom are (ResNet: re, es, ne, et; Zx, kL, vQ: none).
_ENGLISH_PAIRS = frozenset(
    re.findall(
        r"[a-z]{2}",
        """th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se
    ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ca
    el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so rs un lo
    wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id
    os iv ia am fi ci vi pl ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr
    oo av ag ap gr od bo sp rd do uc bu ei ov rm ep oc fa ef cu rn sc gi da cr cl
    du ga qu ue ba ey ls va um up lu go ru ug ds lt pi rc eg au ck mu br bi pt ak
    pu ui rg ib tl ki rk ob mb ub gu dr xp""",
    )
)
_VOWELS = frozenset("aeiouy")
# Measured on generated secrets (benchmarks/random_string_recall.py): with
# three such words covering 60% of the letters, fewer than 1 in 1,000 random
# strings of 12 to 40 letters and digits is read as an identifier.
_WORD_SHARE = 0.6
_FEWEST_WORDS = 3


def _english_like(segment: str) -> bool:
    """Tell whether a segment of 3 or more letters reads as an English word."""
    word = segment.lower()
    if len(word) < 3:
        return False
    vowels = sum(ch in _VOWELS for ch in word)
    if vowels == 0 or vowels / len(word) < 0.25:
        return False
    if re.search(r"[^aeiouy]{4}|[aeiouy]{3}", word):
        return False
    pairs = [word[i : i + 2] for i in range(len(word) - 1)]
    return sum(pair in _ENGLISH_PAIRS for pair in pairs) / len(pairs) >= 0.6


def made_of_words(value: str) -> bool:
    """Tell whether value is an identifier made of words, not a random run.

    ResNet50V2_ImageNet1k_Top1Acc76_13pct and c0mpl3x9ExperimentKeyForCometML2024
    weave digits in as random text does, but most of their letters are words:
    three English-like segments (camel case or parted by _ - . /) covering at
    least 60% of the letters.
    """
    letters = sum(ch.isalpha() for ch in value)
    words = [w for w in _SEGMENT.findall(value) if _english_like(w)]
    if len(words) < _FEWEST_WORDS or not letters:
        return False
    return sum(map(len, words)) / letters >= _WORD_SHARE
