"""Archives and compressed streams are told by their content and read through.

A credential in a tar or zip named `arch.dat`, in a tar inside a tar, or in a
gzipped text file is found whatever the names; what cannot be read whole (zstd,
a bomb, archives nested too deep) cannot go into the image.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest

from reprobox import credential_archives
from reprobox.config import load_config
from reprobox.credential_archives import Finding, archive_kind
from reprobox.credential_files import credential_finding
from reprobox.errors import InputError
from reprobox.image_files import project_files

# Made up here so no token sits in the repository: ghp_ and 36 characters.
TOKEN = "ghp_" + "aB3dE5fG7h" * 3 + "iJ9kL1"
NOTE = f"push with {TOKEN}\n".encode()
KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n"
# The first bytes of a zstd frame, as zstd writes them; this Python reads none.
ZSTD = bytes.fromhex("28b52ffd2400110000") + b"notes"


def _tar(members: dict[str, bytes], mode: str = "w", fmt: int = tarfile.PAX_FORMAT):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=fmt) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _finding(tmp_path: Path, name: str, data: bytes) -> Finding | None:
    (tmp_path / name).write_bytes(data)
    return credential_finding(tmp_path / name)


SUFFIXLESS = {
    "plain tar": _tar({"notes.txt": NOTE}),
    "ustar tar": _tar({"notes.txt": NOTE}, fmt=tarfile.USTAR_FORMAT),
    "gnu tar": _tar({"notes.txt": NOTE}, fmt=tarfile.GNU_FORMAT),
    "gzipped tar": _tar({"notes.txt": NOTE}, "w:gz"),
    "bzip2 tar": _tar({"notes.txt": NOTE}, "w:bz2"),
    "xz tar": _tar({"notes.txt": NOTE}, "w:xz"),
    "zip": _zip({"notes.txt": NOTE}),
}


@pytest.mark.parametrize("shape", sorted(SUFFIXLESS))
@pytest.mark.parametrize("name", ["arch", "arch.dat", "bundle.data", "x.gz"])
def test_an_archive_is_read_whatever_its_name(tmp_path, shape, name):
    assert _finding(tmp_path, name, SUFFIXLESS[shape]) == Finding("notes.txt")


def test_a_v7_tar_header_is_told_by_its_checksum():
    info = tarfile.TarInfo("a")
    info.size = 1
    head = info.tobuf(tarfile.USTAR_FORMAT)
    head = head[:257] + bytes(8) + head[265:]  # no ustar magic, as v7 wrote it
    checksum = b"%06o\0 " % tarfile.calc_chksums(head)[0]
    v7 = head[:148] + checksum + head[156:]
    assert archive_kind(v7) == "tar"
    assert archive_kind(head[:148] + b"0000000\0" + head[156:]) is None


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (_tar({"inner.tar": _tar({"key/id_rsa": b"opaque"})}), "inner.tar:key/id_rsa"),
        (_tar({"in.zip": _zip({"notes.txt": NOTE})}, "w:gz"), "in.zip:notes.txt"),
        (_zip({"in.tgz": _tar({"k.pem": KEY}, "w:gz")}), "in.tgz:k.pem"),
        (
            _zip({"a.tar": _tar({"b.zip": _zip({"c/notes.txt": NOTE})})}),
            "a.tar:b.zip:c/notes.txt",
        ),
        (_tar({"n.gz": gzip.compress(NOTE)}), "n.gz"),
    ],
)
def test_archives_inside_archives_are_read(tmp_path, data, where):
    assert _finding(tmp_path, "arch.dat", data) == Finding(where)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.txt.gz", gzip.compress(NOTE)),
        ("secrets.gz", gzip.compress(b"ok\n" * 200_000 + NOTE)),
        ("notes.bz2", bz2.compress(NOTE)),
        ("notes.xz", lzma.compress(NOTE)),
        ("key.gz", gzip.compress(KEY)),
    ],
)
def test_the_text_in_a_compressed_stream_is_read(tmp_path, name, data):
    assert _finding(tmp_path, name, data) == Finding("")


def test_ordinary_archives_and_data_are_not_credentials(tmp_path):
    data = {
        "data.tar.gz": _tar({"train.csv": b"x,y\n1,2\n", "a.txt": b"a cat sat\n"}),
        "train.csv.gz": gzip.compress(b"x,y\n1,2\n" * 50_000),
        "arr.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'}" + bytes(4096),
        "train.csv": b"x,y\n1,2\n",
        "empty": b"",
    }
    for name, content in data.items():
        assert _finding(tmp_path, name, content) is None, name


def test_a_token_past_the_first_window_of_a_big_member_is_found(tmp_path):
    # Over 64 KiB (the old limit) and over a window, the token split across two.
    window = credential_archives._WINDOW
    text = b"a cat sat\n" * (window // 10)
    text = text[: window - 20] + NOTE
    assert _finding(tmp_path, "big.dat", _tar({"log.txt": text})) == Finding("log.txt")
    far = b"a cat sat\n" * (3 * window // 10) + NOTE
    assert _finding(tmp_path, "far.zip", _zip({"log.txt": far})) == Finding("log.txt")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (ZSTD, ""),
        (_tar({"a/notes.zst": ZSTD}), "a/notes.zst"),
    ],
)
def test_zstd_cannot_be_read_so_it_is_unreadable(tmp_path, data, where):
    finding = _finding(tmp_path, "arch.tar.zst", data)
    assert finding == Finding(
        where, "it is zstd-compressed, which reprobox cannot read"
    )


def test_a_bomb_stops_at_the_inflate_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(credential_archives, "INFLATE_LIMIT", 4 << 20)
    bomb = gzip.compress(bytes(64 << 20))
    assert len(bomb) < 100_000
    finding = _finding(tmp_path, "zeros.gz", bomb)
    assert finding == Finding("", "it inflates to more than 4 MiB")
    inner = _zip({"in/zeros": bytes(64 << 20)})
    finding = _finding(tmp_path, "b.zip", _tar({"x.zip": inner}))
    assert finding == Finding("x.zip:in/zeros", "it inflates to more than 4 MiB")


def test_archives_nested_past_the_depth_bound_are_unreadable(tmp_path):
    data = _tar({"key/id_rsa": b"opaque"})
    for level in range(credential_archives.ARCHIVE_DEPTH):
        data = _tar({f"l{level}.tar": data})
    finding = _finding(tmp_path, "deep", data)
    assert finding is not None and finding.unreadable.startswith("archives nest")
    assert finding.where.startswith(f"l{credential_archives.ARCHIVE_DEPTH - 1}.tar:")


def test_encrypted_and_damaged_members_are_unreadable(tmp_path):
    # zipfile writes no encrypted member: the flag is set in both headers.
    data = bytearray(_zip({"data.bin": b"ciphertext"}))
    data[6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    finding = _finding(tmp_path, "enc.zip", bytes(data))
    assert finding == Finding("data.bin", "it is encrypted")
    cut = _tar({"notes.txt": b"a" * 2000})[:1024]
    finding = _finding(tmp_path, "cut.tar", gzip.compress(cut)[:-12])
    assert finding is not None and finding.unreadable.startswith("it is damaged")


def _project(tmp_path: Path) -> Path:
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    return tmp_path


def test_the_build_leaves_the_archive_out_and_names_the_member(tmp_path):
    root = _project(tmp_path)
    (root / "arch.dat").write_bytes(_tar({"inner.tar": _tar({"key/id_rsa": b"k"})}))
    (root / "data.tar").write_bytes(_tar({"train.csv": b"x,y\n"}))
    left_out: list[str] = []
    files = project_files(load_config(root), left_out)
    assert files == ["data.tar", "train.py"]
    assert left_out == ["arch.dat:inner.tar:key/id_rsa"]


def test_an_archive_that_cannot_be_read_is_refused_naming_it(tmp_path):
    root = _project(tmp_path)
    (root / "arch.dat").write_bytes(_tar({"inner/n.zst": ZSTD}))
    with pytest.raises(InputError) as refused:
        project_files(load_config(root))
    message = str(refused.value)
    assert message.startswith("arch.dat:inner/n.zst: it is zstd-compressed")
    assert "cannot tell whether it holds a credential" in message
    assert ".reproboxignore" in refused.value.hint
    (root / ".reproboxignore").write_text("arch.dat\n")
    assert project_files(load_config(root)) == ["train.py"]
