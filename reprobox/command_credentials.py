"""Credentials that a command line written in a file passes to a program.

A script, a README, a Makefile or a notebook's `!` line logs in with the
secret written out: `huggingface-cli login --token X`, `wandb login KEY`,
`docker login -u me -p X`, `mysqldump --password=X`, `curl -u admin:X`, or
sends it in a header named for it, `curl -H "X-API-Key: X"`. The
option or position names the secret; the value must still read as random
(code_assignments.secret_value_for), so `--token $HF_TOKEN`, `--password
<pw>` and `curl -u user:pass` in docs are none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobox.code_assignments import secret_value_for
from reprobox.credential_settings import secret_name
from reprobox.stand_ins import stand_in

# What ends a value written bare on a command line: a blank or the line's
# end; a quote or backtick that closes the string, Markdown code span or RST
# literal holding the command (`wandb login X`, os.system("wandb login X"));
# or what a shell or a call puts after an argument (; , ) |).
_END = r"""(?=[\s"'`;,)|]|\Z)"""
# The characters of such a value: none of those, nor any that no secret is
# judged to hold (code_assignments.random_string: $ { < [ * ? \ and the
# rest), so a value cut there is no secret either way; - _ . / + = : @ are
# a token's own. A quoted value ends at its quote, and is read whole.
_NOT_VALUE = r"""\s"'`;,()|$<>{}\[\]*?\\"""
# A long option and its value, after = or blanks, quoted or not: --token X,
# --api-key=X, --password "X". Not a negated switch (--no-auth). = stands
# only at the value's end, as base64 pads it (--secret id=x,src=y is no
# value). Each pattern starts with a literal, which the regex engine looks
# for fast; that no word runs into it is told after (_starts_word).
_LONG_OPTION = re.compile(
    rf"""--(?!no-)([A-Za-z][\w-]*)(?:=|[ \t]+)(["']?)([^{_NOT_VALUE}=]+=*)\2{_END}"""
)
# A login command's short password option: docker login -u me -p X, and the
# same for podman, helm registry, buildah and skopeo.
_LOGIN_PASSWORD = re.compile(
    rf"""login\b[^\r\n]*?(?<!\S)-p[ \t]+(["']?)([^{_NOT_VALUE}]+)\1{_END}"""
)
# A CLI that takes its key as the argument after login: wandb login KEY,
# huggingface-cli login KEY; options before it may be switches (--relogin).
_LOGIN_ARGUMENT = re.compile(
    r"""(?:wandb|huggingface-cli|hf(?:[ \t]+auth)?)[ \t]+login"""
    rf"""(?:[ \t]+--?[A-Za-z][\w-]*)*[ \t]+(["']?)([A-Za-z0-9_.+/=-]{{20,}})\1{_END}"""
)
# curl's -u/--user user:password, and wget's --user / --password pair.
_USER_PASSWORD = re.compile(
    rf"""-(?:u|-user)[ \t]+(["']?)([^\s:"'`$]+):([^{_NOT_VALUE}]+)\1{_END}"""
)
# A request header that names a key or token, with its value written out:
# curl -H "X-API-Key: X", wget --header="PRIVATE-TOKEN: X", -H apikey:X,
# Markdown's `X-API-Key: X`. A quoted header is read wherever it stands (a
# list of headers in code, a config's string); an unquoted one after -H or
# --header only.
_HEADER = re.compile(
    r"""(["'`])([A-Za-z][\w-]*)[ \t]*:[ \t]*([^\s"'`]+)[ \t]*\1"""
    r"""|(?<!\S)(?:-H|--header)(?:[ \t]+|=)([A-Za-z][\w-]*):[ \t]*"""
    rf"""([^{_NOT_VALUE}]+){_END}"""
)


def header_secrets(text: str) -> Iterator[str]:
    """Yield the secrets that request headers written in text carry.

    The header's name is judged as an option's (X-API-Key, PRIVATE-TOKEN,
    X-Auth-Token, Ocp-Apim-Subscription-Key) and its value must read as
    random; Authorization is read by its own rule (credential_lines).
    """
    if ":" not in text:
        return
    for match in _HEADER.finditer(text):
        name = match.group(2) or match.group(4)
        value = match.group(3) or match.group(5)
        if _written_secret(name, value):
            yield value


def command_line_secrets(text: str) -> Iterator[str]:
    """Yield the secrets that command lines in text pass, as written."""
    for match in _LONG_OPTION.finditer(text):
        name, value = match.group(1), match.group(3)
        if not _starts_word(text, match) or not secret_name(name):
            continue
        if _written_secret(name, value):
            yield value
    for match in _USER_PASSWORD.finditer(text):
        if _starts_word(text, match) and _written_secret("password", match[3]):
            yield match.group(3)
    if "login" not in text:
        return
    for match in _LOGIN_PASSWORD.finditer(text):
        if _starts_word(text, match) and _written_secret("password", match[2]):
            yield match.group(2)
    for match in _LOGIN_ARGUMENT.finditer(text):
        if _starts_word(text, match) and _written_secret("api_key", match[2]):
            yield match.group(2)


def _starts_word(text: str, match: re.Match[str]) -> bool:
    """Tell whether match starts a word: an option, not the end of another.

    At the start of text (a file's first line) nothing comes before it.
    """
    if match.start() == 0:
        return True
    before = text[match.start() - 1]
    return not (before.isalnum() or before in "_-")


def _written_secret(name: str, value: str) -> bool:
    """Tell whether an option's value is a secret written out, not a stand-in."""
    return not stand_in(value) and secret_value_for(name, value)
