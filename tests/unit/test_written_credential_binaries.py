"""A stray NUL in a log leaves it text, read line by line; binary data is not read.

Text is told from binary data as git tells it, by a NUL in the first bytes,
and then by the share of bytes that are not text: a training log or nohup.out
with one NUL (a crashed writer, a terminal's padding) is still a log.
"""

from __future__ import annotations

import os
import zlib

from reprobox.image_inputs import written_credential

HF = "hf_Xk9mP2qR7vL4nT8wZ3jDa1"
LOG_LINE = b"epoch 3 step 120 loss 0.4123 lr 3.0e-04\n"


def _log(nul_at: int) -> bytes:
    lines = [LOG_LINE] * 149 + [f"export HF_TOKEN={HF}\n".encode()] + [LOG_LINE] * 5
    data = b"".join(lines)
    return data[:nul_at] + b"\0" + data[nul_at:]


def test_a_log_with_a_stray_nul_is_read_for_its_lines(tmp_path):
    for name, nul_at in [("train.log", 10), ("nohup.out", 3000), ("run.log", 9000)]:
        (tmp_path / name).write_bytes(_log(nul_at))
        assert written_credential(tmp_path / name) == (
            150,
            "a token of a published format",
        )


def test_binary_data_with_a_token_in_it_is_not_read_as_text(tmp_path):
    # Compressed data and arrays are mostly bytes that are no text.
    packed = zlib.compress(os.urandom(6000)) + f" {HF} ".encode()
    (tmp_path / "weights.npz").write_bytes(b"PK\3\4\0\0" + packed)
    assert written_credential(tmp_path / "weights.npz") is None
    floats = bytes(range(256)) * 40 + f"\n{HF}\n".encode()
    (tmp_path / "array.npy").write_bytes(b"\x93NUMPY\1\0" + floats)
    assert written_credential(tmp_path / "array.npy") is None


def test_text_that_turns_to_binary_data_is_read_no_further(tmp_path):
    # A safetensors file: a JSON header, then raw tensors.
    header = b'{"w": {"dtype": "F32", "shape": [64, 64]}}' + b" " * 20000
    tensors = bytes(range(256)) * 8192 + f"\n{HF}\n".encode()
    (tmp_path / "model.safetensors").write_bytes(
        b"\x36\0\0\0\0\0\0\0" + header + tensors
    )
    assert written_credential(tmp_path / "model.safetensors") is None
