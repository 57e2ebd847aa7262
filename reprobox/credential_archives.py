"""Binary credential files: private keys in DER form, and archives of keys.

A DER key has no text marker to find; it is told by its ASN.1 structure, the
whole file one SEQUENCE laid out as PKCS#8 (plain or encrypted), PKCS#1 RSA,
a DSA key or SEC1 EC key is. An archive (tar, zip) or compressed stream
(gzip, bzip2, xz) is told by its first bytes, whatever its name, and read
member by member, through the archives inside it: a member named like a
credential file, or one that holds one, makes the archive one. The bytes that
are no member's text (headers and names, a zip's comment and the stub before
it, what follows the end of an archive or of a compressed stream) are copied
into the image as well: the file's own bytes, and those of every stream
inflated from it, are read raw too, for a key or a token of a published
format. What cannot be read whole within the bounds (zstd, a bomb, a damaged
or encrypted member) cannot be shown free of one, and is reported as such.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

# A DER key file is a few KiB at most (RSA 16384 is under 10).
DER_LIMIT = 16 << 10
_SEQUENCE, _INTEGER, _OCTET_STRING, _OID = 0x30, 0x02, 0x04, 0x06
# Object identifiers (DER contents) of password-based encryption schemes that
# an encrypted PKCS#8 key names first: PKCS#5 (PBES1/PBES2) and PKCS#12.
_ENCRYPTION_OIDS = tuple(map(bytes.fromhex, ("2a864886f70d0105", "2a864886f70d010c")))
# Names of members that are credential files whatever they hold.
_CREDENTIAL_MEMBER = re.compile(
    r"id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|\.env(?:\..+)?|\.?netrc|_netrc"
    r"|\.pgpass|\.git-credentials|\.pypirc|\.npmrc|credentials(?:\.json)?"
    r"|.+\.(?:p12|pfx|ppk)|client_secrets?\.json|service[-_]account.*\.json",
    re.I,
)

# What of an archive is read: every member of every archive or compressed
# stream inside it, whatever their names, down to ARCHIVE_DEPTH layers (a
# tar.gz is two), as long as no more than INFLATE_LIMIT bytes are inflated in
# all and no more than ARCHIVE_MEMBERS members are met. Stored bytes (a plain
# tar, a zip member kept as is) cost their reading, as any file's bytes do.
# What cannot be read whole (zstd, a bomb, a damaged stream, an encrypted
# member) cannot be shown free of a credential: it is reported as unreadable.
ARCHIVE_DEPTH = 6
INFLATE_LIMIT = 1 << 30
ARCHIVE_MEMBERS = 100_000
# A zip inside an archive is read from memory, up to this size.
NESTED_ZIP_LIMIT = 64 << 20
# A member is judged in windows this large, each with the end of the one before.
_WINDOW = 1 << 20
_OVERLAP = 4096
# How many first bytes tell an archive or a compressed stream by its content.
_HEAD = 512
_BZIP2_BLOCK = (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_DECOMPRESSORS = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
# What a damaged archive or stream raises while it is read.
_DAMAGED = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
)
# Judges a window of a member's bytes: is it, or does it hold, a credential?
# The flag says it is the member's first window (read for whole-file shapes).
Judge = Callable[[bytes, bool], bool]
# Judges raw bytes, read as they lie (binary, a header, a name): do they hold
# a key or a token whose shape gives it away wherever it sits?
RawJudge = Callable[[bytes], bool]


class Judges(NamedTuple):
    """How an archive's bytes are judged: members' bytes, and all bytes raw."""

    member: Judge
    raw: RawJudge


class Finding(NamedTuple):
    """What an archive holds: the member (outer.tar:inner/id_rsa, "" for the
    file as a whole) that is a credential, or that could not be read, and why."""

    where: str
    unreadable: str | None = None


class _Unreadable(Exception):
    def __init__(self, why: str, where: tuple[str, ...]) -> None:
        super().__init__(why)
        self.why, self.where = why, where


class _Budget:
    """What is left to inflate, and how many more members may be met."""

    def __init__(self) -> None:
        self.inflated = INFLATE_LIMIT
        self.members = ARCHIVE_MEMBERS

    def spend(self, size: int, where: tuple[str, ...]) -> None:
        self.inflated -= size
        if self.inflated < 0:
            limit = f"{INFLATE_LIMIT >> 20} MiB"
            raise _Unreadable(f"it inflates to more than {limit}", where)

    def member(self, where: tuple[str, ...]) -> None:
        self.members -= 1
        if self.members < 0:
            raise _Unreadable(f"it holds more than {ARCHIVE_MEMBERS} members", where)


class _ReadThrough(io.RawIOBase):
    """A stream read through to another, some bytes at a time; read() with no
    size reads the rest, window by window, so each passes _read_some."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_WINDOW), b""))
        return self._read_some(size)

    def _read_some(self, size: int) -> bytes:
        raise NotImplementedError


class _Inflated(_ReadThrough):
    """A decompressed stream whose every byte is paid for from the budget."""

    def __init__(self, fh: BinaryIO, budget: _Budget, where: tuple[str, ...]):
        self._fh, self._budget, self._where = fh, budget, where

    def _read_some(self, size: int) -> bytes:
        data = self._fh.read(size)
        self._budget.spend(len(data), self._where)
        return data


class _Scanned(_ReadThrough):
    """A stream whose every byte read through it is also judged raw, in
    windows that overlap; finish reads and judges what the reader left."""

    def __init__(self, fh: BinaryIO, raw: RawJudge):
        self._fh, self._raw = fh, raw
        self._pending, self._tail, self._hit = bytearray(), b"", False

    def _read_some(self, size: int) -> bytes:
        data = self._fh.read(size)
        self._pending += data
        if len(self._pending) >= _WINDOW:
            self._judge()
        return data

    def finish(self) -> bool:
        """Read the rest of the stream; tell whether any of its bytes held
        what the raw judge looks for."""
        while _read_up_to(self, _WINDOW):
            pass
        self._judge()
        return self._hit

    def _judge(self) -> None:
        window = self._tail + bytes(self._pending)
        self._hit = self._hit or self._raw(window)
        self._tail, self._pending = window[-_OVERLAP:], bytearray()


class _Prefixed(io.RawIOBase):
    """A stream that gives back its first bytes, read already, then the rest."""

    def __init__(self, head: bytes, fh: BinaryIO):
        self._head, self._fh = head, fh

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            head, self._head = self._head, b""
            return head + self._fh.read()
        head, self._head = self._head[:size], self._head[size:]
        return head + self._fh.read(size - len(head)) if size > len(head) else head


def der_private_key(data: bytes) -> bool:
    """Tell whether data is, whole, one private key in DER form."""
    top = _element(data, 0)
    if top is None or top[0] != _SEQUENCE or top[2] != len(data):
        return False
    fields = _children(data, top[1], top[2])
    if fields is None or len(fields) < 2:
        return False
    tags = [tag for tag, _, _ in fields]
    first = data[fields[0][1] : fields[0][2]]
    if tags[0] == _INTEGER and first in (b"\x00", b"\x01"):
        if tags[1:3] == [_SEQUENCE, _OCTET_STRING]:  # PKCS#8 PrivateKeyInfo
            return True
        if first == b"\x01" and tags[1] == _OCTET_STRING:  # SEC1 ECPrivateKey
            return True
        # PKCS#1 RSA (9 integers) and OpenSSL's DSA key (6): all integers.
        return len(fields) >= 6 and all(tag == _INTEGER for tag in tags)
    if tags[:2] == [_SEQUENCE, _OCTET_STRING] and len(fields) == 2:
        # EncryptedPrivateKeyInfo: the encryption scheme, then the ciphertext.
        algorithm = _children(data, fields[0][1], fields[0][2])
        if algorithm and algorithm[0][0] == _OID:
            oid = data[algorithm[0][1] : algorithm[0][2]]
            return oid.startswith(_ENCRYPTION_OIDS)
    return False


def _element(data: bytes, at: int) -> tuple[int, int, int] | None:
    """Read the DER element at offset at: its tag, where its content starts and ends."""
    if at + 2 > len(data):
        return None
    tag, size = data[at], data[at + 1]
    start = at + 2
    if size & 0x80:
        count = size & 0x7F
        if not 1 <= count <= 3 or start + count > len(data):
            return None
        size = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + size
    return (tag, start, end) if end <= len(data) else None


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]] | None:
    """Read the elements that exactly fill data[start:end], or None."""
    found = []
    at = start
    while at < end and len(found) < 16:
        element = _element(data[:end], at)
        if element is None:
            return None
        found.append(element)
        at = element[2]
    return found if at == end else None


def archive_kind(head: bytes) -> str | None:
    """Name the archive or compressed stream that a file starting with head is,
    by its content alone: tar, zip, gzip, bzip2, xz or zstd; None for others."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCK:
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if len(head) >= 512 and head[257:262] == b"ustar":
        return "tar"
    try:  # an old-style (v7) header: no magic, but its checksum holds
        tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return None
    return "tar"


def archive_finding(path: Path, head: bytes, judges: Judges) -> Finding | None:
    """Tell whether a file that starts with head is an archive or compressed
    stream that holds a credential, or one that cannot be read whole.

    Every member is read, through every archive inside it (see ARCHIVE_DEPTH);
    a member counts by its name (id_rsa, .env, .netrc...), by what judges.raw
    finds in its name or link target, or by what judges.member finds in its
    bytes. The file's own bytes and every inflated stream (a compressed
    stream's, a deflated zip member's) are read raw as well (judges.raw), so
    that what no member holds is read too. None: no archive, or nothing found.
    """
    kind = _archive_kind_at(path, head)
    if kind is None:
        return None
    try:
        with open(path, "rb") as fh:
            found = _read_archive(fh, kind, (), 1, _Budget(), judges)
            if found is None:
                # Headers, names, a comment, a stub, bytes after the end: the
                # file's own bytes, as the image holds them.
                fh.seek(0)
                found = () if _Scanned(fh, judges.raw).finish() else None
    except _Unreadable as cannot:
        return Finding(":".join(cannot.where), cannot.why)
    except OSError:
        return None  # gone or unreadable as a file: the digest says so
    return None if found is None else Finding(":".join(found))


def is_archive(path: Path, head: bytes) -> bool:
    """Tell whether a file that starts with head is an archive or compressed
    stream that archive_finding reads member by member."""
    return _archive_kind_at(path, head) is not None


def _archive_kind_at(path: Path, head: bytes) -> str | None:
    kind = archive_kind(head[:_HEAD])
    if kind is None and _zip_at_end(path):
        kind = "zip"  # a zip behind a stub, as a self-extracting one is
    return kind


def _zip_at_end(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _read_archive(
    fh: BinaryIO,
    kind: str,
    where: tuple[str, ...],
    depth: int,
    budget: _Budget,
    judges: Judges,
) -> tuple[str, ...] | None:
    """Return where in fh (an archive or compressed stream of kind) a
    credential is, or None; raise _Unreadable for what cannot be read."""
    if depth > ARCHIVE_DEPTH:
        raise _Unreadable(f"archives nest in it more than {ARCHIVE_DEPTH} deep", where)
    if kind == "zstd":
        raise _Unreadable("it is zstd-compressed, which reprobox cannot read", where)
    try:
        if kind in _DECOMPRESSORS:
            with _DECOMPRESSORS[kind](fh, "rb") as plain:
                inner = _Inflated(plain, budget, where)
                return _read_inflated(inner, where, depth, budget, judges)
        if kind == "tar":
            return _read_tar(fh, where, depth, budget, judges)
        if not fh.seekable():
            data = _read_up_to(fh, NESTED_ZIP_LIMIT + 1)
            if len(data) > NESTED_ZIP_LIMIT:
                raise _Unreadable(
                    f"a zip in it is over {NESTED_ZIP_LIMIT >> 20} MiB", where
                )
            fh = io.BytesIO(data)
        return _read_zip(fh, where, depth, budget, judges)
    except _DAMAGED as error:
        why = f"it is damaged ({error or type(error).__name__})"
        raise _Unreadable(why, where) from error


def _read_tar(fh, where, depth, budget, judges) -> tuple[str, ...] | None:
    with tarfile.open(fileobj=fh, mode="r|") as archive:
        for member in archive:
            budget.member(where)
            inside = (*where, member.name)
            if judges.raw(_tar_header_text(member)):
                return inside
            if not member.isfile():
                continue
            if _CREDENTIAL_MEMBER.fullmatch(PurePosixPath(member.name).name):
                return inside
            content = archive.extractfile(member)
            if content is not None:
                found = _read_member(content, inside, depth, budget, judges)
                if found is not None:
                    return found
    return None


def _read_zip(fh, where, depth, budget, judges) -> tuple[str, ...] | None:
    with zipfile.ZipFile(fh) as archive:
        for member in archive.infolist():
            budget.member(where)
            inside = (*where, member.filename)
            name = member.filename.encode("utf-8", "surrogateescape")
            if judges.raw(name) or judges.raw(member.comment):
                return inside
            if member.is_dir():
                continue
            if _CREDENTIAL_MEMBER.fullmatch(PurePosixPath(member.filename).name):
                return inside
            if member.flag_bits & 0x1:
                raise _Unreadable("it is encrypted", inside)
            try:
                content = archive.open(member)
            except NotImplementedError as error:
                why = "it is compressed in a way reprobox cannot read"
                raise _Unreadable(why, inside) from error
            with content:
                if member.compress_type == zipfile.ZIP_STORED:
                    found = _read_member(content, inside, depth, budget, judges)
                else:
                    content = _Inflated(content, budget, inside)
                    found = _read_inflated(content, inside, depth, budget, judges)
                if found is not None:
                    return found
    return None


def _tar_header_text(member: tarfile.TarInfo) -> bytes:
    """Return what a tar member's header says besides sizes: its name, link
    target, owner names and pax records."""
    records = [f"{key}={value}" for key, value in member.pax_headers.items()]
    fields = (member.name, member.linkname, member.uname, member.gname, *records)
    return "\n".join(fields).encode("utf-8", "surrogateescape")


def _read_inflated(fh, where, depth, budget, judges) -> tuple[str, ...] | None:
    """Judge inflated bytes (a compressed stream's, a deflated zip member's)
    as a member, and raw as well, to their end: past where an archive in them
    ends. Stored bytes need no such reading: they are raw bytes of the file
    or of a stream inflated already, judged there."""
    scanned = _Scanned(fh, judges.raw)
    found = _read_member(scanned, where, depth, budget, judges)
    return where if found is None and scanned.finish() else found


def _read_member(fh, where, depth, budget, judges) -> tuple[str, ...] | None:
    """Judge a member (or a stream's content): open it if it is an archive or
    compressed stream itself, else read it window by window."""
    head = _read_up_to(fh, _HEAD)
    kind = archive_kind(head)
    if kind is not None:
        return _read_archive(
            _Prefixed(head, fh), kind, where, depth + 1, budget, judges
        )
    window = head + _read_up_to(fh, _WINDOW - len(head))
    first = True
    while True:
        if judges.member(window, first):
            return where
        more = _read_up_to(fh, _WINDOW)
        if not more:
            return None
        window, first = window[-_OVERLAP:] + more, False


def _read_up_to(fh, size: int) -> bytes:
    """Read size bytes, or what is left: a stream may give fewer at a time."""
    parts, left = [], size
    while left > 0:
        data = fh.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)
