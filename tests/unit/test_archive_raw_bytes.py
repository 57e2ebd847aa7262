"""Bytes of an archive that no member holds are read for tokens and keys too.

Text after a bzip2, xz, tar or zip's end, a zip's comment or the stub before
it, a gzip header's file name or comment, a tar or zip member's name, a link
target and a pax record all go into the image with the archive: a token of a
published format in them leaves the archive out, as one in a member does.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib

import pytest

from reprobox.config import load_config
from reprobox.credential_archives import Finding
from reprobox.credential_files import credential_finding
from reprobox.image_files import left_out_note, project_files

# Made up here so no token sits in the repository: ghp_ and 36 characters.
TOKEN = "ghp_" + "Zq4Rt6Yu8I" * 3 + "oP2aS4"
LINE = f"\ntoken = {TOKEN}\n".encode()
HELLO = b"hello\n"
BINARY = b"\0\1\2" * 100 + TOKEN.encode() + b"\0" * 100


def _tar(members: dict[str, bytes], **header: object) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for field, value in header.items():
                setattr(info, field, value)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.comment = comment
    return buffer.getvalue()


def _gzip_with(flag: int, field: bytes) -> bytes:
    """gzip of HELLO whose header carries field: FNAME (8) or FCOMMENT (16)."""
    header = b"\x1f\x8b\x08" + bytes([flag]) + struct.pack("<I", 0) + b"\x00\xff"
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = body.compress(HELLO) + body.flush()
    trailer = struct.pack("<II", zlib.crc32(HELLO), len(HELLO))
    return header + field + b"\x00" + deflated + trailer


def _link_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("latest")
        info.type, info.linkname = tarfile.SYMTYPE, f"runs/{TOKEN}"
        archive.addfile(info)
    return buffer.getvalue()


# Each shape, with where the finding names it: "" for the file as a whole.
SHAPES = {
    "text after bzip2": (bz2.compress(HELLO) + LINE, ""),
    "text after xz": (lzma.compress(HELLO) + LINE, ""),
    "text after a tar's end": (_tar({"a.txt": HELLO}) + LINE, ""),
    "text after a zip": (_zip({"a.txt": HELLO}) + LINE, ""),
    "a zip's comment": (_zip({"a.txt": HELLO}, comment=LINE), ""),
    "a stub before a zip": (
        f"export GH={TOKEN}\n".encode() + _zip({"a.txt": HELLO}),
        "",
    ),
    "gzip FNAME": (_gzip_with(8, f"{TOKEN}.txt".encode()), ""),
    "gzip FCOMMENT": (_gzip_with(16, LINE.strip()), ""),
    "a tar member's name": (_tar({f"{TOKEN}.txt": HELLO}), f"{TOKEN}.txt"),
    "a zip member's name": (_zip({f"{TOKEN}.txt": HELLO}), f"{TOKEN}.txt"),
    "a tar link's target": (_link_tar(), "latest"),
    "a pax record": (
        _tar({"a.txt": HELLO}, pax_headers={"comment": TOKEN}),
        "a.txt",
    ),
    "a tar's owner name": (_tar({"a.txt": HELLO}, uname=TOKEN), "a.txt"),
    "text after a tar inside gzip": (
        gzip.compress(_tar({"a.txt": HELLO}) + LINE, mtime=0),
        "",
    ),
    "a bzip2 member with text after it": (
        _tar({"inner.bz2": bz2.compress(HELLO) + LINE}),
        "",
    ),
    "a bzip2 member with text after it, in gzip": (
        gzip.compress(_tar({"inner.bz2": bz2.compress(HELLO) + LINE}), mtime=0),
        "",
    ),
    "a bzip2 member with text after it, deflated in a zip": (
        _zip({"inner.bz2": bz2.compress(HELLO) + LINE}),
        "inner.bz2",
    ),
    "a binary member of a tar": (_tar({"w.bin": BINARY}), ""),
    "a binary member deflated in a zip": (_zip({"w.bin": BINARY}), "w.bin"),
    "binary bytes inside gzip": (gzip.compress(BINARY, mtime=0), ""),
    "a name in a zip inside a tar": (
        _tar({"in.zip": _zip({f"{TOKEN}.txt": HELLO})}),
        f"in.zip:{TOKEN}.txt",
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_token_outside_every_members_text_is_found(tmp_path, shape):
    data, where = SHAPES[shape]
    (tmp_path / "blob.dat").write_bytes(data)
    assert credential_finding(tmp_path / "blob.dat") == Finding(where)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_archive_stays_out_and_the_note_names_it(tmp_path, shape):
    data, where = SHAPES[shape]
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "tb.bz").write_bytes(data)
    left_out: list[str] = []
    assert project_files(load_config(tmp_path), left_out) == ["train.py"]
    assert left_out == [f"tb.bz:{where}" if where else "tb.bz"]
    note = left_out_note(left_out)
    assert note is not None and "tb.bz" in note
    assert TOKEN not in note  # a name with a token is shown cut (ghp_***)


@pytest.mark.parametrize(
    "data",
    [
        bz2.compress(HELLO) + b"\nsee the README\n",
        _tar({"a.txt": HELLO}, pax_headers={"comment": "made by hand"}),
        _zip({"a.txt": HELLO}, comment=b"release 1.2"),
        _gzip_with(8, b"hello.txt"),
        _tar({"w.bin": bytes(range(256)) * 64}),
    ],
    ids=["bzip2 and text", "pax comment", "zip comment", "gzip name", "binary"],
)
def test_an_archive_without_a_token_goes_in(tmp_path, data):
    (tmp_path / "blob.dat").write_bytes(data)
    assert credential_finding(tmp_path / "blob.dat") is None
