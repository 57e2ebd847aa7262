"""Credential copies, special files and link loops in the project folder."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from test_build_credential_files import project

from reprobox.config import load_config
from reprobox.errors import ConfigError, InputError
from reprobox.freeze import resolve_ca_cert
from reprobox.image_files import is_image_file, project_files

KEY_TEXT = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK=\n-----END RSA PRIVATE KEY-----\n"
)

CREDENTIAL_COPIES = [
    ".env-prod",
    ".env_local",
    ".ENV.Production",
    ".envs/db",
    "prod.env",
    ".netrc.bak",
    "_netrc.old",
    ".pypirc~",
    ".pgpass.orig",
    "credentials",
    "sub/.aws-backup/credentials",
    ".config/pip/pip.conf",
    "pip.conf",
]


def test_credential_copies_stay_out(tmp_path):
    root = project(tmp_path, CREDENTIAL_COPIES)
    assert project_files(load_config(root)) == ["train.py"]
    for rel in CREDENTIAL_COPIES:
        assert not is_image_file(root, rel), rel


def test_a_code_folder_named_credentials_stays_in(tmp_path):
    root = project(tmp_path, ["credentials/__init__.py", "environment.py"])
    assert project_files(load_config(root)) == [
        "credentials/__init__.py",
        "environment.py",
        "train.py",
    ]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_private_key_saved_as_utf16_stays_out(tmp_path, codec):
    root = project(tmp_path)
    (root / "key16.txt").write_bytes(KEY_TEXT.encode(codec))
    assert project_files(load_config(root)) == ["train.py"]
    assert not is_image_file(root, "key16.txt")


def test_a_fifo_is_refused_not_read(tmp_path):
    root = project(tmp_path)
    os.mkfifo(root / "pipe")
    with pytest.raises(InputError, match=r"pipe: a named pipe \(FIFO\)") as info:
        project_files(load_config(root))
    assert ".reproboxignore" in info.value.hint
    (root / ".reproboxignore").write_text("pipe\n")
    assert project_files(load_config(root)) == ["train.py"]


def test_a_socket_is_refused(tmp_path):
    root = project(tmp_path)
    short = Path(os.path.relpath(root / "s"))  # a socket path is at most 107 bytes
    with socket.socket(socket.AF_UNIX) as server:
        try:
            server.bind(str(short))
        except OSError:
            pytest.skip("cannot bind a unix socket here")
        with pytest.raises(InputError, match="s: a unix socket"):
            project_files(load_config(root))


def test_a_link_loop_is_one_error(tmp_path):
    root = project(tmp_path)
    (root / "deep").mkdir()
    os.symlink("x2", root / "deep" / "x1")
    os.symlink("x1", root / "deep" / "x2")
    with pytest.raises(InputError, match="deep/x1: symbolic link loops"):
        project_files(load_config(root))


def test_a_looping_requirements_file_is_one_config_error(tmp_path):
    root = project(tmp_path)
    os.symlink("requirements.txt", root / "requirements.txt")
    (root / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
    )
    with pytest.raises(
        ConfigError, match="requirements.txt' is a symbolic link that loops"
    ):
        load_config(root)


def test_a_looping_data_file_is_one_config_error(tmp_path):
    root = project(tmp_path)
    os.symlink("d.bin", root / "d.bin")
    (root / "reprobox.toml").write_text(
        'command = "python train.py"\ndata = ["d.bin"]\n'
    )
    with pytest.raises(ConfigError, match="d.bin' is a symbolic link that loops"):
        load_config(root)


def test_a_looping_ca_from_pip_cert_is_one_error(tmp_path, monkeypatch):
    root = project(tmp_path)
    os.symlink("self.pem", root / "self.pem")
    monkeypatch.chdir(root)
    cfg = load_config(root)
    with pytest.raises(InputError, match="PIP_CERT: CA bundle self.pem is a symbolic"):
        resolve_ca_cert(None, cfg, {"PIP_CERT": "self.pem"})
    with pytest.raises(InputError, match="--ca-cert: CA bundle self.pem is a symbolic"):
        resolve_ca_cert("self.pem", cfg, {})


def test_a_ca_that_is_a_broken_link_is_named_as_one(tmp_path, monkeypatch):
    # brk r41 (BD): build.ca_cert a link to a missing file said "does not
    # exist"; every other configured file names such a link as what it is.
    root = project(tmp_path)
    os.symlink("gone.pem", root / "ca.pem")
    monkeypatch.chdir(root)
    cfg = load_config(root)
    with pytest.raises(InputError) as info:
        resolve_ca_cert("ca.pem", cfg, {})
    assert info.value.message == (
        "--ca-cert: CA bundle ca.pem is a link to a missing file (gone.pem)"
    )
    assert info.value.hint == (
        "point the link at a PEM certificate file, or give its path"
    )
