"""Hide secret --env values in what the training container prints.

A script seldom prints a token exactly as it was given: a client library
lowercases it, sends it base64-encoded in a Basic auth header after "user:",
hex-dumps it, URL-quotes it, escapes it in JSON, HTML or XML, or prints it as
Python bytes in UTF-8, UTF-16 or UTF-32. Each of those forms is hidden too, by
one case-insensitive regex made once per run.
"""

from __future__ import annotations

import base64
import json
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from reprobox.atomic import free_key
from reprobox.credential_files import secret_parts, secret_value
from reprobox.lock.indexes import secret_pieces

# The shortest part of a secret value (a URL's password, its decoded form, an
# encoded form) hidden on its own: shorter ones are found in ordinary text too
# often. The whole value is hidden from SHORTEST_HIDDEN_VALUE characters.
SHORTEST_HIDDEN_PART = 6
SHORTEST_HIDDEN_VALUE = 4

HIDDEN = "***"


def base64_cores(data: bytes) -> list[str]:
    """Return the base64 text of data that holds whatever bytes come around it.

    Bytes before data shift it into one of three alignments; in each, only the
    characters made of data's bits alone are fixed. Those are what a script
    prints of base64("user:" + token), as an HTTP Basic auth header holds it.
    """
    cores = []
    for shift in range(3):
        text = base64.b64encode(bytes(shift) + data).decode("ascii")
        first = (8 * shift + 5) // 6  # the first character with no shifted bit
        end = 8 * (shift + len(data)) // 6  # past the last one with no later bit
        cores.append(text[first:end])
    return cores


def base32_core(data: bytes) -> str:
    """Return the base32 text of data printed alone, less its last character
    (which mixes in what follows) and the padding.

    Only this alignment: unlike base64, no login format sends base32 after a
    prefix, and each alignment more costs every log search a branch.
    """
    text = base64.b32encode(data).decode("ascii").rstrip("=")
    return text[: 8 * len(data) // 5]


# How HTML and XML escapers write each quote: html.escape (quote=False leaves
# them, as xml.sax.saxutils.escape does), markupsafe and Jinja2, XML's &apos;.
HTML_QUOTES = {'"': ('"', "&quot;", "&#34;"), "'": ("'", "&#x27;", "&#39;", "&apos;")}

# What Python's bytes repr shows of text a script encodes before printing it.
BYTES_CODECS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def html_forms(piece: str) -> set[str]:
    """Return piece escaped for HTML or XML, each quote written as one escaper does."""
    base = piece.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        base.replace('"', double).replace("'", single)
        for double in HTML_QUOTES['"']
        for single in HTML_QUOTES["'"]
    }


def repr_forms(piece: str) -> set[str]:
    """Return what repr and ascii show between the quotes of piece and its bytes.

    A repr quotes with ' and escapes it as \\' when the whole text it shows
    holds both quotes, of which piece may be only a part: each form comes both
    ways. Bytes a container writes raw (UTF-16 or UTF-32, NULs and all, which a
    terminal does not show) reach the log as the UTF-8 text they read as; where
    that text has a character replaced, it could be other bytes, so it is not
    hidden.
    """
    forms = set()
    for show in (repr, ascii):
        forms |= {show(piece)[1:-1], show(piece + '"')[1:-2]}
    for codec in BYTES_CODECS:
        try:
            # Without the NULs that pad its first and last characters: they
            # give nothing away, and a form that began with one would cost
            # every search a branch more.
            data = piece.encode(codec).strip(b"\0")
        except UnicodeEncodeError:  # a lone surrogate, which strict codecs refuse
            continue
        forms |= {repr(data)[2:-1], repr(data + b'"')[2:-2]}
        text = data.decode("utf-8", "replace")
        if "\ufffd" not in text:
            forms.add(text)
    return forms


def encoded_forms(piece: str) -> set[str]:
    """Return piece as a script may print it: itself, quoted, escaped, encoded.

    Case is left alone: the hider matches any case, which also covers a
    lowercased or uppercased token and upper-case hex or percent escapes.
    """
    raw = piece.encode("utf-8", "surrogateescape")
    forms = {
        piece,
        quote(piece, safe=""),
        quote(piece),
        quote_plus(piece),
        json.dumps(piece)[1:-1],
        json.dumps(piece, ensure_ascii=False)[1:-1],
        raw.hex(),
        # bytes.hex(sep) and binascii.hexlify(data, sep): a byte a pair.
        raw.hex(" "),
        raw.hex(":"),
        raw.hex("-"),
    }
    # JSON with its optional escape of / (ujson, PHP, many Java writers) and
    # a CSV field, whose quotes are doubled (csv.writer, spreadsheets).
    forms |= {form.replace("/", "\\/") for form in list(forms) if "/" in form}
    forms.add(piece.replace('"', '""'))
    forms |= html_forms(piece) | repr_forms(piece)
    for core in base64_cores(raw):
        forms |= {core, core.replace("+", "-").replace("/", "_")}
    forms.add(base32_core(raw))
    return forms


def hidden_forms(env: Mapping[str, str]) -> set[str]:
    """Return every text that gives away a secret value of env, lowercased."""
    hidden: set[str] = set()
    for name, value in env.items():
        if not secret_value(name, value):
            continue
        pieces = secret_pieces(value, plain_users=False) + secret_parts(value)
        for piece in dict.fromkeys(pieces):
            if piece == value and len(value) >= SHORTEST_HIDDEN_VALUE:
                hidden.add(value.lower())
            elif len(piece) < SHORTEST_HIDDEN_PART:
                continue
            hidden.update(
                form.lower()
                for form in encoded_forms(piece)
                if len(form) >= SHORTEST_HIDDEN_PART
            )
    return hidden


class _FormFinder:
    """Find hidden forms in a text, in any case, with one compiled regex.

    The regex is a trie of the lowercased forms, run over the lowercased text:
    at each place it tries one branch per first character, where a plain
    alternation would try every form, and a case-insensitive one far slower.
    """

    def __init__(self, forms: Iterable[str]):
        try:
            regex = _trie_regex(forms)
            re.compile(regex)
        except RecursionError:  # forms nested too deep for the regex parser
            ordered = sorted(forms, key=lambda form: (-len(form), form))
            regex = "|".join(map(re.escape, ordered))  # longest first
        self._lowered = re.compile(regex)
        self._any_case = re.compile(regex, re.IGNORECASE)

    def hide(self, text: str) -> tuple[str, int]:
        """Return text up to the end of its last hidden form, hidden; and that end."""
        lowered = text.lower()
        if len(lowered) == len(text):  # the same characters in the same places
            found = self._lowered.finditer(lowered)
        else:  # one lowercases to two ("\u0130"): match the text itself
            found = self._any_case.finditer(text)
        shown: list[str] = []
        done = 0
        for match in found:
            shown += [text[done : match.start()], HIDDEN]
            done = match.end()
        return "".join(shown), done


def _trie_regex(words: Iterable[str]) -> str:
    """Return a regex that matches the longest of words at a place, as a trie."""
    root: dict = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here
    return _node_regex(root)


def _node_regex(node: dict) -> str:
    branches = []
    for char in sorted(key for key in node if key):
        text, child = re.escape(char), node[char]
        while len(child) == 1 and "" not in child:  # no choice and no end: a run
            [(char, child)] = child.items()
            text += re.escape(char)
        branches.append(text + _node_regex(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    # Greedy: where a word ends, a longer one that goes on is tried first.
    return f"(?:{body})?" if "" in node else body


def secret_hider(env: Mapping[str, str]) -> Callable[[str], str]:
    """Return what shows the secret values of env, in any form above, as ***.

    A value is secret when the run's record hides it. Its parts that are
    secret alone go too, as a script that parses one prints them: a URL's
    password or userinfo, in either encoding, and what the shapes that judge
    a value find in it (credential_files.secret_parts): a connection string's
    or JSON's password, a netrc password, a header's token, a key's lines.
    """
    forms = hidden_forms(env)
    if not forms:
        return lambda text: text
    finder = _FormFinder(forms)

    def hide(text: str) -> str:
        shown, done = finder.hide(text)
        return shown + text[done:]

    return hide


def hidden_names(env: Mapping[str, str]) -> set[str]:
    """Return the names of env whose values a record shows as ***: the secret
    ones, and those that hold a secret one, whole or in part, under a name
    that looks harmless (RUN_NOTE=note-X-x beside DB_PASSWORD=X)."""
    hide = secret_hider(env)
    return {
        name
        for name, value in env.items()
        if secret_value(name, value) or hide(value) != value
    }


def without_hidden_names(
    value: Any, hide: Callable[[str], str], path: str = ""
) -> tuple[Any, list[str]]:
    """Return value less each entry whose key hide would change, and the
    paths of those left out (keys shown hidden).

    For what is compared by name (metrics, curves, evaluations): a metric
    named with a secret --env value was kept as "***", and two such names as
    "***" and "*** (2)", so compare matched metrics that had nothing to do
    with each other (brk r46, BN 1). Left out, as a name holding a token is.
    """
    if isinstance(value, list):
        kept_list, found = [], []
        for at, item in enumerate(value):
            inner, paths = without_hidden_names(item, hide, f"{path}[{at}]")
            kept_list.append(inner)
            found += paths
        return kept_list, found
    if not isinstance(value, dict):
        return value, []
    kept: dict = {}
    found: list[str] = []
    for key, item in value.items():
        shown = hide(key) if isinstance(key, str) else key
        here = f"{path}.{shown}" if path else str(shown)
        if shown != key:
            found.append(here)
            continue
        kept[key], paths = without_hidden_names(item, hide, here)
        found += paths
    return kept, found


def hidden_in(value: Any, hide: Callable[[str], str]) -> Any:
    """Return value with hide applied to every string in it, dict keys too.

    What the container wrote (metric names, captured facts, an exception's
    message) reaches the record as data, not as log lines: a script can put a
    secret there as easily as print it. Two keys that hide to the same text
    keep both values, the later one under a numbered key.
    """
    if isinstance(value, str):
        return hide(value)
    if isinstance(value, list):
        return [hidden_in(item, hide) for item in value]
    if isinstance(value, dict):
        out: dict = {}
        for key, item in value.items():
            shown = hide(key) if isinstance(key, str) else key
            out[free_key(out, shown)] = hidden_in(item, hide)
        return out
    return value


class StreamHider:
    """Hide secret values in text that arrives in pieces (a container's stream).

    A value may be cut between two pieces: the end of a piece that could begin
    a hidden form is held back until the next piece shows whether it does.
    """

    def __init__(self, env: Mapping[str, str]):
        forms = hidden_forms(env)
        self._finder = _FormFinder(forms) if forms else None
        self._sorted = sorted(forms)
        self._letters = frozenset("".join(forms))
        self._firsts = frozenset(form[0] for form in forms)
        self._longest = max(map(len, forms), default=0)
        self._held = ""

    def hide(self, text: str) -> str:
        """Return a whole text (not a piece of the stream) with secrets hidden,
        as secret_hider does, from the forms this hider already holds."""
        if self._finder is None:
            return text
        shown, done = self._finder.hide(text)
        return shown + text[done:]

    def feed(self, text: str) -> str:
        """Return text, after what was held back, with secrets hidden; hold its end."""
        if self._finder is None:
            return text
        text = self._held + text
        shown, done = self._finder.hide(text)
        if text[-1:].lower() not in self._letters:  # most often a line's end
            self._held = ""
            return shown + text[done:]
        cut = self._beginning_at_end(text, done)
        self._held = text[cut:]
        return shown + text[done:cut]

    def finish(self) -> str:
        """Return what is still held back, with secrets hidden."""
        held, self._held = self._held, ""
        if self._finder is None:
            return held
        shown, done = self._finder.hide(held)
        return shown + held[done:]

    def _beginning_at_end(self, text: str, start: int) -> int:
        """Return where the end of text that could begin a hidden form starts."""
        first = len(text)
        stop = max(start, len(text) - self._longest + 1)
        while first > stop and text[first - 1].lower() in self._letters:
            first -= 1
        for at in range(first, len(text)):
            if text[at].lower() not in self._firsts:
                continue
            end = text[at:].lower()
            # Sorted, the first form not before end is the one end begins, if any.
            i = bisect_left(self._sorted, end)
            if i < len(self._sorted) and self._sorted[i].startswith(end):
                return at
        return len(text)
