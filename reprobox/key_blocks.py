"""Private keys written out as text: a marker, then a key's body.

A key file's first line names it (`-----BEGIN RSA PRIVATE KEY-----`), and so
do the string constants of every program that reads or writes keys:
libssh2, ssh-keygen and OpenSSL hold the BEGIN and END lines with nothing
between them but NULs. What tells a key is its body after the marker: after
blanks and line breaks, a character of base64 (or of the headers an
encrypted or armored key has first: Proc-Type, Version), or the end of the
file, cut short after its marker. Another marker, a NUL or other binary
right after it is no key. Bytes are read as they lie (latin-1, which keeps
every byte) and, where a marker is saved as UTF-16, as UTF-16 text of
either byte order and alignment.
"""

from __future__ import annotations

import re

# Text in each kind of key's marker: a cheap search that nearly all bytes
# fail, before the key shapes are looked for.
_MARKER_TEXTS = (
    "PRIVATE KEY-----",  # PEM: PKCS#1/#8, EC, DSA, encrypted; OpenSSH
    "-----BEGIN PGP PRIVATE KEY BLOCK-----",  # armored GnuPG secret key
    "PuTTY-User-Key-File-",  # PuTTY .ppk, versions 2 and 3
    "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",  # ssh.com / Tectia
    "AGE-SECRET-KEY-1",  # age identity
    "age-secret-key-1",  # the same in bech32's other case
)
_UTF16 = ("utf-16-le", "utf-16-be")
_LATIN1_MARKERS = tuple(text.encode("latin-1") for text in _MARKER_TEXTS)
_UTF16_MARKERS = tuple(text.encode(codec) for codec in _UTF16 for text in _MARKER_TEXTS)
# More bytes than a key's marker and the start of its body span, UTF-16
# included: a window read in parts keeps this many of the part before, so
# that a key cut between two parts is whole in one.
KEY_SPAN = 4096
# Between a marker and its body: line breaks and blanks, a written "\n" as a
# key kept in a JSON string or a variable has them, and the quotes and
# line-end backslashes of a key written as string literals in source code
# ("-----BEGIN ...-----\n" + newline + "MIIE...").
_GAP = r"(?:[ \t\r\n\"'`]|\\[rn]|\\(?=\r?\n))*"
_MARKERS = (
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"  # PEM and OpenSSH keys
    r"|-----BEGIN PGP PRIVATE KEY BLOCK-----"
    r"|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----"
    r"|PuTTY-User-Key-File-[0-9]+:[ \t]*(?=[A-Za-z])"  # its key's algorithm next
    r"|(?i:AGE-SECRET-KEY-1(?=[0-9A-Z]))"
)
# The body's first character: base64's, or a header's first letter.
_KEY = re.compile(rf"(?:{_MARKERS}){_GAP}[A-Za-z0-9+/]")
# The same, or a marker that ends the bytes read: a file cut short after it.
_KEY_OR_CUT = re.compile(rf"(?:{_MARKERS}){_GAP}(?:[A-Za-z0-9+/]|\Z)")


def private_key_in(data: bytes, more: bool = False) -> bool:
    """Tell whether bytes hold a private key: a key's marker followed by its
    body, as text, in a binary or saved as UTF-16.

    more says more bytes follow data (the next part of a file read in
    parts): a marker at the end of data is then judged with them, not as a
    file cut short after it.
    """
    key = _KEY if more else _KEY_OR_CUT
    latin1 = any(marker in data for marker in _LATIN1_MARKERS)
    if latin1 and key.search(data.decode("latin-1")):
        return True
    if any(marker in data for marker in _UTF16_MARKERS):
        for codec in _UTF16:
            for start in (0, 1):  # text at an even or an odd offset
                if key.search(data[start:].decode(codec, errors="replace")):
                    return True
    return False
