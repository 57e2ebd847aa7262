"""Credential files that stay out of the image, and keys in large files."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.build import is_image_file, project_files
from reprobox.config import load_config

KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)

CREDENTIAL_FILES = [
    ".azure/msal_token_cache.json",
    ".boto",
    ".s3cfg",
    ".oci/config",
    ".databrickscfg",
    ".dockercfg",
    ".kaggle/kaggle.json",
    "sub/kaggle.json",
    ".vault-token",
    ".cache/huggingface/token",
    ".huggingface/token",
    ".terraformrc",
    ".my.cnf",
    ".config/gh/hosts.yml",
    "sub/.config/rclone/rclone.conf",
    "SUB/.Azure/x.json",
]


def project(tmp_path: Path, files: list[str] = ()) -> Path:
    """Make a project holding train.py and the given files (each says secret)."""
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("secret\n")
    return tmp_path


def test_credential_files_stay_out_of_the_image(tmp_path):
    root = project(tmp_path, CREDENTIAL_FILES)
    assert project_files(load_config(root)) == ["train.py"]
    for rel in CREDENTIAL_FILES:
        assert not is_image_file(root, rel), rel


def test_a_reproboxignore_line_cannot_put_them_back(tmp_path):
    root = project(tmp_path, [".boto", ".kaggle/kaggle.json"])
    (root / ".reproboxignore").write_text("!.boto\n!.kaggle/\n!.kaggle/kaggle.json\n")
    assert project_files(load_config(root)) == ["train.py"]


@pytest.mark.parametrize("offset", [(1 << 20) + 1, 5 << 20])
def test_a_key_in_a_file_over_one_mib_stays_out(tmp_path, offset):
    root = project(tmp_path, [])
    (root / "weights.bin").write_bytes(b"\0" * offset + KEY + b"\0" * 100)
    (root / "plain.bin").write_bytes(b"\0" * offset)
    assert project_files(load_config(root)) == ["plain.bin", "train.py"]
    assert not is_image_file(root, "weights.bin")


def test_a_key_split_across_two_reads_of_a_large_file_is_found(tmp_path):
    root = project(tmp_path, [])
    (root / "weights.bin").write_bytes(b"\0" * ((2 << 20) - 10) + KEY)
    assert project_files(load_config(root)) == ["train.py"]
