"""Secrets that code hands to a secret-named variable, argument or dict key.

`password = "Zx9#kLp2vQ7mW4rT"`, `connect(password="...")`, `{"client_secret":
"..."}`, `config["api_key"] = "..."` and a shell's `DB_PASSWORD=X ./train.sh`
write a credential out although no format gives it away. Code is full of
look-alikes (`pad_token = "<pad>"`, `key="val_loss"`, `secret_name="my-secret"`,
`signature="(n)->()"`, `word_pat = r"\\w+"`), so both halves must agree: the name
is a secret's, and the string is random, not a word, an identifier, a path, a
pattern or a stand-in. A bare `key` or `token`, and names ending in those words
that no format pins down (`s3_key`, `hf_token`), name a dict's key or a word of
a vocabulary far more often than a secret: they count only for a long string of
a token's characters that is plainly random.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from itertools import chain

from reprobox.credential_settings import REQUEST_TOKEN, secret_name
from reprobox.envvars import SECRET_KEY_ENDS
from reprobox.stand_ins import made_of_words, path_to_file, stand_in

# What may stand before a Python string's quote: its prefix, any case and
# order of r, b, u and f, two letters at most (rb"", Rb"", fr"", F"").
STRING_PREFIX = r"[rRbBuUfF]{0,2}"
# A quoted string without blanks or backslashes, as a secret is written (a
# notebook's JSON escapes its closing quote, \"), in quotes, in JavaScript's
# backticks, or in Python's triple quotes: alone on their line, or opened on
# it with the value alone up to the line's end (the value opens the next line
# when the quotes end their own, password = """ then X). One group of quotes
# first, so that the regex engine skips to quotes fast.
_QUOTED = re.compile(
    r"""(['"`])(?:([^'"`\s\\]{12,256})\\?\1"""
    r"""|(?<=['"])\1\1[ \t]*(?:\r?\n[ \t]*)?([^'"`\s\\]{12,256})[ \t]*"""
    r"""(?=\1|\r?\n|\Z))"""
)
# Parentheses opened around a value before its string: password = ("X").
_OPEN_PARENS = r"(?:\([ \t]*)*"
# The replacement fields of an f-string or a JavaScript template literal,
# {x} and ${x}, and an f-string's escaped braces: what is left is literal.
_REPLACEMENT_FIELD = re.compile(r"\{\{|\}\}|\$?\{[^{}]*\}")
# Blanks and a string's prefix alone before its quote, as when the string
# opens its line under a name left open on the line before.
_PREFIX = re.compile(rf"[ \t]*{_OPEN_PARENS}{STRING_PREFIX}")
# What stands before such a string when code gives it to a name, read from the
# text before the string (its line, up to _LOOK_BACK characters): an assignment
# or keyword argument (self.password: str = , password=), a dict key ("token":)
# or an item set by key (cfg["api_key"] = ). Comparisons (==, !=) are not.
_NAME_BEFORE = re.compile(
    r"""(?<!\w)([A-Za-z_]\w*)\s*(?::\s*[A-Za-z_][\w.\[\] |]*)?:?=\s*"""
    rf"""{_OPEN_PARENS}{STRING_PREFIX}\\?\Z"""
    r"""|(['"])([A-Za-z_][\w.-]*)\\?\2\s*(?::|\]\s*=)\s*"""
    rf"""{_OPEN_PARENS}{STRING_PREFIX}\\?\Z"""
    r"""|(?:getenv|environ\.get)\(\s*\\?(['"])([A-Za-z_]\w*)\\?\4\s*,\s*"""
    rf"""{STRING_PREFIX}\\?\Z"""
    # JavaScript's and YAML's unquoted key: { apiKey: "X" }, password: "X".
    r"""|(?<![\w.$])([A-Za-z_$][\w$]*)\s*:\s*\Z"""
)
# A login given as a pair, user then password: auth=("u", "X"), requests'
# HTTPBasicAuth("u", "X") and HTTPDigestAuth, aiohttp's BasicAuth("u", "X").
_LOGIN_PAIR_REST = (
    r"""\s*[^,()\r\n]+,\s*(?:password\s*=\s*)?"""
    rf"""{STRING_PREFIX}(['"])(?:\1\1)?([^'"\s\\]{{1,256}})\1"""
)
_LOGIN_PAIRS = (
    re.compile(r"auth\s*=\s*[(\[]" + _LOGIN_PAIR_REST),
    re.compile(r"(?:Basic|Digest|Proxy)Auth\(\s*(?:login\s*=\s*)?" + _LOGIN_PAIR_REST),
)
_LOOK_BACK = 160
# How many lines up a value may open below its name: lines between that are
# blank, a comment, or an open parenthesis or a backslash alone are skipped.
_LINES_BACK = 6
# A line's comment (# or //) after its code, and the strings that may hold a
# # or // that opens none. # after a word or dot is no comment (this.#token).
_STRING_OR_COMMENT = re.compile(
    rf"""{STRING_PREFIX}(['"`])(?:\\.|(?!\1)[^\\\r\n])*\1|(?<![\w.])#|(?<!\S)//"""
)
# What is left open at a line's end for the value on a line below it.
_OPEN_END = re.compile(r"(?:[ \t]*[(\\])+[ \t]*\Z")
# The tokens of the code before a name: a string, a word, a number, any one
# other character.
_CODE_TOKEN = re.compile(rf"""{STRING_PREFIX}(['"`])(?:\\.|(?!\1).)*\1|[\w$]+|\S""")
# Words that stand beside another word in code: Python's and JavaScript's
# keywords that open a statement or an expression (if True: x, return dict(,
# const c = new Client({ ).
_KEYWORD = re.compile(
    r"and|as|assert|async|await|case|class|const|def|del|do|elif|else|except|export"
    r"|finally|for|from|function|global|if|import|in|is|lambda|let|match|mut|new"
    r"|nonlocal|not|of|or|raise|return|static|then|try|typeof|val|var|void|while"
    r"|with|yield"
)
# A shell's bare assignment with an unquoted value, alone or before a command:
# DB_PASSWORD=X, DB_PASSWORD=X ./train.sh, local token=X, and the same as a
# Markdown code span or RST literal, `DB_PASSWORD=X ./train.sh`. Python and
# prose write `name = value` or end the value with a comma or bracket.
_SHELL_VALUE = r"([A-Za-z_]\w*)=([\w+/=.@#%:!~-]{12,256})(?=[ \t;`]|[\r\n]|\Z)"
_SHELL_ASSIGNMENT = re.compile(
    r"[\r\n][ \t]*(?:(?:local|readonly|declare(?:[ \t]+-\w+)*)[ \t]+)?" + _SHELL_VALUE
)
# A pattern of its own, opened by one backtick written out (``*, not `+), so
# that each pattern starts with a character the regex engine skips ahead to.
_SHELL_SPAN_ASSIGNMENT = re.compile("``*" + _SHELL_VALUE)
# Characters no secret in code is likely to hold, and every pattern, template
# and markup does: regex syntax, format slots, tags, shell expansion, and
# the ellipsis of a value cut short in a docstring (eyJhbGci...).
_NOT_IN_A_SECRET = re.compile(r"""[\[\](){}|\\^$*?<>`'",;…]|://|\.\.""")
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_LOWER_RUN = re.compile(r"[a-z]+")
_UPPER_RUN = re.compile(r"[A-Z]+")
# A word that every secret name holds (those of envvars.secret_variable_name
# and secret_setting_name), looked for first.
SECRET_WORD = re.compile(
    r"pass|pwd|sig|secret|token|cred|key|bearer|auth|cookie|pat|private|session"
    r"|jwt|dsn"
)
# The characters of tokens and keys (base64, base64url, hex, dotted JWT-like).
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_+/=.-]+")
_HEX = re.compile(r"[0-9a-fA-F-]+")
# What parts a value into words: separators of identifiers, paths and slugs.
_PART_BREAK = re.compile(r"[_./:@-]+")
# A file's name ends in an extension: train_2024.csv, model-v3.bin.
_FILE_NAME = re.compile(r"\.[a-z][a-z0-9]{0,4}\Z")
# The end of a name that names a secret outright, separators dropped.
_SECRET_ENDS = (
    "password",
    "passwd",
    "passphrase",
    "pass",
    "pwd",
    "secret",
    "credential",
    "credentials",
    *SECRET_KEY_ENDS,
    "accesstoken",
    "apitoken",
    "authtoken",
    "bearertoken",
    "refreshtoken",
    "secrettoken",
    "sessiontoken",
)
# Secret-sounding names whose values are no secret: a signature or hash
# checked against, a regex constant (word_pat), and the tokens of requests
# that page, retry or verify (AWS's NextToken, ClientToken, UpdateToken, a
# domain's VerificationToken published in DNS). Public keys are none either
# (.NET's publicKeyToken).
_NOT_SECRET_ENDS = ("signature", "sig", "pat")


def code_assigns_secret(text: str) -> bool:
    """Tell whether code in text gives a secret-named name a written secret."""
    return any(True for _ in code_secrets(text))


def code_secrets(text: str) -> Iterator[str]:
    """Yield the written secrets that code in text gives secret-named names."""
    yield from _quoted_secrets(text)
    if "uth" in text:
        for pairs in _LOGIN_PAIRS:
            for match in pairs.finditer(text):
                before = text[match.start() - 1 : match.start()]
                if pairs is _LOGIN_PAIRS[0] and (before.isalnum() or before == "_"):
                    continue  # oauth=(, basic_auth = (: another name
                if secret_value_for("password", match.group(2)):
                    yield match.group(2)
    spans = _SHELL_SPAN_ASSIGNMENT.finditer(text) if "`" in text else ()
    for match in chain(_SHELL_ASSIGNMENT.finditer("\n" + text), spans):
        name, value = match.groups()
        if _mixed(value) and secret_value_for(name, value):
            yield value


def _quoted_secrets(text: str) -> Iterator[str]:
    """Yield the quoted strings in text that are secrets given to secret names."""
    for match in _QUOTED.finditer(text):
        value = match.group(2) or match.group(3)
        if not _mixed(value):
            continue  # cheap first: most strings are words or identifiers
        start = match.start()
        line_start = text.rfind("\n", max(0, start - _LOOK_BACK), start) + 1
        before = _NAME_BEFORE.search(text, max(line_start, start - _LOOK_BACK), start)
        if before is None and line_start and _PREFIX.fullmatch(text, line_start, start):
            before = _name_on_line_before(text, line_start)
        if before is None:
            continue
        if before.group(3) and before.group(3).lower() in ("key", "token"):
            continue  # a record's "key" or "token" field: data, not a login
        name = before.group(1) or before.group(3) or before.group(5) or before[6]
        for literal in _literal_parts(text, start, value):
            if secret_value_for(name, literal):
                yield literal
                break


def _literal_parts(text: str, start: int, value: str) -> list[str]:
    """Return what a string opened at start writes out literally: value, or
    the parts between an f-string's or a template literal's fields.

    f"{prefix}-{n}" writes nothing out; f"X{n}" writes X, a secret if X is.
    """
    if "{" not in value:
        return [value]
    template = text[start] == "`" or "f" in text[max(0, start - 2) : start].lower()
    if not template:
        return [value]  # a str.format template or plain text: judged whole
    return [part for part in _REPLACEMENT_FIELD.split(value) if part]


def _name_on_line_before(text: str, line_start: int) -> re.Match[str] | None:
    """Return the name that a line above line_start leaves open for a value
    (`password = (`, `"token": \\`, `x = login(key=\\`), the string alone on
    the next line; blank lines, comments and a lone ( or \\ may come between."""
    end = line_start - 1
    for _ in range(_LINES_BACK):
        low = max(0, end - _LOOK_BACK)
        begin = text.rfind("\n", low, end) + 1 or low
        previous = _OPEN_END.sub("", _code_of(text[begin:end]).rstrip())
        if previous.strip():
            return _name_left_open(previous)
        if begin == 0:
            return None
        end = begin - 1
    return None


def _code_of(line: str) -> str:
    """Return line without its comment: up to a # or // outside a string."""
    for match in _STRING_OR_COMMENT.finditer(line):
        if match.group(1) is None:
            return line[: match.start()]
    return line


def _name_left_open(line: str) -> re.Match[str] | None:
    """Return the name whose value line leaves open at its end, if code, not
    prose, comes before the name on the line."""
    before = _NAME_BEFORE.search(line)
    # Code may come first (self.password, cfg["key"], x = login(key=, if ok:
    # connect(password=), not prose: 'For example: "rawKey":' names no setting.
    if before is None or not _code_before_name(line[: before.start()]):
        return None
    return before


def _code_before_name(text: str) -> bool:
    """Tell whether text reads as code: no two words or strings side by side,
    as prose has them, unless one is a keyword (if ok:, return dict(, lambda:)."""
    tokens = [token.group() for token in _CODE_TOKEN.finditer(text)]
    for first, second in zip(tokens, tokens[1:], strict=False):
        if not (_operand(first) and _operand(second)):
            continue
        if not (_KEYWORD.fullmatch(first) or _KEYWORD.fullmatch(second)):
            return False
    return True


def _operand(token: str) -> bool:
    """Tell whether a token of code is a word, a number or a whole string."""
    return token[0].isalnum() or token[0] in "_$" or len(token) > 1


def _mixed(value: str) -> bool:
    """Tell whether value has letters with digits, or letters of both cases."""
    return bool(
        _LETTER.search(value)
        and (
            _DIGIT.search(value)
            or (_LOWER_RUN.search(value) and _UPPER_RUN.search(value))
        )
    )


def secret_value_for(name: str, value: str) -> bool:
    """Tell whether value, given to name, is a secret written out."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    if not SECRET_WORD.search(flat):
        return False  # cheap first: most names are no secret's
    if flat.endswith(_NOT_SECRET_ENDS) or "public" in flat:
        return False
    if REQUEST_TOKEN.search(flat):
        return False
    if flat in ("key", "token"):
        return random_string(value, strict=True)
    if not secret_name(name):
        return False
    return random_string(value, strict=not flat.endswith(_SECRET_ENDS))


def random_string(value: str, strict: bool = False) -> bool:
    """Tell whether value reads as a random secret, not a word, name or stand-in.

    It must be long (12 characters; 20 when strict, or when all hex), hold no
    blank or pattern syntax, name no stand-in, weave digits into letters or
    flip its letters' case as random text does (not val_accuracy_2, model-v3
    or EmrManagedMasterSecurityGroup), and be spread over many characters
    (Shannon entropy). strict also asks for a token's characters only and
    more entropy.
    """
    shortest = 20 if strict or _HEX.fullmatch(value) else 12
    if len(value) < shortest or _NOT_IN_A_SECRET.search(value):
        return False
    if strict and not _TOKEN_CHARACTERS.fullmatch(value):
        return False
    if stand_in(value) or _FILE_NAME.search(value) or path_to_file(value):
        return False
    if made_of_words(value):
        return False  # ResNet50V2_ImageNet1k_Top1Acc76: an identifier's words
    woven = any(_digits_woven(part) for part in _PART_BREAK.split(value))
    if not (woven or _cases_flipped(value)):
        return False
    return _entropy(value) >= (3.2 if strict else 3.0)


def _digits_woven(part: str) -> bool:
    """Tell whether part switches between letters and digits three times or
    more, as random text does and words, versions and names seldom do."""
    if len(part) < 8:
        return False
    kinds = ["d" if ch.isdigit() else "a" for ch in part if ch.isalnum()]
    return sum(a != b for a, b in zip(kinds, kinds[1:], strict=False)) >= 3


def _cases_flipped(value: str) -> bool:
    """Tell whether value's letters flip case every letter or two, as random
    text's do; a CamelCase name's lowercase runs are its words, longer."""
    lower = _LOWER_RUN.findall(value)
    if len(lower) < 2 or len(_UPPER_RUN.findall(value)) < 2:
        return False
    return sum(map(len, lower)) / len(lower) <= 2.5


def _entropy(value: str) -> float:
    """Return the Shannon entropy of value, in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
