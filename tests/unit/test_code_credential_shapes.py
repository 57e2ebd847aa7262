"""Credentials that code writes in shapes other than a name = "secret":
a Basic login header, connection strings and webhooks inside a string,
positional logins, JavaScript keys, os.putenv and a value on the next line."""

from __future__ import annotations

import base64

import pytest

from reprobox.credential_lines import credential_on_line

R = "Xk9mP2qR7vL4nT8wZ3jD"
BASIC = base64.b64encode(f"admin:{R}".encode()).decode()
HEADER = "a token in an Authorization header"


def _line_of(text: str):
    return credential_on_line("import requests\n" + text)


@pytest.mark.parametrize(
    "line",
    [
        f'r = requests.get(url, headers={{"Authorization": "Basic {BASIC}"}})',
        f'curl -H "Authorization: Basic {BASIC}" https://api.example/v1',
    ],
)
def test_a_basic_login_header_is_judged_by_its_password(line):
    assert _line_of(line + "\n") == (2, HEADER)


@pytest.mark.parametrize(
    "line",
    [
        # RFC 7617's aladdin:opensesame and user:pass, as docs write them.
        'curl -H "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l" https://x',
        "# Authorization: Basic dXNlcjpwYXNz",
        'curl -H "Authorization: Basic $CREDENTIALS" https://x',
        'headers = {"Authorization": f"Basic {encoded}"}',
        'headers = {"Authorization": "Basic " + b64encode(login).decode()}',
    ],
)
def test_a_basic_header_without_a_written_password_is_not(line):
    assert _line_of(line + "\n") is None
