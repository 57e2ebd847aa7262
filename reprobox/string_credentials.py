"""Credentials carried inside a string: connection strings and secret URLs.

`psycopg2.connect("host=db password=X dbname=runs")` (libpq's key=value
form), Azure's `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=X`
and a Slack or Discord webhook URL write a secret out though no name outside
the string says so. The settings inside a string are named as a variable's
value's are (envvars.secret_setting_name), and their values must read as
random (code_assignments.secret_value_for), so `"password=%s"`, `"token={}"`
and Slack's documented `.../T00000000/B00000000/XXXXXXXX` pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobox.code_assignments import random_string, secret_value_for
from reprobox.envvars import secret_setting_name
from reprobox.secret_shapes import SECRET_URLS
from reprobox.stand_ins import stand_in

# A quoted string on one line with a name=value setting in it.
_SETTINGS_STRING = re.compile(
    r"""(["'])((?:(?!\1)[^\r\n\\])*?[A-Za-z]\s*=(?:(?!\1)[^\r\n\\])*)\1"""
)
# One setting of a connection string: parted by blanks (libpq), ; (ADO.NET,
# Azure, ODBC) or & (a query), its value up to the next such mark.
_SETTING = re.compile(r"(?:^|[\s;&,?])([A-Za-z][\w.-]*)\s*=\s*([^\s;&,]+)")
# The account key of Azurite, Azure's storage emulator: published, and the
# same on every machine (AccountName=devstoreaccount1).
_PUBLIC_KEYS = frozenset(
    (
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
        "K1SZFPTOtr/KBHBeksoGMGw==",
    )
)
# SECRET_URLS as hosts are written, in lowercase: without case folding the
# regex engine finds them ten times faster.
_SECRET_HOST = re.compile(SECRET_URLS.pattern)
# The rest of the URL, up to a blank, a quote or a bracket.
_URL_REST = re.compile(r"[^\s'\"<>`()\[\]]*")
# The parts of a secret URL's path that may be its token.
_PATH_PART = re.compile(r"[^/:?#&=]+")


def string_setting_secrets(text: str) -> Iterator[str]:
    """Yield the values of the secret settings inside text's quoted strings."""
    if "=" not in text:
        return
    for string in _SETTINGS_STRING.finditer(text):
        for setting in _SETTING.finditer(string.group(2)):
            name, value = setting.groups()
            if not secret_setting_name(name) or not _written(name, value):
                continue
            # A query string's values (a=1&oauth_token_secret=X) are what
            # OAuth docs show by the dozen: a token's length and characters.
            query = "&" in string.group(2)
            if not query or random_string(value, strict=True):
                yield value


def secret_url_tokens(text: str) -> Iterator[str]:
    """Yield the webhook and bot URLs in text that hold a random token."""
    for host in _SECRET_HOST.finditer(text):
        rest = _URL_REST.match(text, host.end()).group()
        if any(
            random_string(part.group()) and not stand_in(part.group())
            for part in _PATH_PART.finditer(rest)
        ):
            yield host.group() + rest


def _written(name: str, value: str) -> bool:
    if value in _PUBLIC_KEYS or stand_in(value):
        return False
    return secret_value_for(name, value)
