"""shown_text.cut_tokens: what people are shown holds no token, nor part of one."""

import pytest

from reprobox.shown_text import cut_tokens

GHP = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # A shortening (…) that fell inside a token left its start, too short
        # to be one, shown whole: 14 characters of a secret.
        (f"LONG=aaa {GHP[:18]}…", "LONG=aaa ghp_***…"),
        (f"x_{GHP[:9]}… and more", "x_ghp_***… and more"),
        ("hf_Qw7eR5…", "hf_Q***…"),
        ("AKIAIOSF…", "AKIA***…"),
        ("key-0a1b2c…", "key-***…"),
        # A start of four characters or fewer shows no more than a cut would.
        (f"{GHP[:4]}…", "ghp_…"),
        ("TRAC…", "TRAC…"),
        # No token could start there: left as it is.
        ("accuracy_top5_per_epoch…", "accuracy_top5_per_epoch…"),
        ("loss_hf…", "loss_hf…"),
        ("plain text… more…", "plain text… more…"),
        ("ghp_***…", "ghp_***…"),
    ],
)
def test_a_token_shortened_inside_is_cut_short(text, shown):
    assert cut_tokens(text) == shown


def test_whole_joined_and_escaped_tokens_are_cut():
    escaped = "".join(f"%{ord(c):02X}" for c in GHP)
    assert (
        cut_tokens(f"X_{GHP}={GHP} /d/{escaped}/f") == "X_ghp_***=ghp_*** /d/ghp_***/f"
    )
