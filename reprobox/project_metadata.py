"""The files that describe the project: pyproject.toml, setup.cfg, the
requirements and a README.

pip, the build backend and the training code read them in the image (`pip
install .`, a version read from setup.cfg), so they go in whatever they hold:
they are never left out as credential files by their text, though their
settings read like a .env's (`google-auth = "^2.0"` under a poetry
dependencies table names a secret's word). A credential on one of their lines
is refused at freeze and build instead (image_inputs); a setting among those
lines, commented out or not, quoted or not, is judged as code's assignment
is: a secret's name and a random value (code_assignments.secret_value_for).
A comment at a line's end is read as the same comment on a line of its own
(`six==1.16.0  # password=X`), in these files and in every other text file
that goes into the image (line_comments).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobox.code_assignments import SECRET_WORD, secret_value_for
from reprobox.line_comments import CommentSyntax, line_comments

# Project metadata that pip or a build backend reads, by name.
_METADATA_NAMES = frozenset(("pyproject.toml", "setup.cfg"))
# Requirements and constraints files, as projects name them: requirements.txt,
# requirements-dev.txt, requirements_gpu.in, constraints.txt.
_REQUIREMENTS_NAME = re.compile(r"(?:requirements|constraints)([\w.-]*)\.(?:txt|in)")
# One setting on a line of INI or TOML, or in a comment (line_comments gives
# a comment's text without its mark): name = value or name: value, the value
# one word, quoted or not, a comment after it. A requirement (six==1.17,
# attrs>=23) compares: its = stands beside another =, <, > or !.
_SETTING_LINE = re.compile(
    r"""[ \t]*(["']?)([A-Za-z_][\w.-]*)\1[ \t]*"""
    r"""(?<![=<>!~])[=:](?![=:])[ \t]*(["']?)([^\s"'#;,]+)\3[ \t]*,?"""
    r"""(?:[ \t]+[#;].*)?"""
)
_LINE = re.compile(r"[^\r\n]+")
_LINE_END = re.compile(r"[\r\n]")
# What a secret setting needs on a line: a name with a secret's word, then
# = or :. One pass over the text in lower case finds the few lines that have
# it, ten times faster than a case-blind regex (which reads text whose length
# lower() changes, such as a dotted capital I).
_SECRET_SETTING_HINT = re.compile(
    rf"""(?:{SECRET_WORD.pattern})[\w.-]*["']?[ \t]*[=:]"""
)
_CASE_BLIND_HINT = re.compile(_SECRET_SETTING_HINT.pattern, re.I)


def metadata_file_name(name: str) -> bool:
    """Tell whether a file's name makes it the project's own metadata."""
    lower = name.lower()
    return (
        lower in _METADATA_NAMES
        or lower.startswith("readme")
        or requirements_file_name(lower)
    )


def requirements_file_name(name: str) -> bool:
    """Tell whether a file's name makes it a requirements or constraints file."""
    return _REQUIREMENTS_NAME.fullmatch(name.lower()) is not None


def metadata_setting_secrets(text: str, syntax: CommentSyntax) -> Iterator[str]:
    """Yield the random values that settings on text's lines, or in their
    comments, give secret names; syntax says how the file writes comments.

    `api_key = Kq8v...` in setup.cfg, `# password: Kq8v...` in a requirements
    comment, `six  # token=Kq8v...`, `token = "..."` in pyproject.toml. A
    name that names no secret, or a value that reads as a word, version,
    module or path, is none.
    """
    for line in _LINE.finditer(text):
        yield from _setting_secret(line.group())
        for comment in line_comments(line.group(), syntax):
            yield from _setting_secret(comment)


def comment_setting_secrets(text: str, syntax: CommentSyntax) -> Iterator[str]:
    """Yield the random values that settings in text's comments give secret
    names, read as metadata_setting_secrets reads a requirements comment:
    `# password=Kq8v...` or `x = 1  # token: Kq8v...` in code or docs."""
    lower = text.lower()
    if len(lower) == len(text):
        hints = _SECRET_SETTING_HINT.finditer(lower)
    else:
        hints = _CASE_BLIND_HINT.finditer(text)
    end = -1
    for hint in hints:
        if hint.start() < end:
            continue  # on a line already read
        at = hint.start()
        start = max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1
        cut = _LINE_END.search(text, hint.end())
        end = cut.start() if cut else len(text)
        for comment in line_comments(text[start:end], syntax):
            yield from _setting_secret(comment)


def _setting_secret(text: str) -> Iterator[str]:
    """Yield the value text sets, if text is one setting of a secret's name
    to a random value."""
    setting = _SETTING_LINE.fullmatch(text)
    if setting is not None and secret_value_for(*setting.group(2, 4)):
        yield setting.group(4)
