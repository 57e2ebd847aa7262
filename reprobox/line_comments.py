"""Where a line's comments start, as each kind of file writes them.

A setting written in a comment (`# password=X`) is as much in the image at the
end of a line (`six==1.16.0  # password=X`) as on a line of its own, so the
credential rules read each comment of a line as its own line would be read.
What opens a comment depends on the file: pip ends a requirement at a `#`
after a blank, quotes or not; INI files also take `;`; code skips a `#` or
`//` inside a quoted string (`"a#b"`); a `#` joined to the word before it is
a URL's fragment or a hash's (`https://x/y#frag`, `--hash=sha256:...`), not
a comment, except in Python and TOML, where a `#` after a sign opens one
(`f(x)#note`). At a line's start `#`, `;` and `//` open a comment in any
file, as the settings rules have always read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CommentSyntax:
    """What opens a comment after a line's start, and whether strings hide it."""

    marks: str  # a regex of the marks after the line's start
    strings: bool  # a mark inside a quoted string opens no comment


# A mark joined to the word before it opens no comment: only one at the
# line's start or after a blank.
_AFTER_BLANK = r"(?<!\S)"
REQUIREMENTS = CommentSyntax(rf"{_AFTER_BLANK}#", strings=False)
INI = CommentSyntax(rf"{_AFTER_BLANK}[#;]", strings=False)
# Python and TOML: a # outside a string, unless joined to a word, a dot or a
# slash before it: a URL's fragment in a docstring (http://x/cb#token=...).
PYTHON = CommentSyntax(r"(?<![\w./])#", strings=True)
# Shell, YAML, make: a # after a blank (echo a#b prints a#b).
HASH = CommentSyntax(rf"{_AFTER_BLANK}#", strings=True)
# C, JavaScript, Go, Rust...: any // outside a string but a URL's (http://).
SLASHES = CommentSyntax(r"(?<!:)//", strings=True)
# Terraform and PHP have both.
HASH_AND_SLASHES = CommentSyntax(rf"{_AFTER_BLANK}#|(?<!:)//", strings=True)
# Settings files (dotenv, INI, YAML, TOML) as the settings rules read them.
SETTINGS = CommentSyntax(rf"{_AFTER_BLANK}[#;]", strings=True)
# Prose and files of no known kind are read for both after a blank, their
# quotes taken as apostrophes (don't # ...), not strings.
TEXT = CommentSyntax(rf"{_AFTER_BLANK}(?:#|//)", strings=False)

_PYTHON_SUFFIXES = (".py", ".pyi", ".pyx", ".ipynb", ".toml")
_INI_SUFFIXES = (".cfg", ".ini", ".flake8", ".pylintrc", ".editorconfig")
_HASH_SUFFIXES = (".sh", ".bash", ".zsh", ".r", ".jl", ".yaml", ".yml", ".ps1")
_HASH_SUFFIXES += (".mk", ".mak", ".env", ".properties", ".conf", ".dockerfile")
_HASH_NAMES = ("makefile", "gnumakefile", "dockerfile", "containerfile", "justfile")
_SLASHES_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".java", ".go")
_SLASHES_SUFFIXES += (".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".kt")
_SLASHES_SUFFIXES += (".scala", ".swift", ".jsonc", ".json5", ".proto", ".dart")
_HASH_AND_SLASHES_SUFFIXES = (".tf", ".tfvars", ".hcl", ".php")
# A comment's own marks and blanks, stripped from its start.
_LEADING_MARKS = "#;/ \t"
# Marks that open a comment at a line's start, in any file.
_LINE_START = re.compile(r"[ \t]*(?:#|;|//)")
# A quoted string on one line, backslash escapes kept within it.
_STRING = r"""(['"`])(?:\\.|(?!\1)[^\\\r\n])*\1"""


def comment_syntax(name: str, requirements: bool = False) -> CommentSyntax:
    """Return how a file of this name writes comments; requirements says it is
    a requirements file, whatever its name (one another includes with -r)."""
    lower = name.lower().rsplit("/", 1)[-1]
    if requirements:
        return REQUIREMENTS
    if lower == "setup.cfg" or lower.endswith(_INI_SUFFIXES):
        return INI
    if lower.endswith(_PYTHON_SUFFIXES):
        return PYTHON
    if lower.endswith(_HASH_SUFFIXES) or lower.startswith(_HASH_NAMES):
        return HASH
    if lower.endswith(_SLASHES_SUFFIXES):
        return SLASHES
    if lower.endswith(_HASH_AND_SLASHES_SUFFIXES):
        return HASH_AND_SLASHES
    return TEXT


def line_comments(line: str, syntax: CommentSyntax) -> list[str]:
    """Return what follows each comment mark on line, its marks and blanks
    stripped: each is read as a comment on a line of its own would be.

    Every mark is taken, not only the first, so that `# note # password=X`
    reads `password=X` too.
    """
    start = _LINE_START.match(line)
    if start is None:
        start = _first_mark(line, syntax)
    if start is None:
        return []
    # Within a comment no string hides a mark, and a mark joined to the word
    # before it is a URL's fragment (# see https://x#frag): a blank first.
    comments = [line[start.end() :]]
    for mark in _pattern(syntax, in_comment=True).finditer(line, start.end()):
        comments.append(line[mark.end() :])
    comments = [comment.lstrip(_LEADING_MARKS).rstrip() for comment in comments]
    return [comment for comment in comments if comment]


def _first_mark(line: str, syntax: CommentSyntax) -> re.Match[str] | None:
    """Return the mark that opens line's comment after its start, if any."""
    for match in _pattern(syntax, in_comment=False).finditer(line):
        if match.group(1) is None:  # a mark, not a string
            return match
    return None


_PATTERNS: dict[tuple[CommentSyntax, bool], re.Pattern[str]] = {}


def _pattern(syntax: CommentSyntax, in_comment: bool) -> re.Pattern[str]:
    key = syntax, in_comment
    if key not in _PATTERNS:
        if in_comment:
            _PATTERNS[key] = re.compile(rf"(?<!\S)(?:{syntax.marks})")
        else:
            strings = _STRING if syntax.strings else "(?!)()"
            _PATTERNS[key] = re.compile(rf"{strings}|(?:{syntax.marks})")
    return _PATTERNS[key]
