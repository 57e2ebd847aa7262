"""Binary credential files: private keys in DER form, and zip archives of keys.

A DER key has no text marker to find; it is told by its ASN.1 structure, the
whole file one SEQUENCE laid out as PKCS#8 (plain or encrypted), PKCS#1 RSA,
a DSA key or SEC1 EC key is. A zip archive is read through its directory: a
member named like a credential file, or a small member that holds one, makes
the archive one; a tar archive (plain, gzip, bzip2 or xz) is read the same
way, member by member. All are read only within limits, as credential files
are.
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

# A DER key file is a few KiB at most (RSA 16384 is under 10).
DER_LIMIT = 16 << 10
# How much of a zip archive's members is read: how many, and how many bytes.
_ZIP_MEMBERS = 256
_ZIP_MEMBER_BYTES = 64 << 10
_ZIP_TOTAL_BYTES = 1 << 20
# Tar archives, plain or compressed, by name: read member by member, as a zip
# is. A compressed one is inflated only this far: reaching a member means
# inflating every byte before it.
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
TAR_INFLATE_LIMIT = 64 << 20
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
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


def zip_holds_credentials(path: Path, is_credential: Callable[[bytes], bool]) -> bool:
    """Tell whether a zip archive holds a credential file.

    A member counts by its name (id_rsa, .env, .netrc...) or, when it is small,
    by what it holds as is_credential judges it; no more than _ZIP_MEMBERS
    members and _ZIP_TOTAL_BYTES of them are read, and encrypted ones not.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return _members_hold_credentials(archive, is_credential, [_ZIP_TOTAL_BYTES])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _members_hold_credentials(
    archive: zipfile.ZipFile,
    is_credential: Callable[[bytes], bool],
    budget: list[int],
    nested: bool = False,
) -> bool:
    """Read archive's members within budget (bytes left, shared with a zip
    inside it); a small zip member is read the same way, one level down."""
    members = archive.infolist()[:_ZIP_MEMBERS]
    for member in members:
        if member.is_dir():
            continue
        if _CREDENTIAL_MEMBER.fullmatch(PurePosixPath(member.filename).name):
            return True
        if member.flag_bits & 0x1 or member.file_size > min(
            _ZIP_MEMBER_BYTES, budget[0]
        ):
            continue
        budget[0] -= member.file_size
        try:
            with archive.open(member) as fh:
                content = fh.read(_ZIP_MEMBER_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
            continue
        if len(content) > _ZIP_MEMBER_BYTES:
            continue
        if is_credential(content) or (
            not nested
            and content.startswith(b"PK\x03\x04")
            and _inner_zip_holds_credentials(content, is_credential, budget)
        ):
            return True
    return False


def _inner_zip_holds_credentials(
    content: bytes, is_credential: Callable[[bytes], bool], budget: list[int]
) -> bool:
    """Tell whether a zip archive held as a member holds a credential file."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as inner:
            return _members_hold_credentials(inner, is_credential, budget, nested=True)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return False


def tar_archive_name(name: str) -> bool:
    """Tell whether a file's name is that of a tar archive, compressed or not."""
    return name.lower().endswith(TAR_SUFFIXES)


def tar_holds_credentials(path: Path, is_credential: Callable[[bytes], bool]) -> bool:
    """Tell whether a tar archive holds a credential file, as a zip is judged.

    The first _ZIP_MEMBERS members count by name or, when small, by what they
    hold, within _ZIP_TOTAL_BYTES; a compressed archive is read through its
    first TAR_INFLATE_LIMIT bytes once inflated, a plain one through its end.
    """
    try:
        with open(path, "rb") as fh:
            compressed = fh.read(6).startswith(_COMPRESSED_MAGIC)
        with tarfile.open(path, "r:*") as archive:
            return _tar_members_hold(archive, compressed, is_credential)
    except (tarfile.TarError, OSError, ValueError, EOFError, RuntimeError):
        return False


def _tar_members_hold(
    archive: tarfile.TarFile, compressed: bool, is_credential: Callable[[bytes], bool]
) -> bool:
    budget = [_ZIP_TOTAL_BYTES]
    for count, member in enumerate(archive):
        if count >= _ZIP_MEMBERS:
            return False
        if compressed and member.offset_data + member.size > TAR_INFLATE_LIMIT:
            return False
        if not member.isfile():
            continue
        if _CREDENTIAL_MEMBER.fullmatch(PurePosixPath(member.name).name):
            return True
        if member.size > min(_ZIP_MEMBER_BYTES, budget[0]):
            continue
        budget[0] -= member.size
        fh = archive.extractfile(member)
        content = fh.read() if fh is not None else b""
        if is_credential(content) or (
            content.startswith(b"PK\x03\x04")
            and _inner_zip_holds_credentials(content, is_credential, budget)
        ):
            return True
    return False
