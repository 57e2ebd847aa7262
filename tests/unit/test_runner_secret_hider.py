"""--env secret values stay hidden in the run's log in the forms a script prints."""

from __future__ import annotations

import pytest

from reprobox.lock.indexes import BuildSecrets, secret_pieces
from reprobox.runner import secret_hider


def test_a_url_password_is_hidden_alone_and_with_its_user():
    hide = secret_hider({"DBURL": "postgres://u:Pw9secretX@h/db"})
    assert hide("password=Pw9secretX") == "password=***"
    assert hide("netloc=u:Pw9secretX@h") == "netloc=***@h"
    assert hide("postgres://u:Pw9secretX@h/db") == "***"
    assert hide("user=u host=h db=db") == "user=u host=h db=db"


def test_a_percent_encoded_password_is_hidden_in_both_forms():
    hide = secret_hider({"DBURL": "postgres://u:Pw9%2Fsecret%40X@h/db"})
    assert hide("raw=Pw9%2Fsecret%40X") == "raw=***"
    assert hide("decoded=Pw9/secret@X") == "decoded=***"
    assert hide("userinfo=u:Pw9/secret@X") == "userinfo=***"


def test_a_token_as_user_name_and_a_query_token_are_hidden():
    hide = secret_hider(
        {"REPO": "https://tok3nTOK3Ntok3n@git.example/r.git?x=1&access_token=q1w2e3r4"}
    )
    assert hide("user tok3nTOK3Ntok3n") == "user ***"
    assert hide("query q1w2e3r4") == "query ***"
    assert hide("x=1") == "x=1"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # A password shorter than 6 would mask ordinary words: only the whole
        # value and the userinfo go.
        ("postgres://admin:abc12@h/db", "step abc12 done, admin logged"),
        # A lone user name that is a plain word is no token.
        ("postgres://postgres@db.internal/app", "connected to postgres 16"),
    ],
)
def test_short_or_plain_parts_are_left_alone(value, text):
    assert secret_hider({"DBURL": value})(text) == text


def test_a_value_that_is_no_secret_is_left_alone():
    hide = secret_hider({"MODE": "https://example.com/data?page=2"})
    assert hide("https://example.com/data?page=2") == "https://example.com/data?page=2"


def test_secret_pieces_keep_a_lone_user_for_index_credentials():
    # For an index URL the user name is the token, whatever it looks like.
    assert "tokenonly" in secret_pieces("https://tokenonly@pypi.example/simple/")
    assert "tokenonly" not in secret_pieces(
        "https://tokenonly@pypi.example/simple/", plain_users=False
    )
    secrets = BuildSecrets({"pip_index_url": "https://__token__:p%40ss@h/simple/"})
    assert secrets.contains_in("x p@ss y") == ["pip_index_url"]


def test_a_value_that_is_no_url_gives_no_pieces_but_itself():
    assert secret_pieces("ghp_abc") == ["ghp_abc"]
    assert secret_pieces("https://u:pw@[bad/x") == ["https://u:pw@[bad/x"]
