"""Where each kind of file opens a comment on a line."""

from __future__ import annotations

import pytest

from reprobox.line_comments import (
    HASH,
    INI,
    PYTHON,
    REQUIREMENTS,
    SETTINGS,
    SLASHES,
    TEXT,
    comment_syntax,
    line_comments,
)


@pytest.mark.parametrize(
    ("name", "requirements", "syntax"),
    [
        ("requirements.txt", True, REQUIREMENTS),
        ("other.txt", True, REQUIREMENTS),
        ("setup.cfg", False, INI),
        ("tox.ini", False, INI),
        ("train.py", False, PYTHON),
        ("pyproject.toml", False, PYTHON),
        ("run.sh", False, HASH),
        ("Makefile", False, HASH),
        ("Dockerfile.gpu", False, HASH),
        ("config.YAML", False, HASH),
        ("app.ts", False, SLASHES),
        ("README.md", False, TEXT),
        ("notes", False, TEXT),
    ],
)
def test_a_files_name_tells_its_comment_syntax(name, requirements, syntax):
    assert comment_syntax(name, requirements=requirements) == syntax


@pytest.mark.parametrize(
    ("line", "syntax", "comments"),
    [
        ("# password=x", REQUIREMENTS, ["password=x"]),
        ("six  # password=x", REQUIREMENTS, ["password=x"]),
        ("; password=x", REQUIREMENTS, ["password=x"]),
        ("// password=x", PYTHON, ["password=x"]),
        ("six # a # b", REQUIREMENTS, ["a # b", "b"]),
        # pip: a # after a blank opens a comment, in quotes or not; joined to
        # a word it is a URL's fragment or part of a hash.
        ('six ; python_version>"3" # p=x', REQUIREMENTS, ["p=x"]),
        ('six ; extra == "a #b"', REQUIREMENTS, ['b"']),
        ("six @ https://x/y#egg=six", REQUIREMENTS, []),
        ("six --hash=sha256:ab#c", REQUIREMENTS, []),
        ("six ; python_version > '3'", REQUIREMENTS, []),
        ("name = x ; p=x", INI, ["p=x"]),
        ("name = x;y", INI, []),
        # Code: a mark in a string is none; in a comment, a URL's fragment
        # is no second comment.
        ('x = "a#b"', PYTHON, []),
        ('x = "a # b"', PYTHON, []),
        ('x = "a"  # p=x', PYTHON, ["p=x"]),
        ("f(x)#p=x", PYTHON, ["p=x"]),
        ("x = y.z#p", PYTHON, []),
        ("# see https://x/cb#token=y", PYTHON, ["see https://x/cb#token=y"]),
        ("echo a#b", HASH, []),
        ("echo 'a # b' # p=x", HASH, ["p=x"]),
        ("let u = 'http://x'; // p=x", SLASHES, ["p=x"]),
        ("let u = http://x", SLASHES, []),
        ('a: "b # c"  # p=x', SETTINGS, ["p=x"]),
        # Prose: quotes are apostrophes, no strings.
        ("don't # p=x", TEXT, ["p=x"]),
        ("see https://x#p=x", TEXT, []),
    ],
)
def test_line_comments_reads_each_comment_without_its_mark(line, syntax, comments):
    assert line_comments(line, syntax) == comments
