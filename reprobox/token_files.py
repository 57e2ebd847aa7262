"""Files that hold one token and nothing else.

Hugging Face's token file and many CLIs' key files are a single token. One of
a published format (hf_..., ghp_...) gives itself away under any name; a
random one of no format (a W&B key's 40 hex digits) reads as any random word,
and only a name that says what it is (wandb_api_key, api_token.txt) tells.
"""

from __future__ import annotations

from reprobox.code_assignments import random_string
from reprobox.envvars import looks_secret, secret_named_outright

# A file of one token is a few hundred bytes at most.
TOKEN_FILE_LIMIT = 4096


def bare_token(text: str) -> bool:
    """Tell whether text is one token of a published format and nothing else."""
    word = text.strip()
    return (
        0 < len(word) <= TOKEN_FILE_LIMIT
        and not any(ch.isspace() for ch in word)
        and looks_secret("", word)
    )


def named_token(name: str, text: str) -> bool:
    """Tell whether a file named for a secret holds one random token alone.

    The name, with its last suffix or without, must name a secret outright as
    `[env]` names a variable (wandb_api_key, .hf_token_copy, api_token.txt;
    not public_key), and the word read as random as a bare token in code does
    (20 characters or more). tokenizer.json and token_counts.txt hold more
    than one word.
    """
    plain = name.lstrip(".")
    stem = plain.rsplit(".", 1)[0] if "." in plain else plain
    if "public" in name.lower():
        return False
    if not (secret_named_outright(stem) or secret_named_outright(plain)):
        return False
    word = text.strip()
    if not word or len(word) > TOKEN_FILE_LIMIT:
        return False
    return not any(ch.isspace() for ch in word) and random_string(word, strict=True)
