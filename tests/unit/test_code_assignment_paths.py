"""A path to a file given to a key's name in code is no secret.

Object stores name objects by keys that are paths: `bucket.blob(key=...)`,
`blob_key = ...`. Digits woven into a checkpoint's name do not make it random.
"""

from __future__ import annotations

import pytest

from reprobox.code_assignments import random_string
from reprobox.credential_lines import credential_on_line
from reprobox.stand_ins import path_to_file

KIND = "a secret assigned in code"
CKPT = "exp42/ckpt/Epoch7Step3500.safetensors"


@pytest.mark.parametrize(
    "line",
    [
        f'blob = bucket.blob(key="{CKPT}")',
        f'blob_key = "{CKPT}"',
        f's3_secret_key_path = "{CKPT}"',
        'api_key_file = "keys/Zx9kLp2vQ7mW4rT.json"',
        'password = "conf\\\\Db7Pw3Xs9Kq2.yaml"',
    ],
)
def test_a_path_to_a_file_is_no_secret(line):
    assert credential_on_line(f"import os\n{line}\n") is None


@pytest.mark.parametrize(
    "value",
    [
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9r8Lk2Vm",  # base64 holds /, no extension
        "Zx9kLp2vQ7/mW4rT.9Lk2Vm8Qa",  # a dot, but no extension after it
    ],
)
def test_a_random_secret_with_slashes_still_is_one(value):
    assert path_to_file(value) is False
    assert random_string(value) is True
    line = f'aws_secret_access_key = "{value}"'
    assert credential_on_line(f"import os\n{line}\n") == (2, KIND)
