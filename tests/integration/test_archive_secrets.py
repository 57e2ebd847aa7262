"""A token in an archive named anything stays out of the image, in a member or
in the bytes no member holds (a name, a header, text after the end); what
reprobox cannot read through (a zstd stream) stops freeze and build, naming
the file."""

from __future__ import annotations

import bz2
import gzip
import io
import secrets
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
PROJECT_LABEL = "org.reprobox.project"
ZSTD = bytes.fromhex("28b52ffd2400110000") + b"notes"


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _shown(done) -> str:
    return done.describe()


def test_a_token_in_a_suffixless_archive_never_reaches_the_image(
    cli, engine_cleanup, tmp_path, docker_client
):
    token = "ghp_" + secrets.token_hex(18)  # 36 characters after the prefix
    note = f"push with {token}\n".encode()
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "arch.dat").write_bytes(_tar({"inner.tar": _tar({"notes.txt": note})}))
    (path / "secrets.gz").write_bytes(gzip.compress(note, mtime=0))

    froze = cli.run("freeze", str(path), timeout=600)
    assert "arch.dat:inner.tar:notes.txt" in froze.stderr, _shown(froze)
    assert "secrets.gz" in froze.stderr, _shown(froze)
    assert token not in froze.stderr + froze.stdout
    cli.run("build", str(path), timeout=600)
    [image] = docker_client.images.list(filters={"label": f"{PROJECT_LABEL}={name}"})
    saved = b"".join(docker_client.api.get_image(image.id, chunk_size=1 << 20))
    names = _saved_names(saved)
    assert any(n.endswith("app/train.py") for n in names), names
    assert not [n for n in names if n.endswith(("arch.dat", "secrets.gz"))], names
    assert token.encode() not in _saved_bytes(saved)
    history = subprocess.run(
        ["docker", "history", "--no-trunc", image.id], capture_output=True, check=True
    ).stdout
    assert token.encode() not in history

    # A file reprobox cannot read through, added after freeze: build re-checks.
    (path / "later.bin").write_bytes(_tar({"n.zst": ZSTD}))
    built = cli.run("build", str(path), timeout=600, check=False)
    assert built.returncode != 0, _shown(built)
    assert "later.bin:n.zst: it is zstd-compressed" in built.stderr, _shown(built)
    assert "Traceback" not in built.stderr
    froze = cli.run("freeze", str(path), timeout=600, check=False)
    assert froze.returncode != 0, _shown(froze)
    assert "later.bin:n.zst: it is zstd-compressed" in froze.stderr, _shown(froze)
    assert ".reproboxignore" in froze.stderr
    assert "Traceback" not in froze.stderr


def test_a_token_outside_every_member_never_reaches_the_image(
    cli, engine_cleanup, tmp_path, docker_client
):
    token = "ghp_" + secrets.token_hex(18)  # 36 characters after the prefix
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    line = f"\ntoken = {token}\n".encode()
    (path / "tb.bz").write_bytes(bz2.compress(b"hello\n") + line)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.txt", "hello\n")
    (path / "stub.sh").write_bytes(f"export GH={token}\n".encode() + zipped.getvalue())
    (path / "names.tar").write_bytes(_tar({f"{token}.txt": b"hello\n"}))
    gzipped = io.BytesIO()
    with gzip.GzipFile(f"{token}.txt", "wb", fileobj=gzipped, mtime=0) as fh:
        fh.write(b"hello\n")
    (path / "fn.gz").write_bytes(gzipped.getvalue())

    froze = cli.run("freeze", str(path), timeout=600)
    for left_out in ("tb.bz", "stub.sh", "names.tar:ghp_***.txt", "fn.gz"):
        assert left_out in froze.stderr, _shown(froze)
    assert token not in froze.stderr + froze.stdout
    cli.run("build", str(path), timeout=600)
    [image] = docker_client.images.list(filters={"label": f"{PROJECT_LABEL}={name}"})
    saved = b"".join(docker_client.api.get_image(image.id, chunk_size=1 << 20))
    names = _saved_names(saved)
    assert any(n.endswith("app/train.py") for n in names), names
    kept = ("tb.bz", "stub.sh", "names.tar", "fn.gz")
    assert not [n for n in names if n.endswith(kept)], names
    assert token.encode() not in _saved_bytes(saved)


def _saved_layers(saved: bytes):
    """Yield each layer of a `docker save` stream, opened as a tar."""
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if data[257:262] == b"ustar":
                yield data


def _saved_names(saved: bytes) -> list[str]:
    names = []
    for data in _saved_layers(saved):
        with tarfile.open(fileobj=io.BytesIO(data)) as layer:
            names += [m.name for m in layer.getmembers()]
    return names


def _saved_bytes(saved: bytes) -> bytes:
    return saved + b"".join(_saved_layers(saved))


# Round 42, BE 8 and 9: libssh2.so.1 holds the BEGIN and END lines of an
# OpenSSH key as string constants, NULs between them: no key. A key member's
# note names the member, not only the archive.
KEY_CONSTANTS = (
    b"\x7fELF\x02\x01\x01\0-----BEGIN OPENSSH PRIVATE KEY-----\0\0\0\0\0"
    b"-----END OPENSSH PRIVATE KEY-----\0"
)
RSA_KEY = (
    b"-----BEGIN RSA PRIVATE KEY-----\n"
    + b"MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n" * 20
    + b"-----END RSA PRIVATE KEY-----\n"
)


def test_key_constants_go_in_and_a_key_member_is_named(
    cli, engine_cleanup, tmp_path, docker_client
):
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "lib").mkdir()
    (path / "lib" / "libkeyconst.so.1").write_bytes(KEY_CONSTANTS)
    (path / "arch.tar").write_bytes(_tar({"README": b"hi\n", "key/id_rsa": RSA_KEY}))

    froze = cli.run("-q", "freeze", str(path), timeout=600)
    warning = (
        "reprobox: warning: left out of the image as credential files: "
        "arch.tar:key/id_rsa (pass secrets at run time with `reprobox run --env NAME`)"
    )
    assert froze.stderr.splitlines() == [warning], _shown(froze)
    built = cli.run("-vv", "build", str(path), timeout=600)
    assert "credential files: arch.tar:key/id_rsa (" in built.stderr, _shown(built)
    assert "libkeyconst" not in built.stderr
    [image] = docker_client.images.list(filters={"label": f"{PROJECT_LABEL}={name}"})
    saved = b"".join(docker_client.api.get_image(image.id, chunk_size=1 << 20))
    names = _saved_names(saved)
    assert any(n.endswith("app/lib/libkeyconst.so.1") for n in names), names
    assert not [n for n in names if n.endswith("arch.tar")], names
