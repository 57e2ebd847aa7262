"""Project files that are credentials by what they hold, whatever their names.

A copy of .env or .netrc under any name, a service-account key or an AWS
credentials file goes into an image as easily as the original; these checks
read a file's content for the shapes such files have. Private keys are looked
for in every byte of every file; the text shapes only in files of up to
TEXT_SCAN_LIMIT bytes, so that large data files cost one read, as before. An
archive or compressed stream, whatever its name (a tar, a zip, secrets.gz), is
read member by member through credential_archives, within its bounds.
"""

from __future__ import annotations

import functools
import gzip
import html
import io
import json
import re
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path

from reprobox.code_files import code_file_name, code_text
from reprobox.credential_archives import (
    DER_LIMIT,
    Finding,
    Judges,
    archive_finding,
    der_private_key,
    is_archive,
)
from reprobox.credential_lines import (
    credential_file_text,
    published_token_in_bytes,
    secret_in_text,
    text_secret_parts,
)
from reprobox.credential_settings import (
    literal_secret,
    plain_value,
    secret_name,
    settings_secrets,
)
from reprobox.envvars import basic_login_password as _basic_login_password
from reprobox.envvars import found, looks_secret, value_secret_parts
from reprobox.key_blocks import KEY_SPAN, private_key_in
from reprobox.project_metadata import metadata_file_name
from reprobox.secret_shapes import token_in_name
from reprobox.token_files import TOKEN_FILE_LIMIT, bare_token, named_token
from reprobox.vendor_tokens import vendor_tokens

_CHUNK = 1 << 20
# How many first bytes tell text saved as UTF-16 without a byte order mark.
_UTF16_PROBE = 256
# Credential files are a few KiB; a file larger than this is data or code.
TEXT_SCAN_LIMIT = 256 << 10
_GZIP_MAGIC = b"\x1f\x8b"
# Code, notebooks, scripts and docs: never a credential store, whatever lines
# they hold (config.py of NAME = "value" lines reads like a .env). A
# credential written in one is refused at freeze and build instead
# (image_inputs), since leaving it out would break the run.
_CODE_SUFFIXES = frozenset(
    (".py", ".pyi", ".pyx", ".ipynb", ".r", ".jl", ".js", ".ts", ".tf")
    + (".sh", ".bash", ".zsh", ".ps1", ".bat", ".cmd", ".md", ".rst")
)

# netrc: the first word is an entry ("machine HOST" or "default"), and some
# entry gives a password.
_NETRC_START = re.compile(r"(?:\s*#[^\n]*\n)*\s*(?:machine|default)\s")
_NETRC_PASSWORD = re.compile(r"(?:^|\s)password\s+(\S+)")
# Google's key files: a service account's private key, a user's refresh token.
_GOOGLE_KEY_TYPE = re.compile(r'"type"\s*:\s*"(?:service_account|authorized_user)"')
_GOOGLE_KEY_SECRET = re.compile(
    r'"(?:private_key|refresh_token|client_secret)"\s*:\s*"([^"\s](?:[^"\\]|\\.)*)"'
)
_LINE = re.compile(r"[^\r\n]+")
# git's credential store: each line a URL with user and password.
_GIT_CREDENTIAL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@]*:[^\s/@]+@[^\s@]+", re.I)
# PostgreSQL's password file: host:port:database:user:password, a colon or
# backslash within a field escaped with a backslash, * for any.
_PGPASS_FIELD = r"(?:[^:\\\r\n]|\\.)+"
_PGPASS_LINE = re.compile(
    rf"{_PGPASS_FIELD}:(?:\d+|\*):{_PGPASS_FIELD}:{_PGPASS_FIELD}:{_PGPASS_FIELD}"
)
# What JSON with comments has beyond JSON: // and /* */ comments, then a comma
# before a closing bracket. Strings are matched first, so that "http://x"
# keeps its slashes.
_JSON_STRING = r'"(?:[^"\\\n]|\\.)*"'
_JSONC_COMMENT = re.compile(rf"{_JSON_STRING}|//[^\n]*|/\*.*?\*/", re.S)
_JSONC_COMMA = re.compile(rf"{_JSON_STRING}|,(\s*[}}\]])")
# redis.conf: the server's password, and the one a replica logs in with, each
# a directive on a line of its own; foobared is the example redis ships with.
_REDIS_PASSWORD = re.compile(
    r"(?<![^\r\n])[ \t]*(?:requirepass|masterauth)[ \t]+(\S+)[ \t]*(?=[\r\n]|\Z)"
)
_REDIS_EXAMPLE = "foobared"
# XML: a document starts with a declaration, comment, doctype or element.
_XML_START = re.compile(r"\s*<[?!A-Za-z_]")
# An element that holds only text or CDATA, its name without a namespace.
_XML_TEXT_ELEMENT = re.compile(
    r"<((?:[\w.-]+:)?([A-Za-z_][\w.-]*))(?:\s[^<>]*)?>"
    r"(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))</\1\s*>",
    re.S,
)
# How deep a JSON document is walked for a secret setting.
_JSON_DEPTH = 8
# A JSON key that names a setting (not a package, path or sentence).
_JSON_NAME = re.compile(r"[A-Za-z_][\w.-]*")


def holds_credentials(path: Path) -> bool:
    """Tell whether a file holds a private key, is shaped like a credential
    file, or is an archive that holds one or cannot be read whole."""
    return credential_finding(path) is not None


def credential_finding(path: Path) -> Finding | None:
    """Tell whether and where a file holds a credential, or why it cannot tell.

    Every byte is read for keys (key_blocks), as the image digest reads
    them: a key appended to a large file is as much a key. An archive or
    compressed stream, told by its first bytes, is read member by member
    instead (credential_archives.archive_finding), so that a finding names
    the member that holds the credential.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return False  # a FIFO or device would block or never end
        size = info.st_size
        # A key in code or docs is refused at freeze and build on its line
        # (image_inputs): left out, the code it sits in would be missing.
        by_suffix_a_store = path.suffix.lower() not in _CODE_SUFFIXES
        by_suffix_a_store &= not code_file_name(path.name)
        # pyproject.toml, setup.cfg, the requirements: read by pip in the
        # image, refused on a line instead (project_metadata).
        by_suffix_a_store &= not metadata_file_name(path.name)
        by_text = size <= TEXT_SCAN_LIMIT and by_suffix_a_store
        yaml = path.suffix.lower() in (".yaml", ".yml")
        with open(path, "rb") as fh:
            head = fh.read(_CHUNK)
            if is_archive(path, head):
                # Read member by member, so that the note names the member.
                return archive_finding(path, head, _ARCHIVE_JUDGES)
            tail = b""
            for index in range(size // _CHUNK + 1):  # a file that grew stops here
                chunk = head if index == 0 else fh.read(_CHUNK)
                if not chunk:
                    break
                # Each chunk is searched with the end of the one before, so
                # that a key split between two reads is still found.
                window = tail + chunk
                if index == 0 and code_text(chunk):
                    by_suffix_a_store = by_text = False  # a script, a Makefile
                if by_suffix_a_store and private_key_in(window, fh.tell() < size):
                    return Finding("")
                if index == 0 and by_text and _credential_text(chunk, yaml):
                    return Finding("")
                if index == 0 and by_text and _named_token_file(path.name, chunk):
                    return Finding("")
                tail = window[-KEY_SPAN:]
    except OSError:
        return None
    return None


def secret_value(name: str, value: str | None) -> bool:
    """Tell whether a variable's value is a credential: one that looks secret
    by its name or shape, text that would make a credential file, or a token
    of a vendor's prefix and a random run (vendor_tokens)."""
    if looks_secret(name, value):
        return True
    return bool(value) and (
        secret_in_text(value)
        or _credential_text(value.encode("utf-8", "surrogateescape"))
        or found(vendor_tokens(value))
    )


# How every refusal of such a name says what it is: the published formats and
# the looser vendor shape alike (brk r48 BQ 10: "a token of a known format"
# was said of acme_live_..., which is no published format).
CREDENTIAL_NAME_WHAT = (
    "a credential by its shape (a token of a published format, or a vendor's "
    "prefix and a random run)"
)


def credential_name(name: str) -> bool:
    """Tell whether a variable name is itself a credential by its shape.

    It is judged as a value is (secret_value: a vendor's prefix and a random
    run counts), and a token of a published format counts anywhere in it
    (MY_AKIA..., ghp_..._X). [env], --env and a record's variable names are
    judged alike, as each is written where a value would be.
    """
    return secret_value("", name) or token_in_name(name)


def secret_parts(value: str) -> list[str]:
    """Return the parts of value that the shapes judging it read as secrets.

    The readings secret_value makes of a value's shape, each giving what it
    found: the password of a connection string or netrc entry, the values of
    a JSON or settings text's secret fields, a header's token, a private
    key's body lines. A script that parses the value prints those alone.
    """
    parts = [
        *value_secret_parts(value),
        *text_secret_parts(value),
        *credential_text_parts(value),
        *vendor_tokens(value),
    ]
    return [part for part in dict.fromkeys(parts) if part]


def _credential_window(data: bytes, first: bool) -> bool:
    """Tell whether a window of an archive member's bytes holds a key or a
    credential on some line; the first window is read for a credential
    file's shapes as well, as a small file's bytes are.

    An archive is not read line by line at build, so a member that holds a
    credential on any line makes the archive one.
    """
    if first and _credential_bytes(data[:TEXT_SCAN_LIMIT]):
        return True
    if private_key_in(data):
        return True
    text = _as_text(data)
    return text is not None and secret_in_text(text)


def _raw_credential(data: bytes) -> bool:
    """Tell whether raw bytes of an archive (a header, a name, a binary
    member, what follows its end) hold a key's marker or a token of a
    published format (ghp_..., AKIA...), which no reading of text needs to
    find: their shape gives them away in any bytes."""
    if private_key_in(data):
        return True
    return published_token_in_bytes(data)


_ARCHIVE_JUDGES = Judges(member=_credential_window, raw=_raw_credential)


def _credential_bytes(data: bytes) -> bool:
    """Tell whether bytes (the head of an archive's member) hold a key or
    credential text."""
    if private_key_in(data) or _credential_text(data):
        return True
    text = _as_text(data[:TEXT_SCAN_LIMIT])
    return text is not None and secret_in_text(text)


def _credential_text(data: bytes, yaml: bool = False) -> bool:
    """Tell whether a small file's bytes read as a credential file, gzipped or not.

    yaml says the file is named as YAML (see settings_with_secret).
    """
    if len(data) <= DER_LIMIT and der_private_key(data):
        return True
    if data.startswith(_GZIP_MAGIC):
        data = _gunzipped(data)
        if data is None:
            return False
        if private_key_in(data):
            return True
    text = _as_text(data[:TEXT_SCAN_LIMIT])
    return text is not None and found(credential_text_parts(text, yaml))


def credential_text_parts(text: str, yaml: bool = False) -> Iterator[str]:
    """Yield the secrets of text if it reads as a credential file, by shape.

    A shape that has no one part to give (a bare token, the AWS key CSV)
    yields the whole text.
    """
    if _NETRC_START.match(text):
        for password in _NETRC_PASSWORD.finditer(text):
            yield password.group(1)
    if _GOOGLE_KEY_TYPE.search(text):
        for secret in _GOOGLE_KEY_SECRET.finditer(text):
            yield _json_string(secret.group(1))
    yield from settings_secrets(text, yaml)
    for password in _REDIS_PASSWORD.finditer(text):
        value = password.group(1).strip("\"'")
        if literal_secret(value) and value != _REDIS_EXAMPLE:
            yield value
    yield from _json_secrets(text)
    yield from _xml_secrets(text)
    if _every_line(text, _GIT_CREDENTIAL, comments=True):
        yield text
    if _every_line(text, _PGPASS_LINE, comments=True):
        for line in _LINE.finditer(text):
            if not line.group().lstrip().startswith("#"):
                yield re.split(r"(?<!\\):", line.group().strip(), maxsplit=4)[-1]
    if bare_token(text) or credential_file_text(text):
        yield text


def _json_string(inside: str) -> str:
    """Return a JSON string's inside as it reads."""
    try:
        return json.loads(f'"{inside}"')
    except ValueError:
        return inside


def _gunzipped(data: bytes) -> bytes | None:
    """Return what gzip data holds, or None if damaged or over TEXT_SCAN_LIMIT.

    No more than the limit is ever inflated: a small file that inflates to
    gigabytes costs what a credential file does.
    """
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
            plain = fh.read(TEXT_SCAN_LIMIT + 1)
    except (OSError, EOFError, zlib.error):
        return None
    return plain if len(plain) <= TEXT_SCAN_LIMIT else None


def _named_token_file(name: str, head: bytes) -> bool:
    """Tell whether a file that starts with head is one random token that its
    name says is a secret's (token_files.named_token)."""
    if len(head) > TOKEN_FILE_LIMIT:
        return False
    text = _as_text(head)
    return text is not None and named_token(name, text)


def _as_text(data: bytes) -> str | None:
    """Return a file's text, or None for a binary file."""
    codec = text_codec(data)
    if codec is None:
        return None
    return data.decode(codec, errors="replace").removeprefix("\ufeff")


def text_codec(head: bytes) -> str | None:
    """Name the codec of a file that starts with head, or None for a binary file."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\0" in head:
        return _bomless_utf16(head)
    return "utf-8"


def _bomless_utf16(data: bytes) -> str | None:
    """Name the UTF-16 codec of text saved without a byte order mark, if it is.

    Text in Latin letters saved so has a NUL in every other byte, the high
    byte of each character: odd bytes for little-endian, even for big-endian.
    The first bytes are enough to tell, and other binary files rarely start so.
    """
    head = data[: min(len(data), _UTF16_PROBE) & ~1]
    if len(head) < 8:
        return None
    low, high = head[0::2], head[1::2]
    if not high.strip(b"\0") and b"\0" not in low:
        return "utf-16-le"
    if not low.strip(b"\0") and b"\0" not in high:
        return "utf-16-be"
    return None


def _every_line(text: str, shape: re.Pattern[str], comments: bool) -> bool:
    """Tell whether text has a line and each line (bar blanks, comments) is shape."""
    found = False
    for match in _LINE.finditer(text):
        stripped = match.group().strip()
        if not stripped or (comments and stripped.startswith("#")):
            continue
        if not shape.fullmatch(stripped):
            return False
        found = True
    return found


def _json_secrets(text: str) -> Iterator[str]:
    """Yield the secrets that text writes out, if it is JSON.

    Three shapes: a setting with a secret name (the names of `[env]` and
    settings files) and a literal value at any depth, a Docker client config
    with a registry login, and a Google OAuth client (found as the first).
    """
    doc = _json_doc(text)
    if doc is None and ("//" in text or "/*" in text):
        # JSON with comments (VS Code's settings.jsonc, tsconfig.json): the
        # comments and trailing commas go, strings stay as they are.
        plain = _JSONC_COMMENT.sub(_keep_strings, text)
        doc = _json_doc(_JSONC_COMMA.sub(_keep_strings, plain))
    if doc is None:
        return
    yield from _docker_logins(doc, text)
    yield from _secret_settings_in(doc, _JSON_DEPTH)


def _json_doc(text: str) -> object | None:
    """Return the object or array that text is as JSON, or None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, (dict, list)) else None


def _keep_strings(match: re.Match[str]) -> str:
    if match.group().startswith('"'):
        return match.group()
    if match.lastindex:
        return match.group(1)  # a trailing comma goes, its bracket stays
    return " "


def _xml_secrets(text: str) -> Iterator[str]:
    """Yield the secrets of text if it is XML, from elements that write one out.

    Maven's settings.xml: <password>X</password>, the element's name one that
    a settings file keeps secrets under and its text a value, not empty and
    not a reference such as ${env.PASSWORD}. Bare <key> and <token> name
    dictionary keys and a corpus's words, not credentials.
    """
    if not _XML_START.match(text):
        return
    for element in _XML_TEXT_ELEMENT.finditer(text):
        name = element.group(2)
        if name.lower() == "token" or not secret_name(name):
            continue
        cdata, value = element.group(3, 4)
        secret = html.unescape(value) if cdata is None else cdata
        if literal_secret(secret):
            yield secret.strip()


def _docker_logins(doc: object, text: str) -> Iterator[str]:
    """Yield the logins of doc if it is a Docker client config for a registry.

    Logins are an auth (base64 of user:password, yielded with its password)
    or an identity token; a config that names a credential store or helpers
    is a copy of one too, with no login of its own: its text is yielded.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("auths"), dict):
        return
    registries = doc["auths"].values()
    if not all(isinstance(entry, dict) for entry in registries):
        return
    if doc.get("credsStore") or doc.get("credHelpers"):
        yield text
    for entry in registries:
        for name in ("auth", "identitytoken", "registrytoken", "password"):
            login = entry.get(name)
            if not literal_secret(login):
                continue
            yield login
            if name == "auth":
                yield from _basic_login_password(login)


def _secret_settings_in(doc: object, depth: int) -> Iterator[str]:
    """Yield the literals doc, down to depth levels, gives secret names."""
    if depth <= 0:
        return
    if isinstance(doc, list):
        for item in doc:
            if isinstance(item, (dict, list)):
                yield from _secret_settings_in(item, depth - 1)
        return
    if not isinstance(doc, dict):
        return
    for name, value in doc.items():
        if isinstance(value, str):
            if literal_secret(value) and _secret_json_name(name, plain_value(value)):
                yield value.strip()
        elif isinstance(value, (dict, list)):
            if name.lower().endswith("dependencies"):
                continue  # package.json: package names (jsonwebtoken) to versions
            yield from _secret_settings_in(value, depth - 1)


@functools.lru_cache(maxsize=4096)
def _secret_json_name(name: str, plain: bool) -> bool:
    """Tell whether a JSON key is a setting's name that holds a secret.

    Cached: a data file repeats the same few keys thousands of times.
    """
    return bool(_JSON_NAME.fullmatch(name) and secret_name(name, plain))
