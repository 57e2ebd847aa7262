"""A published token's prefix before lowercase words joined by dashes is none.

`sk-learn-compatible-estimator-v2` names a scikit-learn estimator; an OpenAI
or Anthropic key after `sk-` is random, mixed case or with digits woven in.
"""

from __future__ import annotations

import pytest

from reprobox.credential_lines import credential_on_line
from reprobox.secret_shapes import PUBLISHED_TOKEN

RANDOM = "Ab3dEf9hIjKl2mNo5pQr7sTu"


@pytest.mark.parametrize(
    "text",
    [
        'sk = "sk-learn-compatible-estimator-v2"',
        "class sk-learn-estimator-html-repr_2",
        "xoxb-reply-to-thread-handler-v2",
        "pypi-upload-release-notes-2024",
    ],
)
def test_lowercase_words_after_a_prefix_are_no_token(text):
    assert PUBLISHED_TOKEN.search(text) is None
    assert credential_on_line(f"x = 1\n{text}\n") is None


@pytest.mark.parametrize(
    "token",
    [
        f"sk-proj-{RANDOM}",
        f"sk-ant-api03-{RANDOM}",
        "sk-a59636889b72903a44ae8fd0946d2da3",  # lowercase hex, no dash
        "sk-a1b2c3d4e5f6-g7h8i9j0k1l2m3n4",  # lowercase, digits woven in
        f"sk-learn-compatible-estimator-v2-{RANDOM}",  # words, then a random run
    ],
)
def test_a_random_body_after_the_prefix_is_still_a_token(token):
    assert PUBLISHED_TOKEN.search(f'key = "{token}"').group() == token
    assert credential_on_line(f'x = 1\nkey = "{token}"\n') == (
        2,
        "a token of a published format",
    )
