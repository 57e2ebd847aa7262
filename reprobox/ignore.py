"""gitignore-style patterns for .reproboxignore: which project paths stay out.

A line is read as git reads a .gitignore line: `#` comments, `!` puts a path
back in (the last matching line decides), a trailing `/` matches folders only,
a `/` before the end anchors the pattern at the project root, otherwise it
matches a name at any depth; `*`, `?` and `[...]` never cross a `/`, `**/`
matches zero or more folders and a trailing `/**` everything inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class IgnoreRule:
    """One line of .reproboxignore: a path regex, and how it applies."""

    regex: re.Pattern[str]
    negated: bool  # "!pattern": a match puts the path back in
    dir_only: bool  # "pattern/": only folders match


def parse_rule(line: str) -> IgnoreRule | None:
    """Read one .reproboxignore line the way git reads a .gitignore line."""
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    glob = line[1:] if negated else line  # "\!" and "\#" stay escapes
    dir_only = glob.endswith("/")
    glob = glob.rstrip("/")
    anchored = "/" in glob  # a slash before the end ties it to the root
    glob = glob.lstrip("/")
    if not glob:
        return None
    body = _glob_regex(glob)
    regex = body if anchored else "(?:.*/)?" + body
    return IgnoreRule(re.compile(regex, re.DOTALL), negated, dir_only)


def _glob_regex(glob: str) -> str:
    """Translate a glob to a regex where only "**" crosses a "/"."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**", i) and (i == 0 or glob[i - 1] == "/"):
            if i + 2 == n:  # "**" or "dir/**": everything (inside)
                out.append(".*")
                i += 2
                continue
            if glob[i + 2] == "/":  # "**/": zero or more folders
                out.append("(?:.*/)?")
                i += 3
                continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        elif c == "[" and (end := _class_end(glob, i)) > 0:
            out.append(_class_regex(glob[i + 1 : end]))
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_end(glob: str, start: int) -> int:
    """Return the index of the "]" closing the class at start, or -1."""
    i = start + 1
    if i < len(glob) and glob[i] in "!^":
        i += 1
    if i < len(glob) and glob[i] == "]":  # a "]" first is a member
        i += 1
    while i < len(glob):
        if glob[i] == "\\":
            i += 2
            continue
        if glob[i] == "]":
            return i
        i += 1
    return -1  # no closing "]": the "[" is literal


def _class_regex(inner: str) -> str:
    negated = inner[:1] in ("!", "^")
    if negated:
        inner = inner[1:]
    members: list[str] = []
    i = 0
    while i < len(inner):
        c = inner[i]
        if c == "\\" and i + 1 < len(inner):
            i += 1
            members.append(re.escape(inner[i]))
        elif c == "-" and 0 < i < len(inner) - 1:
            members.append("-")  # a range, as in "[a-z]"
        else:
            members.append(re.escape(c))
        i += 1
    # Like "*" and "?", a class never matches the "/" between folders.
    return "(?!/)[" + ("^" if negated else "") + "".join(members) + "]"
