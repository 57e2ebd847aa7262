"""Secrets that code assigns to a secret-named name, and the look-alikes that
ML code is full of: the second must pass, or freeze refuses ordinary projects.

Each text is one line after two of ordinary code, so line 3 is the finding.
"""

from __future__ import annotations

import pytest

from reprobox.code_assignments import random_string
from reprobox.credential_lines import credential_on_line

KIND = "a secret assigned in code"
HEAD = "import os\n\n"
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example

ASSIGNED = [
    # The shapes a breaker found, each once in its own file.
    'password = "Zx9#kLp2vQ7mW4rT"',
    "password = 'Zx9#kLp2vQ7mW4rT'",
    'password: str = "Zx9#kLp2vQ7mW4rT"',
    'SECRET_KEY = "django-insecure-8f3k2j5h7g9d1s4a6q"',
    'api_key = "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e"',
    'conn = psycopg2.connect(host="db", password="s3cr3tPassw0rd2024")',
    'wandb.login(key="a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0")',
    'huggingface_hub.login(token="q8Wm2Rt7Yp4Kd9Zx3Lv6Nb1Hs5Jf0Gc")',
    's3 = boto3.client("s3", aws_secret_access_key='
    '"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9r8Lk2Vm")',
    'auth = dict(api_token="7Hq2Lm9Xv4Kp8Rz3Tn6Wb1Yc5")',
    'auth = {"client_secret": "7Hq2Lm9Xv4Kp8Rz3Tn6Wb1Yc5"}',
    "DB_PASSWORD=Zx9kLp2vQ7mW4rT",
    'DB_PASSWORD="Zx9kLp2vQ7mW4rT" ./train.sh',
    # Their neighbours: other quotes, places and spellings of the same act.
    "auth = {'client_secret': '7Hq2Lm9Xv4Kp8Rz3Tn6Wb1Yc5'}",
    "    password='s3cr3tPassw0rd2024',",
    'DB_PASSWORD: Final[str] = "s3cr3tPassw0rd2024"',
    'self.secret_key = b"django-insecure-8f3k2j5h7g9d1s4a6q"',
    'cfg["api_key"] = "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e"',
    'key = os.getenv("WANDB_API_KEY", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0")',
    'if (db_pass := "s3cr3tPassw0rd2024"): pass',
    "local db_password=Zx9kLp2vQ7mW4rT",
    "DB_PASSWORD=Zx9kLp2vQ7mW4rT; python train.py",
    "# password = 'Zx9#kLp2vQ7mW4rT'  (a comment goes into the image too)",
    'client_secret = "kLpQvZmWrTxNbYhGe"',
]
NOT_ASSIGNED = [
    # Tokenizers' vocabulary, keys of data and metrics, secrets read elsewhere.
    'pad_token = "<pad>"',
    'tok = Tokenizer(eos_token="</s>", unk_token="[UNK]")',
    'vocab.add(token="[CLS]")',
    "tokenizer.pad_token = tokenizer.eos_token",
    "password = getpass()",
    'api_key = os.environ["KEY"]',
    'api_key = os.environ.get("WANDB_API_KEY")',
    'best = max(scores, key="test_accuracy")',
    'secret_name="my-secret"',
    "ids = enc(text)['token_type_ids']",
    "out = llm(prompt, max_tokens=512)",
    'password=""',
    "password=None",
    "pairs.sort(key=lambda x: x[1])",
    'stop = EarlyStopping(key="val_loss")',
    'monitor_key = "val_accuracy_2"',
    "    token=token,",
    "api_key=API_KEY_V2",
    'password = f"{user}-{stamp}-Zx9kLp2vQ7"',
    # Secret-shaped names whose values are patterns, hashes or public.
    'word_pat = r"[A-Za-z]+\\d{3}"',
    'token_pattern = r"(?u)\\b\\w\\w+\\b"',
    'ufunc = np.vectorize(f, signature="(n),(n)->()")',
    'signature = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"',
    'ref = "Culture=neutral, publicKeyToken=b77a5c561934e089"',
    "publicKeyToken=b77a5c561934e089",
    'public_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4f5wg5l2hKsTeNem"',
    'self.update_token = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"',
    'result = {"VerificationToken": "ILQMESfEW0p6i6gIJcEWvO65TP5hg6B99hGFZ2lxrIs="}',
    'resp = {"NextToken": "eyJvZmZzZXQiOjEwMH0x9Abc2"}',
    # Stand-ins: AWS's documented example key, placeholders, test values.
    f'boto3.client("s3", aws_secret_access_key="{AWS_DOC_SECRET}")',
    'password = "your-Zx9kLp2vQ7mW4rT"',
    'api_key = "test-Zx9kLp2vQ7mW4rT"',
    'secret = "changeme_a1b2c3d4e5"',
    'password = "dummy-Zx9kLp2vQ7mW4rT"',
    'client.verify(verify_token="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...")',
    # Strings that are no random secret: words, versions, paths, short hex.
    'password = "correcthorsebatterystaple"',
    'db_password = "postgres2024"',
    'session = "20240101-run3-a1b2c3"',
    's3_key = "datasets/v2/train-0001.parquet"',
    'key = "model_layer_12_weights_v3"',
    'token = "bert-base-uncased-v2"',
    'api_key = "deadbeef1234cafe"',  # hex under 20
    'token = "Zx9kLp2vQ7mW4rT"',  # a bare token asks for 20 or more
    'key = "Zx9#kLp2vQ7mW4rT-4pQ9zL2mV7xK3wR8"',  # a bare key: token characters only
    # Comparing is no assignment; shell with a reference assigns no literal.
    'if password == "s3cr3tPassw0rd2024": pass',
    'DB_PASSWORD="${DB_PASSWORD:-Zx9kLp2vQ7mW4rT}" ./train.sh',
    "DB_PASSWORD=$(cat /run/secrets/db)",
]


@pytest.mark.parametrize("line", ASSIGNED)
def test_a_secret_given_to_a_secret_name_is_found_on_its_line(line):
    assert credential_on_line(HEAD + line + "\nprint('done')\n") == (3, KIND)


@pytest.mark.parametrize("line", NOT_ASSIGNED)
def test_look_alikes_pass(line):
    assert credential_on_line(HEAD + line + "\nprint('done')\n") is None


def test_a_notebook_cell_is_read_through_its_escaped_quotes():
    source = '"import psycopg2\\n", "password = \\"s3cr3tPassw0rd2024\\"\\n"'
    cell = '  {"source": [' + source + "]}"
    notebook = '{\n "cells": [\n' + cell + "\n ]\n}\n"
    assert credential_on_line(notebook) == (3, KIND)
    assert credential_on_line(notebook.replace("s3cr3t", "your-")) is None


def test_earlier_kinds_keep_their_names():
    # A published token under a secret name is named by its format.
    assert credential_on_line('HF_TOKEN = "hf_' + "a1B2" * 8 + '"\n') == (
        1,
        "a token of a published format",
    )
    assert credential_on_line('os.environ["DB_PASS"] = "s3cr3tPassw0rd2024"\n') == (
        1,
        "a secret set in os.environ",
    )


@pytest.mark.parametrize(
    ("value", "strict", "random"),
    [
        ("Zx9#kLp2vQ7mW4rT", False, True),
        ("Zx9#kLp2vQ7mW4rT", True, False),  # strict: 20 long, token characters
        ("q8Wm2Rt7Yp4Kd9Zx3Lv6Nb1Hs5Jf0Gc", True, True),
        ("Zx9kLp2vQ7m", False, False),  # 11 characters
        ("hunter2hunter2", False, False),  # few characters, many times
        ("model_v2_final_3", False, False),  # no part switches three times
        ("ab12cd34ef", False, False),  # hex under 20
        ("a1b2c3d4e5f6a7b8c9d0", False, True),
        ("Zx9kLp2vQ7mW4rT.json", False, False),  # a file's name
        ("Zx9kLp2vQ7mW4rT*", False, False),  # pattern syntax
        ("kLpQvZmWrTxNbYhGe", False, True),  # no digit, but cases flip
        ("EmrManagedMasterSecurityGroup", False, False),  # CamelCase words
        ("AccessControlAllowCredentials", True, False),
    ],
)
def test_random_string(value, strict, random):
    assert random_string(value, strict=strict) is random
