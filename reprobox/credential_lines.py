"""Credentials written anywhere in a text, whatever else the text holds.

Settings files are told by every line being a setting; these shapes give a
file away on one line among code, logs or data: a URL with a password in it
(`https://user:pw@host`, as a .condarc channel or an --extra-index-url has
it), a token of a published format, a JSON-lines record with a secret field,
a script or Terraform line that sets a secret, and the header of the access
key CSV that the AWS console hands out. Stand-ins that documentation and code
write in a secret's place (`user:password@`, `${TOKEN}`, `<token>`, `***`,
`{password}`) are not secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from reprobox.credential_settings import literal_secret, secret_name
from reprobox.envvars import looks_secret
from reprobox.secret_shapes import PUBLISHED_TOKEN

# A URL whose userinfo has a password: scheme://[user]:password@host. The
# scheme starts where a word does, so that a long run of letters (base64, hex)
# is tried once, not from each of its characters.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://([^\s/:@'\"<>]*):([^\s/@'\"<>]+)@[\w\[.-]"
)
# What documentation and code write where a password goes.
_PLACEHOLDER_WORDS = frozenset(
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
        # defaults that examples write for a local service
        "guest",
        "admin",
        "root",
        "test",
        "demo",
    )
)
# A reference or template slot: ${X}, $X, $(cmd), %(x)s, %s, %X%, {x}, <x>.
_PLACEHOLDER_MARK = re.compile(r"\$[({\w]|%\(|%s\b|%\w+%|[{}<>]|\.\.\.|…")
# A value made of one repeated character (xxx, ***, ...) or spelled in
# capitals as a name (PASSWORD, API_TOKEN, YOUR_KEY).
_REPEATED = re.compile(r"(.)\1*")
_CAPITAL_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_YOUR = re.compile(r"your[\W_]?|my[\W_]?(?:pass|secret|token|key)", re.I)
# A script line that sets a variable: sh's export, cmd's set/setx, PowerShell.
_SCRIPT_ASSIGNMENT = re.compile(
    r"""\s*@?(?:(?:export|set|setx)\s+|\$env:)"?([A-Za-z_][A-Za-z0-9_]*)"""
    r"""\s*(?:=\s*|\s+(?=["']))(.*?)"?\s*""",
    re.I,
)
# Terraform/HCL: a block opens a line (resource "x" "y" {, provider "x" {).
_HCL_BLOCK = re.compile(
    r"(?:resource|provider|variable|module|data|terraform|locals|output)\b[^\n]*\{\s*$",
    re.M,
)
_HCL_SETTING = re.compile(r'\s*([A-Za-z_][\w-]*)\s*=\s*"([^"\n]*)"\s*')
# The access key CSV of the AWS console, and of IAM user downloads.
_AWS_KEY_CSV = re.compile(r"secret access key|access key id", re.I)
_LINE = re.compile(r"[^\r\n]+")
# A PEM block in base64, as Kubernetes secrets and CI variables keep keys:
# base64 of "-----BEGIN", then enough to hold the rest of its first line.
_BASE64_PEM = re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/=\s]{40,}")
# Keys of tokenized data, which JSON-lines datasets hold by the thousand.
_DATA_TOKEN_NAME = re.compile(
    r"(?:(?:next|prev|previous|input|output|target|pred|predicted|gold|first|last"
    r"|top|special|bos|eos|pad|unk|sep|cls|mask)[_-]?)?tokens?",
    re.I,
)


def placeholder(value: str) -> bool:
    """Tell whether a value is a stand-in for a secret, not one."""
    value = value.strip().strip("\"'")
    return bool(
        not value
        or value.lower() in _PLACEHOLDER_WORDS
        or _PLACEHOLDER_MARK.search(value)
        or _REPEATED.fullmatch(value)
        or _CAPITAL_NAME.fullmatch(value)
        or _YOUR.match(value)
        or set(value.lower()) <= set("x*.-_")
    )


def url_with_password(text: str) -> bool:
    """Tell whether text has a URL whose userinfo writes out a password."""
    return any(
        not placeholder(match.group(2)) and not placeholder_user(match.group(1))
        for match in _URL_PASSWORD.finditer(text)
    )


def placeholder_user(user: str) -> bool:
    """Tell whether a URL's user is a template slot, so its password is one too."""
    return bool(_PLACEHOLDER_MARK.search(user))


def published_token(text: str) -> bool:
    """Tell whether text holds a whole token of a published format."""
    return bool(PUBLISHED_TOKEN.search(text))


def secret_in_text(text: str) -> bool:
    """Tell whether any line of text writes out a credential, as this module reads."""
    return (
        url_with_password(text)
        or published_token(text)
        or bool(_AWS_KEY_CSV.search(text[: text.find("\n") + 1 or len(text)]))
        or _base64_private_key(text)
        or _json_lines_with_secret(text)
        or _script_sets_secret(text)
        or _hcl_sets_secret(text)
    )


def _base64_private_key(text: str) -> bool:
    """Tell whether text holds base64 of a PEM private key."""
    for match in _BASE64_PEM.finditer(text):
        head = "".join(match.group().split())[:64]
        head = head[: len(head) // 4 * 4]
        try:
            pem = base64.b64decode(head, validate=True)
        except (binascii.Error, ValueError):
            continue
        if b"PRIVATE KEY-----" in pem:
            return True
    return False


def _json_lines_with_secret(text: str) -> bool:
    """Tell whether a line of text is a JSON object with a secret field.

    A JSON-lines log or dataset: a record's key named for a secret, holding a
    string that is written out. Keys such as token and next_token name a
    tokenized text's words there, so they count only for a token-shaped value.
    """
    for match in _LINE.finditer(text):
        line = match.group().strip()
        if not (line.startswith("{") and line.endswith("}") and '"' in line):
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and any(
            _secret_field(name, value) for name, value in record.items()
        ):
            return True
    return False


def _secret_field(name: str, value: object) -> bool:
    if not isinstance(value, str) or not literal_secret(value) or placeholder(value):
        return False
    if _DATA_TOKEN_NAME.fullmatch(name):
        return looks_secret("", value)
    return secret_name(name)


def _script_sets_secret(text: str) -> bool:
    """Tell whether a script line sets a secret variable to a written value."""
    for match in _LINE.finditer(text):
        assignment = _SCRIPT_ASSIGNMENT.fullmatch(match.group())
        if assignment is None:
            continue
        name, value = assignment.groups()
        value = value.strip().strip("\"'")
        if value and not placeholder(value) and looks_secret(name, value):
            return True
    return False


def _hcl_sets_secret(text: str) -> bool:
    """Tell whether Terraform/HCL text sets a secret-named argument to a string."""
    if not _HCL_BLOCK.search(text):
        return False
    return any(
        (setting := _HCL_SETTING.fullmatch(match.group()))
        and secret_name(setting.group(1))
        and literal_secret(setting.group(2))
        and not placeholder(setting.group(2))
        for match in _LINE.finditer(text)
    )
