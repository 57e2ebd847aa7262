"""URL templates, paths and slot descriptions in a secret's place are no
secret; the same lines with a real value still are."""

from __future__ import annotations

import pytest

from reprobox.credential_lines import credential_on_line

SCRIPT = "a secret set by a script line"
URL = "a password in a URL"


@pytest.mark.parametrize(
    "line",
    [
        # langchain's docs: a stand-in user:password, and no host after @
        "export HTTPS_PROXY='http://username:password@proxy_uri:port'",
        # a value that describes the key, or points at its file
        'export GITHUB_APP_PRIVATE_KEY="path-to-private-key"',
        "export DB_PASSWORD=my_secret_name",
        "export GOOGLE_APPLICATION_CREDENTIALS=/path/to/creds.json",
        "export SSH_PRIVATE_KEY=~/keys/id_rsa",
        # redis's docstring: optional parts in brackets
        "    redis://[[username]:[password]]@localhost:6379/0",
        "see rediss://[[user]:[s3cretXk9]]@cache:6380/0",
        # a host that is a slot: no URL at all
        'URL = "https://svc:Hx82kq1m@host:port/runs"',
    ],
)
def test_templates_are_no_credential(line):
    assert credential_on_line(f"x = 1\n{line}\n") is None


@pytest.mark.parametrize(
    "line, kind",
    [
        ("export HTTPS_PROXY='http://svc:Hx82kq1mZ@proxy.internal:3128'", URL),
        ("export HTTPS_PROXY='http://svc:Hx82kq1mZ@proxy_uri:port'", SCRIPT),
        ('export GITHUB_APP_PRIVATE_KEY="Hx82kq1mZ-rT7vW2pL"', SCRIPT),
        ("export DB_PASSWORD=correct-horse-battery-staple", SCRIPT),
        ("export API_KEY=/9j/4AAQSkZJRgABAQAAAQ", SCRIPT),  # base64, not a path
        ("    redis://user:Hx82kq1mZ@localhost:6379/0", URL),
        ('DB = "postgresql://svc:Hx82kq1m@[::1]:5432/runs"', URL),
        ('DB = "postgresql://svc:Hx82kq1m@db.internal"', URL),
    ],
)
def test_the_same_lines_with_a_real_value_are_refused(line, kind):
    assert credential_on_line(f"x = 1\n{line}\n") == (2, kind)
