"""A token of a published format is found beside a - or + too.

Only characters a token's own alphabet holds can hide it: a ghp_ token is
letters, digits and _, so `data-ghp_...` or `a+ghp_...` holds one whole, and
froze into the manifest and labels (breaker AS, round 34). Formats whose
bodies hold - keep - as a boundary, so words joined by - stay no token.
"""

from __future__ import annotations

import pytest

from reprobox.credential_lines import published_token

# Made up for these tests: the shapes of a GitHub token and an AWS key id.
GHP = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
AWS = "AKIA" + "Q7ZX2M4N6P8R1T3V"


@pytest.mark.parametrize(
    "text",
    [
        f"data-{GHP}.csv",
        f"m-{GHP}",
        f"a+{GHP}",
        f"{GHP}-foo",
        f"x-{AWS}",
        f"https://127.0.0.1:9/simple-{GHP}/",
        f"p = 'a-{GHP}'",
    ],
)
def test_a_token_beside_a_dash_or_plus_is_found(text):
    assert published_token(text)


@pytest.mark.parametrize(
    "text",
    [
        f"x{GHP}",  # part of a longer word: not a whole token
        f"{GHP}x_",
        "sk-learn-compatible-estimator-v2",
        "glpat-reply-to-thread-now-please-x",
        "ghp_" + "x" * 36,  # blanked, as docs write one
    ],
)
def test_words_and_longer_runs_are_still_no_token(text):
    assert not published_token(text)
