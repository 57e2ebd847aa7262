"""Credentials written on one line of an ordinary file refuse it; credential
files (a key CSV, a bare token, a key in base64) stay out of the image."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.config import load_config
from reprobox.credential_files import holds_credentials
from reprobox.credential_lines import credential_on_line, placeholder, secret_in_text
from reprobox.image_files import project_files
from reprobox.image_inputs import written_credential

HEX32 = "0123456789abcdef" * 2
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# AWS_SECRET is AWS's documented stand-in (it says EXAMPLE): a setting of it is
# a placeholder, so a Terraform block is given a key of the same shape.
TF_SECRET = "q7HvR2kLmN9xT4bWc8ZpYs3FgJ6dKe1UaVo5Qi0S"

# Each holds a real-looking credential among other text: the line that does,
# then the text.
WRITTEN_CREDENTIAL = {
    ".condarc": (
        2,
        "channels:\n  - https://alice:Zq8vLm2p@conda.example.com/main\n"
        "  - defaults\nssl_verify: true\n",
    ),
    "extra-reqs.txt": (
        1,
        "--extra-index-url https://u:Pk3x9aQ@pkgs.example/simple\nnumpy==2.0.0\n",
    ),
    "train_notes.py": (1, 'DB = "postgresql://svc:Hx82kq1m@db.internal:5432/runs"\n'),
    "train.py": (
        3,
        'import os\n\nDB = "postgresql://svc:Hx82kq1m@db.internal:5432/runs"\n',
    ),
    "config.py": (2, '"""Settings."""\nHF_TOKEN = "hf_' + "a1B2" * 8 + '"\n'),
    "log.jsonl": (
        2,
        '{"step": 1, "loss": 0.5}\n{"api_key": "f9a8b7c6d5e4", "run": 2}\n',
    ),
    "main.tf": (
        3,
        'provider "aws" {\n  region     = "us-east-1"\n'
        '  secret_key = "' + TF_SECRET + '"\n}\n',
    ),
    "env.bat": (2, "@echo off\nset API_KEY=Kq93mZx81\npython train.py\n"),
    "run.sh": (2, "#!/bin/sh\nexport WANDB_API_KEY=0f9e8d7c6b5a\npython train.py\n"),
    "notes.md": (1, "Our key is AKIAIOSFODNN7EXAMPLE, do not share.\n"),
    "slack.yaml": (2, "channel: general\nnotify: [xoxb-1234567890-abcdefghij]\n"),
    "ps.ps1": (1, '$env:HF_TOKEN = "hfabc123secretvalue"\n'),
    "crlf.txt": (3, "a\r\nb\r\nsee https://u:Pk3x9aQ@pkgs.example/simple\r\n"),
}
# Files that are credentials by their shape, whatever their names.
CREDENTIAL_FILES = {
    "gapi.txt": "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q\n",
    "alice_accessKeys.csv": f"Access key ID,Secret access key\nAKIAX,{AWS_SECRET}\n",
    "credentials.csv": "User name,Password,Access key ID,Secret access key\n",
    "secret.yaml": "kind: Secret\ndata:\n  tls.crt: x\n  k: LS0tLS1CRUdJTiBPUEVOU"
    "1NIIFBSSVZBVEUgS0VZLS0tLS0KYjNCbGJuTnphQzFyWlhrPQo=\n",
}
# Text that documents or resembles credentials without holding one.
ORDINARY_TEXT = {
    "README.md": "Pass `--extra-index-url https://user:password@host/simple`,\n"
    "or https://USER:TOKEN@host, https://<user>:<token>@host, "
    "https://${USER}:${TOKEN}@host or https://me:***@host.\n"
    "Clone with git@github.com:org/repo.git or ssh://git@host/x.\n",
    "db.py": 'import os\n\nURL = f"postgresql://{user}:{password}@{host}/db"\n'
    'OLD = "mysql://%s:%s@%s" % (u, p, h)\nLOCAL = "amqp://guest:guest@localhost"\n',
    "hashes.txt": "sha256:9f86d081884c7d659a2feaa0c55ad015"
    "a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
    "md5 " + HEX32 + "\n",
    "nb.ipynb": '{"cells": [], "outputs": [{"data": {"image/png": '
    '"iVBORw0KGgoAAAANSUhEUgAKIAIOSFODNN7EXAMPLEAAAAA/AIzaSyA1b2C3d4E5f6G7h8I9j0K'
    '1l2M3n4O5p6QxyzAAAA"}}]}\n',
    "tokens.jsonl": '{"token": "the", "id": 5}\n{"next_token": "cat", "p": 0.1}\n',
    "prompts.jsonl": '{"prompt": "What is an api_key?", "api_key": ""}\n',
    "example.tf": 'variable "secret_key" {\n  default = "..."\n}\n'
    'provider "aws" {\n  secret_key = var.secret_key\n}\n',
    "setup.sh": "export HF_TOKEN=$(cat ~/.hf)\nset -e\n"
    "export TOKENIZERS_PARALLELISM=false\n",
    "data.csv": "id,access_key_label\n1,a\n",
}


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    return tmp_path


@pytest.mark.parametrize("rel", sorted(WRITTEN_CREDENTIAL))
def test_a_credential_on_one_line_is_found_there(tmp_path, rel):
    number, text = WRITTEN_CREDENTIAL[rel]
    root = project(tmp_path, {rel: text})
    # An ordinary file that holds one is no credential file: it goes into the
    # image's file list, and freeze and build refuse it by its line.
    assert rel in project_files(load_config(root))
    found = written_credential(root / rel)
    assert found is not None and found[0] == number


@pytest.mark.parametrize("rel", sorted(CREDENTIAL_FILES))
def test_a_credential_file_stays_out(tmp_path, rel):
    root = project(tmp_path, {rel: CREDENTIAL_FILES[rel]})
    assert project_files(load_config(root)) == ["train.py"]


def test_text_that_only_documents_or_resembles_credentials_passes(tmp_path):
    root = project(tmp_path, ORDINARY_TEXT)
    assert project_files(load_config(root)) == sorted([*ORDINARY_TEXT, "train.py"])
    for rel in ORDINARY_TEXT:
        assert written_credential(root / rel) is None, rel


def test_every_line_of_a_large_file_is_read(tmp_path):
    path = tmp_path / "big.log"
    line = '{"step": 1, "loss": 0.5}\n'
    count = (3 << 20) // len(line)  # past the first reads of 1 MiB
    path.write_text(line * count + "https://u:Pk3x9aQ@pkgs.example/simple\n")
    assert written_credential(path) == (count + 1, "a password in a URL")
    # A large file is no credential file: it is refused, not left out.
    assert holds_credentials(path) is False
    path.write_text(line * count)
    assert written_credential(path) is None


def test_a_token_deep_in_one_long_line_is_found(tmp_path):
    path = tmp_path / "min.json"
    path.write_text("x" * (9 << 20) + " AKIAIOSFODNN7EXAMPLE " + "y" * (1 << 20) + "\n")
    assert written_credential(path) == (1, "a token of a published format")


@pytest.mark.parametrize("before_cut", [1, 10, 30])
def test_a_token_across_the_edge_of_a_long_lines_parts_is_found(tmp_path, before_cut):
    # A line of many MiB is read in parts; the first ends 4 KiB before the
    # text read so far (8 KiB, then 1 MiB at a time), past 4 MiB.
    cut = (8 << 10) + 4 * (1 << 20) - (4 << 10)
    token = "ghp_" + "Ab1" * 12
    path = tmp_path / "min.json"
    path.write_text("a " * ((cut - before_cut) // 2) + f" {token} " + "b " * (1 << 20))
    text = path.read_text()
    assert text.index(token) < cut < text.index(token) + len(token)
    assert written_credential(path) == (1, "a token of a published format")


def test_utf16_text_is_read_and_binary_is_not(tmp_path):
    text = "x = 1\nkey = 'AKIAIOSFODNN7EXAMPLE'\n"
    (tmp_path / "a.py").write_text(text, encoding="utf-16")
    assert written_credential(tmp_path / "a.py") == (
        2,
        "a token of a published format",
    )
    # Mostly bytes that are no text: binary, not read. A stray NUL before
    # text leaves it text (test_written_credential_binaries).
    (tmp_path / "w.bin").write_bytes(b"\0\1\2\3" * 20 + text.encode())
    assert written_credential(tmp_path / "w.bin") is None


def test_the_kind_is_named():
    assert credential_on_line("a\nexport HF_TOKEN=Kq93mZx81a\n") == (
        2,
        "a secret set by a script line",
    )
    assert credential_on_line("nothing here\n") is None


@pytest.mark.parametrize(
    "value, stand_in",
    [
        ("password", True),
        ("PASSWORD", True),
        ("${TOKEN}", True),
        ("$TOKEN", True),
        ("<token>", True),
        ("***", True),
        ("xxx", True),
        ("your-token-here", True),
        ("%(password)s", True),
        ("{password}", True),
        ("bar", True),  # a docstring's https://foo:bar@host
        ("Pk3x9aQ", False),
        ("p%40ss", False),  # an escaped @ in a real password
    ],
)
def test_placeholders(value, stand_in):
    assert placeholder(value) is stand_in


def test_a_whole_token_is_needed():
    assert secret_in_text("x AKIAIOSFODNN7EXAMPLE y") is True
    assert secret_in_text("xAKIAIOSFODNN7EXAMPLE") is False
    assert secret_in_text("AKIAIOSFODNN7EXAMPLEX") is False
