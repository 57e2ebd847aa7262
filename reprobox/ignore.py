"""gitignore-style patterns for .reproboxignore: which project paths stay out.

A line is read as git reads a .gitignore line: `#` comments, `!` puts a path
back in (the last matching line decides), a trailing `/` matches folders only,
a `/` before the end anchors the pattern at the project root, otherwise it
matches a name at any depth; `*`, `?` and `[...]` never cross a `/`, `**/`
matches zero or more folders and a trailing `/**` everything inside.

Matching never backtracks: a pattern becomes a list of tokens, and the set of
path positions the tokens so far can reach is carried along as the bits of one
int, so a line costs O(len(pattern) x len(path)) whatever stars it holds.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache


class PatternError(re.error):
    """A line that is not a pattern, as "[z-a]"; a re.error, as it used to be."""


# The [:name:] sets git knows, ASCII only, as git's own ctype has them.
_NAMED_SETS = {
    "alnum": string.ascii_letters + string.digits,
    "alpha": string.ascii_letters,
    "blank": " \t",
    "cntrl": "".join(map(chr, range(32))) + "\x7f",
    "digit": string.digits,
    "graph": "".join(map(chr, range(33, 127))),
    "lower": string.ascii_lowercase,
    "print": "".join(map(chr, range(32, 127))),
    "punct": string.punctuation,
    "space": " \t\n\r",
    "upper": string.ascii_uppercase,
    "xdigit": string.hexdigits,
}


@dataclass(frozen=True)
class CharClass:
    """A "[...]" set: single characters and ranges, maybe negated."""

    negated: bool
    chars: frozenset[str]
    ranges: tuple[tuple[str, str], ...]

    def __contains__(self, ch: str) -> bool:
        found = ch in self.chars or any(lo <= ch <= hi for lo, hi in self.ranges)
        return found != self.negated


LITERAL = "literal"  # one given character
ONE = "one"  # "?": any one character but "/"
CLASS = "class"  # "[...]": one character of a set, never "/"
STAR = "star"  # "*": any run of characters without "/"
ANYTHING = "anything"  # "**" alone or after a final "/": any run at all
FOLDERS = "folders"  # "**/": zero or more whole folders
_NO_CLASS = CharClass(False, frozenset(), ())


@dataclass(frozen=True)
class Token:
    """One step of a compiled glob."""

    kind: str
    char: str = ""  # the character a LITERAL stands for
    members: CharClass = _NO_CLASS  # the set a CLASS stands for


@dataclass(frozen=True)
class IgnoreRule:
    """One line of .reproboxignore: a compiled glob, and how it applies."""

    tokens: tuple[Token, ...]
    negated: bool  # "!pattern": a match puts the path back in
    dir_only: bool  # "pattern/": only folders match
    anchored: bool  # a "/" before the end: matched against the whole path

    def matches(self, rel: str) -> bool:
        """Tell whether the posix path rel, from the project root, matches."""
        return glob_matches(self.tokens, rel if self.anchored else _name(rel))


def ignore_lines(text: str) -> list[str]:
    """Split an ignore file's text into lines, less a byte-order mark and CRs."""
    text = text.removeprefix("\ufeff")  # editors on Windows like to add one
    return [line.removesuffix("\r") for line in text.split("\n")]


def parse_rule(line: str) -> IgnoreRule | None:
    """Read one .reproboxignore line the way git reads a .gitignore line."""
    if line.startswith("#"):
        return None
    glob = _trim_trailing_spaces(line)  # leading spaces are part of a name
    negated = glob.startswith("!")
    if negated:  # "\!" and "\#" stay escapes, read by the tokenizer
        glob = glob[1:]
    dir_only = glob.endswith("/")
    if dir_only:
        glob = glob[:-1]
    anchored = "/" in glob  # a slash before the end ties it to the root
    glob = glob.removeprefix("/")
    if not glob:
        return None
    return IgnoreRule(tokenize(glob), negated, dir_only, anchored)


def _trim_trailing_spaces(line: str) -> str:
    """Drop trailing spaces, except one escaped with a backslash ("a\\ ")."""
    kept = line.rstrip(" ")
    backslashes = len(kept) - len(kept.rstrip("\\"))
    if kept != line and backslashes % 2:  # an odd run escapes the first space
        return line[: len(kept) + 1]
    return kept


def tokenize(glob: str) -> tuple[Token, ...]:
    """Turn a glob into tokens; raise PatternError where it cannot be read."""
    tokens: list[Token] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            end = i
            while end < n and glob[end] == "*":
                end += 1
            tokens.append(_stars(glob, i, end))
            if tokens[-1].kind == FOLDERS:
                end += 1  # the "/" is part of the token
            i = end
            continue
        if c == "?":
            tokens.append(Token(ONE))
        elif c == "[":
            cls, i = _char_class(glob, i)
            tokens.append(Token(CLASS, members=cls))
        elif c == "\\":
            if i + 1 == n:
                raise PatternError("ends in a lone backslash", glob, i)
            i += 1
            tokens.append(Token(LITERAL, glob[i]))
        else:
            tokens.append(Token(LITERAL, c))
        i += 1
    return tuple(tokens)


def _stars(glob: str, start: int, end: int) -> Token:
    """Read the run of "*" in glob[start:end]: only a whole "**" crosses "/"."""
    whole = (start == 0 or glob[start - 1] == "/") and (
        end == len(glob) or glob[end] == "/" or glob.startswith("\\/", end)
    )
    if end - start < 2 or not whole:  # "**" inside a name is a plain "*"
        return Token(STAR)
    if end < len(glob) and glob[end] == "/":
        return Token(FOLDERS)
    return Token(ANYTHING)


def _char_class(glob: str, start: int) -> tuple[CharClass, int]:
    """Read the "[...]" at glob[start]; return it and the index of its "]"."""
    i = start + 1
    negated = glob[i : i + 1] in ("!", "^")
    if negated:
        i += 1
    chars: set[str] = set()
    ranges: list[tuple[str, str]] = []
    previous = ""  # the last single character read: where a range starts
    first = True
    while True:
        if i >= len(glob):
            raise PatternError("no closing ]", glob, start)
        c = glob[i]
        if c == "]" and not first:  # a "]" first is a member, as in "[]a]"
            return CharClass(negated, frozenset(chars), tuple(ranges)), i
        first = False
        if c == "\\":
            c, i = _escaped(glob, i, start)
            chars.add(c)
            previous = c
        elif c == "-" and previous and glob[i + 1 : i + 2] not in ("", "]"):
            i += 1
            hi = glob[i]
            if hi == "\\":
                hi, i = _escaped(glob, i, start)
            if hi < previous:
                raise PatternError(f"bad character range {previous}-{hi}", glob, i)
            ranges.append((previous, hi))
            previous = ""  # "[a-c-e]": the second "-" is a plain character
        elif c == "[" and (close := _named_set_end(glob, i)) > 0:
            name = glob[i + 2 : close - 1]
            if name not in _NAMED_SETS:
                raise PatternError(f"unknown character class [:{name}:]", glob, i)
            chars.update(_NAMED_SETS[name])
            previous = ""
            i = close
        else:
            chars.add(c)
            previous = c
        i += 1


def _escaped(glob: str, i: int, start: int) -> tuple[str, int]:
    """Return the character a backslash at glob[i] escapes, and its index."""
    if i + 1 >= len(glob):
        raise PatternError("no closing ]", glob, start)
    return glob[i + 1], i + 1


def _named_set_end(glob: str, i: int) -> int:
    """Return the index of the "]" ending "[:name:]" at glob[i], or -1."""
    if not glob.startswith(":", i + 1):
        return -1
    close = glob.find("]", i + 2)
    if close < 0:
        raise PatternError("no closing ]", glob, i)
    # As in git, "[:" without ":]" before the next "]" is a plain "[".
    return close if close - 1 >= i + 2 and glob[close - 1] == ":" else -1


def glob_matches(tokens: tuple[Token, ...], text: str) -> bool:
    """Tell whether tokens match all of text, in one pass over the tokens."""
    where, plain, slashes = _positions(text)
    # Bit i of reach: the tokens so far can match text[:i].
    reach = 1
    for token in tokens:
        kind = token.kind
        if kind == LITERAL:
            reach = (reach & where.get(token.char, 0)) << 1
        elif kind == ONE:
            reach = (reach & plain) << 1
        elif kind == CLASS:
            cls = token.members
            members = sum(b for ch, b in where.items() if ch in cls and ch != "/")
            reach = (reach & members) << 1
        elif kind == STAR:
            # Adding a bit to a run of non-"/" bits carries it to the run's
            # end: XOR then leaves every position from that bit to the "/".
            reach = ((plain + (reach & plain)) ^ plain) | reach
        else:
            low = reach & -reach  # the earliest position reached
            if kind == ANYTHING:
                reach = ~(low - 1) & ((1 << (len(text) + 1)) - 1)
            else:  # FOLDERS: also just past any "/" from there on
                reach |= (slashes & ~(low - 1)) << 1
        if not reach:
            return False
    return bool(reach >> len(text) & 1)


@lru_cache(maxsize=4096)
def _positions(text: str) -> tuple[dict[str, int], int, int]:
    """Return where each character of text is, and where "/" is not and is."""
    where: dict[str, int] = {}
    for i, ch in enumerate(text):
        where[ch] = where.get(ch, 0) | 1 << i
    slashes = where.get("/", 0)
    return where, ((1 << len(text)) - 1) & ~slashes, slashes


def _name(rel: str) -> str:
    return rel.rpartition("/")[2]
