"""A private key is a marker followed by a body; markers alone are none.

Round 42, BE 8: libssh2.so.1 and ssh-keygen hold the BEGIN and END lines of
an OpenSSH key as string constants, NULs between them, and were left out of
the image as credential files, as was any archive holding one. BE 9: the
note named only the archive, not the member the docs promise.
"""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reprobox.cli import app
from reprobox.credential_files import credential_finding
from reprobox.credential_lines import credential_file_text
from reprobox.image_files import project_files
from reprobox.key_blocks import private_key_in

# As the breaker's repro, and as libssh2.so.1's read-only data holds them.
CONSTANTS = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\0\0\0\0\0-----END OPENSSH PRIVATE KEY-----\0"
)
ELF = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 8
# A key's body: base64 of about an RSA-2048 key's length, in 64-column lines.
BODY = base64.encodebytes(bytes(range(256)) * 5).decode().replace("\n", "")
LINES = "\n".join(BODY[i : i + 64] for i in range(0, len(BODY), 64))


def pem(kind: str, headers: str = "", newline: str = "\n") -> str:
    text = (
        f"-----BEGIN {kind}PRIVATE KEY-----\n{headers}{LINES}\n"
        f"-----END {kind}PRIVATE KEY-----\n"
    )
    return text.replace("\n", newline)


ENCRYPTED_HEADERS = "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D4E5F\n\n"
NOT_KEYS = {
    "keyconst.bin": CONSTANTS,
    "libssh2.so.1": ELF + CONSTANTS + ELF,
    "one-line.bin": ELF
    + b"-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----",
    "pair.txt": (
        b"-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----\n"
    ),
    "utf16le.bin": CONSTANTS.decode("latin-1").encode("utf-16-le"),
    "utf16be.bin": b"\0" + CONSTANTS.decode("latin-1").encode("utf-16-be"),
    "age": ELF + b"AGE-SECRET-KEY-1\0" + ELF,
    "putty": ELF + b"PuTTY-User-Key-File-\0%s\0" + ELF,
}
KEYS = {
    "rsa.txt": pem("RSA ").encode(),
    "ec.txt": pem("EC ").encode(),
    "openssh.txt": pem("OPENSSH ").encode(),
    "pkcs8.txt": pem("").encode(),
    "encrypted-pkcs8.txt": pem("ENCRYPTED ").encode(),
    "proc-type.txt": pem("RSA ", ENCRYPTED_HEADERS).encode(),
    "crlf.txt": pem("OPENSSH ", newline="\r\n").encode(),
    "in-a-binary.bin": ELF + b"\0" + pem("RSA ").encode() + b"\0" + ELF,
    "utf16.txt": pem("EC ").encode("utf-16"),
    "utf16le-in-binary.bin": ELF + b"\0" + pem("EC ").encode("utf-16-le") + ELF,
    "key.go": (
        'const k = "-----BEGIN RSA PRIVATE KEY-----\\n" +\n\t"' + BODY[:64] + '\\n"\n'
    ).encode(),
    "key.c": ('"-----BEGIN EC PRIVATE KEY-----\\n\\\n' + BODY[:64] + '"\n').encode(),
    "adjacent.c": (
        '"-----BEGIN RSA PRIVATE KEY-----\\n"\n    "' + BODY[:64] + '\\n"\n'
    ).encode(),
    "json.txt": b'{"k": "-----BEGIN PRIVATE KEY-----\\n' + BODY.encode() + b'\\n"}',
}


@pytest.mark.parametrize("name", sorted(NOT_KEYS))
def test_key_markers_with_no_body_between_them_are_no_key(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(NOT_KEYS[name])
    assert credential_finding(path) is None


@pytest.mark.parametrize("name", sorted(KEYS))
def test_a_key_with_its_body_is_found_in_text_binary_and_utf16(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(KEYS[name])
    assert credential_finding(path) is not None


def test_a_key_file_cut_short_after_its_marker_is_still_one(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes(ELF + b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert credential_finding(path) is not None


def test_a_marker_at_the_end_of_one_read_is_judged_with_the_next(tmp_path):
    # The first 1 MiB read ends right after the BEGIN line; NULs and the END
    # line follow in the next: constants, no key.
    begin = b"-----BEGIN OPENSSH PRIVATE KEY-----"
    path = tmp_path / "big.so"
    path.write_bytes(b"\0" * ((1 << 20) - len(begin)) + CONSTANTS + ELF)
    assert credential_finding(path) is None
    assert private_key_in(begin, more=False)
    assert not private_key_in(begin, more=True)


def tar_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_an_archive_holding_key_constants_is_no_credential_file(tmp_path):
    # A bundle of the base image holds libssh2.so.1.
    path = tmp_path / "bundle.data"
    path.write_bytes(gzip.compress(tar_of({"usr/lib/libssh2.so.1": ELF + CONSTANTS})))
    assert credential_finding(path) is None


def test_base64_of_key_markers_alone_is_no_key():
    header = b"-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----\n"
    assert not credential_file_text(base64.b64encode(header).decode())
    assert credential_file_text(base64.b64encode(pem("OPENSSH ").encode()).decode())


def write_project(root: Path, files: dict[str, bytes]) -> None:
    (root / "reprobox.toml").write_text('command = "python train.py"\n')
    (root / "train.py").write_text("print('hi')\n")
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_the_left_out_list_names_the_member_that_holds_a_key(tmp_path):
    from reprobox.config import load_config

    key = pem("RSA ").encode()
    inner = tar_of({"key/id_rsa": key})
    write_project(
        tmp_path,
        {
            "arch.tar": tar_of({"README": b"hi\n", "key/id_rsa": key}),
            "certs.tgz": gzip.compress(tar_of({"srv/server.pem": key})),
            "arch.dat": tar_of({"inner.tar": inner}),
        },
    )
    left_out: list[str] = []
    assert project_files(load_config(tmp_path), left_out) == ["train.py"]
    assert left_out == [
        "arch.dat:inner.tar:key/id_rsa",
        "arch.tar:key/id_rsa",
        "certs.tgz:srv/server.pem",
    ]


def test_freeze_warns_naming_the_member(six_project):
    key = pem("RSA ").encode()
    (six_project / "arch.tar").write_bytes(tar_of({"key/id_rsa": key}))
    result = CliRunner().invoke(app, ["-q", "freeze", str(six_project)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "reprobox: warning: left out of the image as credential files: "
        "arch.tar:key/id_rsa (pass secrets at run time with `reprobox run --env NAME`)"
    ]
