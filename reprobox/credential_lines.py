"""Credentials written anywhere in a text, whatever else the text holds.

Settings files are told by every line being a setting; these shapes give a
file away on one line among code, logs or data: a URL with a password in it
(`https://user:pw@host`, as a .condarc channel or an --extra-index-url has
it), a token of a published format, a JSON-lines record with a secret field,
a script or Terraform line that sets a secret, code that gives a secret's
name a random string (reprobox.code_assignments), and the header of the access
key CSV that the AWS console hands out. Stand-ins that documentation and code
write in a secret's place (`user:password@`, `${TOKEN}`, `<token>`, `***`,
`{password}`) are not secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from itertools import chain

from reprobox.code_assignments import STRING_PREFIX, code_secrets, random_string
from reprobox.command_credentials import command_line_secrets, header_secrets
from reprobox.credential_settings import literal_secret, plain_value, secret_name
from reprobox.envvars import basic_login_password, found, looks_secret
from reprobox.key_blocks import private_key_in
from reprobox.line_comments import CommentSyntax, comment_syntax
from reprobox.project_metadata import (
    comment_setting_secrets,
    metadata_file_name,
    metadata_setting_secrets,
    requirements_file_name,
)
from reprobox.secret_shapes import PUBLISHED_TOKEN
from reprobox.stand_ins import placeholder, placeholder_user
from reprobox.string_credentials import secret_url_tokens, string_setting_secrets

Finder = Callable[[str], Iterator[str]]

# A URL whose userinfo has a password: scheme://[user]:password@host. The
# scheme starts where a word does, so that a long run of letters (base64, hex)
# is tried once, not from each of its characters.
# The host is a name or a bracketed address, with a port of digits if any: in
# http://username:password@proxy_uri:port the text after @ is a slot, no host.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://([^\s/:@'\"<>]*):([^\s/@'\"<>]+)@"
    r"(?:\[[0-9A-Fa-f:.]+\]|[\w.-]+)(?::[0-9]+)?(?![\w:])"
)
# A script line that sets a variable: sh's export, cmd's set/setx, PowerShell,
# a notebook's %env, a Dockerfile's ENV and ARG, env before a command.
_SCRIPT_ASSIGNMENT = re.compile(
    r"""\s*@?(?:(?:export|set|setx|env|arg|%env)\s+|\$env:)"?"""
    r"""([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*|\s+(?=["']))(.*?)"?\s*""",
    re.I,
)
# One of several settings on such a line: NAME=value, NAME="value".
_SETTING_PAIR = re.compile(r"""(?<!\S)([A-Za-z_]\w*)=("[^"]*"|'[^']*'|\S+)""")
# A Dockerfile's ENV or ARG line, or a notebook's %env.
_BUILD_SETTING = re.compile(r"\s*(?:ENV|ARG|%env)\s")
# The same with a blank for the "=": ENV NAME value, %env NAME value.
_SPACED_ASSIGNMENT = re.compile(
    r"""\s*(?:ENV|%env)[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]+([^\s=].*?)\s*"""
)
# Terraform/HCL: a block opens a line, with its labels quoted (resource "x"
# "y" {, provider "x" {) or none (terraform {, locals {). No "=" comes before
# the brace, so Python's data = {, output = {...} open none.
_HCL_BLOCK = re.compile(
    r'[\r\n][ \t]*(?:(?:resource|data)[ \t]+"[^"\r\n]+"[ \t]+"[^"\r\n]+"'
    r'|(?:provider|variable|module|output)[ \t]+"[^"\r\n]+"|terraform|locals)'
    r"[ \t]*\{[ \t]*(?=[\r\n]|\Z)"
)
# Files that are HCL by their names, read so whatever blocks a part of them
# holds (a .tfvars file has none), and files that are code in another
# language, never read so.
_HCL_SUFFIXES = (".tf", ".tfvars", ".hcl")
_NOT_HCL_SUFFIXES = (".py", ".pyi", ".ipynb")
_HCL_SETTING = re.compile(r'\s*([A-Za-z_][\w-]*)\s*=\s*"([^"\n]*)"\s*')
# An Authorization header with its token: curl -H "Authorization: Bearer X",
# headers={"Authorization": "Bearer X"} (or f"Bearer X", a template literal,
# triple quotes), or a Basic login in base64.
_BEARER_HEADER = re.compile(
    r"""authorization['"]?\]?\s*[:=]\s*(?:[rbuf]{0,2}(?:'''|\"\"\"|['"`]))?\s*"""
    r"""(bearer|token|basic)[ \t]+([^\s'"`]+)""",
    re.I,
)
# The header's value as a string of its own, wherever it is then put:
# h = f"Bearer X", auth = "Basic X". "Token X" is left to the header form:
# a string that opens with the word token is as often prose.
_BEARER_STRING = re.compile(
    r"""(?<![\w'"`])[rbuf]{0,2}(?:'''|\"\"\"|['"`])(bearer|basic)[ \t]+([^\s'"`]+)""",
    re.I,
)
# Python setting a variable of its own environment to a string literal:
# os.environ["WANDB_API_KEY"] = "X", os.environ.setdefault("HF_TOKEN", "X"),
# os.putenv("API_KEY", "X"); the string with a prefix (f"X", rb"X") or in
# triple quotes too.
_ENVIRON_ASSIGNMENT = re.compile(
    r"""(?:environ\s*(?:\[\s*(['"])([A-Za-z_]\w*)\1\s*\]\s*=|\.setdefault\(\s*"""
    r"""(['"])([A-Za-z_]\w*)\3\s*,)|putenv\(\s*(['"])([A-Za-z_]\w*)\5\s*,)"""
    rf"""\s*{STRING_PREFIX}(['"])(?:\7\7)?([^'"\r\n]*)\7"""
)
# A token written out: long, of the characters tokens are made of.
_LITERAL_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{20,}")
# The access key CSV of the AWS console, and of IAM user downloads.
# A PEM or OpenSSH private key with its body (40 or more characters between
# its BEGIN and END lines): a header quoted alone in a README is no key.
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY((?: BLOCK)?)-----"
    r"(?:[^-]|-(?!----END)){40,16384}?"
    r"-----END \1PRIVATE KEY\2-----"
    # ssh.com's, and PuTTY's (its private lines follow its public ones).
    r"|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----[\s\S]{40,16384}?"
    r"---- END SSH2 ENCRYPTED PRIVATE KEY ----"
    r"|PuTTY-User-Key-File-[0-9]+:[\s\S]{0,16384}?Private-Lines:\s*[0-9]+\s+"
    r"[A-Za-z0-9+/]{16}"
)
_AWS_KEY_CSV = re.compile(r"secret access key|access key id", re.I)
# Where lines end, as editors number them.
LINE_BREAK = re.compile(r"\r\n|[\r\n]")
# A run of the characters tokens are made of, as long as the shortest token.
_TOKEN_RUN_CHARS = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.=/-"
)
_TOKEN_RUN = re.compile(rf"[{re.escape(_TOKEN_RUN_CHARS.decode())}]{{15,}}")
# The same runs in bytes, told apart fast: each such byte becomes "a", every
# other one a blank, so that one substring search says whether a run is there.
_TOKEN_RUN_BYTES = bytes(
    ord("a") if byte in _TOKEN_RUN_CHARS else ord(" ") for byte in range(256)
)
# Lines that may be a JSON object, a script's assignment, a Terraform setting,
# each found after a line break (searched for in "\n" + text): patterns that
# start with a character, not ^, let the regex engine skip ahead fast. A
# script's assignment may also open a Markdown code span or an RST literal
# (Run `export HF_TOKEN=X`), and ends with it.
_OBJECT_LINE = re.compile(r"[\r\n]([ \t]*\{[^\r\n]*\}[ \t]*)(?=[\r\n]|\Z)")
_SCRIPT_START = r"@?(?:(?:export|setx?|%?env|arg)[ \t]|\$env:)"
_SCRIPT_LINE = re.compile(rf"[\r\n]([ \t]*{_SCRIPT_START}[^\r\n]*)", re.I)
# A pattern of its own, opened by one backtick written out (``*, not `+), so
# that each pattern starts with a character the regex engine skips ahead to.
_SCRIPT_SPAN = re.compile(rf"``*[ \t]*({_SCRIPT_START}[^`\r\n]*)", re.I)
_HCL_LINE = re.compile(r'[\r\n]([ \t]*[A-Za-z_][\w-]*[ \t]*=[ \t]*"[^\r\n]*)')
# What every secret setting's name holds (envvars.secret_setting_name). Text
# without one has no secret JSON field: a substring search tells, ten times
# faster than a case-blind regex. A line is parsed only when it has a field
# so named whose value is a string.
_SECRET_NAME_PARTS = ("pwd", "pass", "sig", "secret", "token", "key", "bearer")
_SECRET_NAME_PARTS += ("cred", "auth")
_SECRET_STRING_FIELD = re.compile(
    rf'"[^"\\\r\n]*(?:{"|".join(_SECRET_NAME_PARTS)})[^"\\\r\n]*"\s*:\s*"', re.I
)
# A PEM block in base64, as Kubernetes secrets and CI variables keep keys:
# base64 of "-----BEGIN", then enough to hold the rest of its first line.
_BASE64_PEM = re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/=\s]{40,}")
_BASE64_KEY_HEAD = 1024
# Keys of tokenized data, which JSON-lines datasets hold by the thousand.
_DATA_TOKEN_NAME = re.compile(
    r"(?:(?:next|prev|previous|input|output|target|pred|predicted|gold|first|last"
    r"|top|special|bos|eos|pad|unk|sep|cls|mask)[_-]?)?tokens?",
    re.I,
)


def url_with_password(text: str) -> bool:
    """Tell whether text has a URL whose userinfo writes out a password."""
    return found(_url_passwords(text))


def published_token(text: str) -> bool:
    """Tell whether text holds a whole token of a published format."""
    return found(_published_tokens(text))


def published_token_in_bytes(data: bytes) -> bool:
    """Tell whether raw bytes (binary, an archive's header) hold a whole token
    of a published format; data without a run long enough for one, nearly
    all binary data, costs one pass in C."""
    if b"a" * 15 not in data.translate(_TOKEN_RUN_BYTES):
        return False
    return published_token(data.decode("latin-1"))


def hide_published_tokens(text: str) -> str:
    """Return text with each whole token of a published format cut to its
    first four characters and *** (ghp_***), as reprobox names one it refuses."""
    if not _TOKEN_RUN.search(text):
        return text  # nearly every line: no run long enough to hold one
    return PUBLISHED_TOKEN.sub(lambda token: token.group()[:4] + "***", text)


def _published_tokens(text: str) -> Iterator[str]:
    # Each token lies in a run of these characters, bounded by others that
    # no token has; the runs are found fast, the token shapes only in them.
    for run in _TOKEN_RUN.finditer(text):
        for token in PUBLISHED_TOKEN.finditer(run.group()):
            yield token.group()


def secret_in_text(text: str) -> bool:
    """Tell whether any line of text writes out a credential, as this module reads."""
    return credential_file_text(text) or found(text_secret_parts(text))


def text_secret_parts(text: str) -> Iterator[str]:
    """Yield the credentials that lines of text write out, as this module reads
    them: a URL's password, a token, a secret field's or variable's value."""
    for _, finder in _LINE_FINDERS:
        yield from finder(text)
    yield from _hcl_secrets(text)


def credential_file_text(text: str) -> bool:
    """Tell whether text is a credential file by these shapes: the access key
    CSV of the AWS console, or a private key written out in base64."""
    return bool(
        _AWS_KEY_CSV.search(text[: text.find("\n") + 1 or len(text)])
    ) or _base64_private_key(text)


def credential_on_line(
    text: str, name: str = "", metadata: bool = False
) -> tuple[int, str] | None:
    """Return the number of the first line of text that writes out a credential,
    and what kind it is; None when no line does.

    name is the file's name, if any: it tells whether the text is Terraform
    or the project's metadata (pyproject.toml, setup.cfg, the requirements),
    whose settings are read too, and how its comments are written, whose
    settings are read in any file; metadata says it is the project's
    metadata, whatever its name (a requirements file that another includes).
    The whole text is searched first, so that text without one (nearly all)
    costs a few regex passes and no loop over its lines.
    """
    key = _PRIVATE_KEY_BLOCK.search(text)
    if key:  # in code or docs: a key block with its body, not a quoted header
        return len(LINE_BREAK.findall(text, 0, key.start())) + 1, "a private key"
    finders = [(kind, finder) for kind, finder in _LINE_FINDERS if found(finder(text))]
    if found(_hcl_secrets(text, name)):
        finders.append(("a secret set in a Terraform block", _hcl_line_secrets))
    syntax = _comment_syntax(name, metadata)
    if metadata or metadata_file_name(name):
        settings = _with_syntax(metadata_setting_secrets, syntax)
        if found(settings(text)):
            finders.append(("a secret setting", settings))
    else:
        comments = _with_syntax(comment_setting_secrets, syntax)
        if found(comments(text)):
            finders.append(("a secret setting in a comment", comments))
    if not finders:
        return None
    lines = LINE_BREAK.split(text)
    for number, line in enumerate(lines, start=1):
        for kind, finder in finders:
            if found(finder(line)):
                return number, kind
    # A value on the line after its name (password = (, then "X"): the line
    # is read with the one before, and named as the value's.
    for number, (previous, line) in enumerate(
        zip(lines, lines[1:], strict=False), start=2
    ):
        for kind, finder in finders:
            if found(finder(f"{previous}\n{line}")):
                return number, kind
    # A value further below its name (password = (, a comment, then "X"):
    # named on the first line by which the text holds it.
    whole = "\n".join(lines)
    below = [
        (_first_line_holding(lines, finder), kind)
        for kind, finder in finders
        if found(finder(whole))
    ]
    return min(below, key=lambda pair: pair[0], default=None)


def _comment_syntax(name: str, metadata: bool) -> CommentSyntax:
    """Return how the file name writes comments; metadata says it is one of
    the project's metadata files, a requirements file unless named otherwise."""
    other_metadata = metadata_file_name(name) and not requirements_file_name(name)
    requirements = requirements_file_name(name) or (metadata and not other_metadata)
    return comment_syntax(name, requirements=requirements)


def _with_syntax(
    finder: Callable[[str, CommentSyntax], Iterator[str]], syntax: CommentSyntax
) -> Finder:
    return lambda text: finder(text, syntax)


def _first_line_holding(lines: list[str], finder: Finder) -> int:
    """Return the number of the first line by which lines, read from the top,
    hold what finder finds in them all; found by halving, a whole read a try."""
    low, high = 1, len(lines)
    while low < high:
        middle = (low + high) // 2
        if found(finder("\n".join(lines[:middle]))):
            high = middle
        else:
            low = middle + 1
    return low


def _base64_private_key(text: str) -> bool:
    """Tell whether text holds base64 of a PEM private key."""
    for match in _BASE64_PEM.finditer(text):
        # Enough to hold the key's first line, its headers and its body's
        # start: a header alone, base64'd, is no key (key_blocks).
        run = "".join(match.group().split())
        head = run[: min(len(run), _BASE64_KEY_HEAD) // 4 * 4]
        try:
            pem = base64.b64decode(head, validate=True)
        except (binascii.Error, ValueError):
            continue
        if private_key_in(pem, more=len(head) < len(run)):
            return True
    return False


def _json_lines_secrets(text: str) -> Iterator[str]:
    """Yield the secret fields' values of the lines of text that are JSON objects.

    A JSON-lines log or dataset: a record's key named for a secret, holding a
    string that is written out. Keys such as token and next_token name a
    tokenized text's words there, so they count only for a token-shaped value.
    """
    lower = text.lower()
    if not any(part in lower for part in _SECRET_NAME_PARTS):
        return
    for match in _OBJECT_LINE.finditer("\n" + text):
        line = match.group(1).strip()
        if not _SECRET_STRING_FIELD.search(line):
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            for name, value in record.items():
                if secret_field(name, value):
                    yield value.strip()


def secret_field(name: str, value: object) -> bool:
    """Tell whether a JSON record's field writes out a secret, as a JSON-lines
    log or dataset's records are read."""
    if not isinstance(value, str) or not literal_secret(value) or placeholder(value):
        return False
    if _DATA_TOKEN_NAME.fullmatch(name):
        return looks_secret("", value)
    return secret_name(name)


def _script_secrets(text: str) -> Iterator[str]:
    """Yield the written values that script lines set secret variables to."""
    spans = _SCRIPT_SPAN.finditer(text) if "`" in text else ()
    for match in chain(_SCRIPT_LINE.finditer("\n" + text), spans):
        line = match.group(1)
        assignment = _SCRIPT_ASSIGNMENT.fullmatch(line)
        assignment = assignment or _SPACED_ASSIGNMENT.fullmatch(line)
        if assignment is None:
            continue
        # ENV A=1 B=2 and export A=1 B=2 set each name after the first too.
        pairs = _SETTING_PAIR.findall(line)
        settings = [assignment.groups(), *pairs]
        # A Dockerfile's ENV and a notebook's %env set a project's settings
        # too (ENV AUTH_MODE=none): named as a settings file's secrets, each
        # NAME=value on its own.
        as_setting = _BUILD_SETTING.match(line) is not None
        if as_setting and pairs:
            settings = pairs
        for name, value in settings:
            value = value.strip().removesuffix("\\").strip().strip("\"'")
            if not value or placeholder(value):
                continue
            if as_setting and not _secret_setting(name, value):
                continue
            if looks_secret(name, value):
                yield value
                break


def _secret_setting(name: str, value: str) -> bool:
    """Tell whether a setting's value is a secret, as settings files judge one."""
    if not literal_secret(value):
        return False
    return secret_name(name, plain_value(value)) or looks_secret("", value)


def _bearer_tokens(text: str) -> Iterator[str]:
    """Yield the tokens written out in the Authorization headers text sends."""
    lower = text.lower()
    matches = []
    if "uthoriz" in lower:  # a substring search first: most files have none
        matches += [(m, False) for m in _BEARER_HEADER.finditer(text)]
    if "bearer " in lower or "basic " in lower:
        # Without the header's name, only a token that reads as random: a
        # sentence quoting "Bearer tokensareexplainedhere..." is prose.
        matches += [(m, True) for m in _BEARER_STRING.finditer(text)]
    for match, bare in matches:
        scheme, token = match.groups()
        if bare and scheme.lower() == "bearer" and not random_string(token):
            continue
        if scheme.lower() == "basic":
            # base64 of user:password, the password judged as code's are.
            for password in list(basic_login_password(token))[1:]:
                if placeholder(password):
                    continue
                if random_string(password) or _LITERAL_TOKEN.fullmatch(password):
                    yield token
        elif _LITERAL_TOKEN.fullmatch(token) and not placeholder(token):
            yield token


def _environ_secrets(text: str) -> Iterator[str]:
    """Yield the literals Python code sets secret variables of os.environ to."""
    if "environ" not in text and "putenv" not in text:
        return
    for match in _ENVIRON_ASSIGNMENT.finditer(text):
        name, value = match.group(2) or match.group(4) or match.group(6), match[8]
        if value and not placeholder(value) and looks_secret(name, value):
            yield value


def _hcl_secrets(text: str, name: str = "") -> Iterator[str]:
    """Yield the strings Terraform/HCL text sets secret-named arguments to.

    Text is HCL when its file is named so, or, unless named as code in another
    language (cfnlint's reserved_key = "AWS::..." in Python), when a line of it
    opens an HCL block.
    """
    lines = "\n" + text
    name = name.lower()
    if name.endswith(_NOT_HCL_SUFFIXES):
        return
    if not name.endswith(_HCL_SUFFIXES) and not _HCL_BLOCK.search(lines):
        return
    for match in _HCL_LINE.finditer(lines):
        yield from _hcl_line_secrets(match.group(1))


def _hcl_line_secrets(line: str) -> Iterator[str]:
    """Yield the string one line of a Terraform block sets a secret to, if it does."""
    setting = _HCL_SETTING.fullmatch(line)
    if (
        setting
        and secret_name(setting.group(1))
        and literal_secret(setting.group(2))
        and not placeholder(setting.group(2))
    ):
        yield setting.group(2)


def _url_passwords(text: str) -> Iterator[str]:
    """Yield the passwords written out in the userinfo of text's URLs."""
    if "://" not in text:
        return  # a substring search: most files have no URL at all
    for match in _URL_PASSWORD.finditer(text):
        if not placeholder(match.group(2)) and not placeholder_user(match.group(1)):
            yield match.group(2)


# The shapes that one line gives away, each with the words that name it.
_LINE_FINDERS = (
    ("a password in a URL", _url_passwords),
    ("a token of a published format", _published_tokens),
    ("a secret field in a JSON record", _json_lines_secrets),
    ("a secret set by a script line", _script_secrets),
    ("a token in an Authorization header", _bearer_tokens),
    ("a secret set in os.environ", _environ_secrets),
    ("a secret assigned in code", code_secrets),
    ("a secret passed on a command line", command_line_secrets),
    ("a secret in a request header", header_secrets),
    ("a secret setting in a connection string", string_setting_secrets),
    ("a webhook or bot URL with its token", secret_url_tokens),
)
