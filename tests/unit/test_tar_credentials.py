"""Tar archives, plain or compressed, are read for credential files as zips are."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from reprobox import credential_archives
from reprobox.config import load_config
from reprobox.credential_archives import Finding
from reprobox.credential_files import credential_finding, holds_credentials
from reprobox.image_files import project_files

# Made up for this test; the shape of a GitHub token.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
MODES = {
    "backup.tar": "w",
    "backup.tar.gz": "w:gz",
    "backup.tgz": "w:gz",
    "backup.tar.bz2": "w:bz2",
    "backup.tar.xz": "w:xz",
}
CREDENTIAL_TARS = {
    "token-file": {"cfg/gh.txt": TOKEN + "\n"},
    "netrc": {"home/.netrc": "machine h login u password p"},
    "pem-key": {
        "keys/deploy.pem": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    },
    "token-in-notes": {"notes/readme.txt": f"hello\nuse {TOKEN} for the api\n"},
}
ORDINARY = {"train/0.txt": "a cat sat", "labels.csv": "id,y\n1,0\n"}


def _tar(path: Path, members: dict[str, str | bytes], mode: str) -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", sorted(CREDENTIAL_TARS))
@pytest.mark.parametrize("name", sorted(MODES))
def test_a_tar_holding_a_credential_file_is_one(tmp_path, name, kind):
    members = {"README": "data of the project", **CREDENTIAL_TARS[kind]}
    path = _tar(tmp_path / name, members, MODES[name])
    assert holds_credentials(path) is True


@pytest.mark.parametrize("name", sorted(MODES))
def test_a_tar_of_ordinary_files_is_not(tmp_path, name):
    assert holds_credentials(_tar(tmp_path / name, ORDINARY, MODES[name])) is False


def test_a_tar_name_in_any_case_is_read(tmp_path):
    path = _tar(tmp_path / "BACKUP.TAR.GZ", CREDENTIAL_TARS["netrc"], "w:gz")
    assert holds_credentials(path) is True


def test_a_zip_inside_a_tar_is_read(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("keys/notes.txt", TOKEN)
    path = _tar(tmp_path / "nested.tar", {"inner.zip": inner.getvalue()}, "w")
    assert holds_credentials(path) is True


def test_large_tars_are_read_through_and_damaged_ones_are_not_clean(
    tmp_path, monkeypatch
):
    (tmp_path / "bad.tar.gz").write_bytes(b"\x1f\x8bnot really gzip")
    assert credential_finding(tmp_path / "bad.tar.gz").unreadable.startswith(
        "it is damaged"
    )
    # A member over 64 KiB (the old limit) is read through to its end.
    big = "notes\n" * (12 << 10) + TOKEN
    found = credential_finding(_tar(tmp_path / "big.tar", {"a.txt": big}, "w"))
    assert found == Finding("a.txt")
    # Past 256 members (the old limit), a credential file is still found...
    many = {f"d/{n}.txt": "x" for n in range(256)} | {"d/.netrc": "machine h"}
    assert holds_credentials(_tar(tmp_path / "many.tar", many, "w")) is True
    # ...and what inflates past the bound cannot be shown clean.
    monkeypatch.setattr(credential_archives, "INFLATE_LIMIT", 1 << 10)
    late = {"pad.bin": b"\0" * 4096, "home/.netrc": "machine h"}
    found = credential_finding(_tar(tmp_path / "late.tgz", late, "w:gz"))
    assert found == Finding("", "it inflates to more than 0 MiB")
    assert holds_credentials(_tar(tmp_path / "late.tar", late, "w")) is True


def test_the_build_leaves_tars_of_credentials_out(tmp_path):
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    _tar(tmp_path / "backup.tar.gz", CREDENTIAL_TARS["token-file"], "w:gz")
    _tar(tmp_path / "keys.tar", CREDENTIAL_TARS["pem-key"], "w")
    _tar(tmp_path / "data.tar.xz", ORDINARY, "w:xz")
    files = project_files(load_config(tmp_path))
    assert files == ["data.tar.xz", "train.py"]
