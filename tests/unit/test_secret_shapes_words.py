"""A published prefix followed by words is no token: its body must be random."""

from __future__ import annotations

import pytest

from reprobox.credential_lines import credential_on_line, published_token
from reprobox.secret_shapes import PUBLISHED_TOKEN

# Words joined by - or _ after a prefix, as CSS classes, slugs and names are.
WORDS_AFTER_A_PREFIX = [
    "sk-toggleable__label-arrow",
    "sk-estimator-doc-link-fitted",
    "sk-dashed-wrapped-estimator-label",
    "xoxb-reply-to-the-thread",
    "xapp-level-tokens-explained",
    "pypi-upload-with-trusted-publishing",
    "glpat-personal-access-token-scopes",
    "nvapi-key-from-the-catalog-page",
    "github_pat_fine_grained_permissions",
    "glsa_service_account_token_name",
    "ya29.access-token-from-metadata-server",
    # blanked out with x's, as docs show where a token goes
    "ghp_" + "x" * 36,
    "sk-proj-" + "X" * 40,
    "hf_xxxxxxxxxxxxxxxxxxxxxxxxxx",
]
# Near misses: the same prefixes with random bodies, as the services issue
# them, including bodies whose - and _ leave no run of 20.
RANDOM_AFTER_A_PREFIX = [
    "sk-" + "Tq7vLm2pR9xK4bWc8ZsYd3FgJ6hNe1UaQo5Vi0rSt2MwPk7B",  # legacy, 48
    "sk-proj-" + "aB3dE5gH7kM9-qR2_" * 4,
    "sk-svcacct-" + "Zp4_mQ8-Lr2vT6nW" * 5,
    "sk-ant-api03-" + "x9" * 20,
    "sk-" + "R" * 24,
    "xoxb-1234567890-1234567890123-aBcDeFgHiJkLmNoPqRsTuVwX",
    "pypi-AgEIcHlwaS5vcmcCJDFiNjU4ZDQ3LTkyZTUtNGZkYi1hYWJjLTI0",
    "glpat-aB3dE5gH7kM9qR2sT4vW",
    "nvapi-" + "aB3-dE5_gH7kM9qR2sT4" * 3,
    "ghp_0123456789abcdefghijxyzABCDEFGHIJKLM",  # an x among random letters
]


@pytest.mark.parametrize("value", WORDS_AFTER_A_PREFIX)
def test_words_after_a_prefix_are_no_token(value):
    assert PUBLISHED_TOKEN.search(value) is None
    assert credential_on_line(f'<label class="{value}">\n') is None


@pytest.mark.parametrize("value", RANDOM_AFTER_A_PREFIX)
def test_a_random_body_after_a_prefix_is_a_token(value):
    assert published_token(f"key = {value}\n")
    assert credential_on_line(f"x = 1\nkey = '{value}'\n") == (
        2,
        "a token of a published format",
    )
