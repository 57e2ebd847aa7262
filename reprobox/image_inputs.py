"""Project files that go into the image hold no credential on any line.

Files that are credentials by their shape (a .env, a netrc, a key) are left
out of the image by build.project_files. Any other file that goes in (code, a
notebook, a README, the requirements) is copied byte for byte, so a token or a
URL password written on one of its lines, comment or not, is in every copy of
the image: such a file is refused, naming file and line, never the secret.
Freeze and build run the same check, since files change after freeze.

The requirements file, the files it includes with -r, and pyproject.toml are
also read by reprobox: their lines are held to the stricter shapes of
secret_shapes.credential_line, as pip reads the URLs in them, and their
settings are read as project_metadata reads them. A notebook's cells are read
as code, and the rest of its JSON (metadata, outputs) as a settings file's
members.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from reprobox.config import ProjectConfig
from reprobox.credential_files import text_codec
from reprobox.credential_lines import LINE_BREAK, credential_on_line, secret_field
from reprobox.errors import InputError
from reprobox.lock.requirements_file import PYPROJECT, requirements_files
from reprobox.secret_shapes import credential_line

_CHUNK = 1 << 20
# How many first bytes tell a text file from a binary one.
_PROBE = 8192
# Bytes that text does not hold: controls other than tab, line breaks, form
# feed, backspace and escape (logs keep \r, \b and colour codes), and DEL.
_NOT_TEXT = bytes(set(range(32)) - set(b"\t\n\r\f\b\x1b") | {127})
# A chunk with a NUL is binary when more than this share of it is not text
# (controls, or bytes that are no UTF-8): a stray NUL in a log is none.
_BINARY_SHARE = 0.1
# A line longer than this is read in parts that overlap by more than a token.
_LONG_LINE = 4 << 20
_OVERLAP = 4096
# A JSON string on one line, as a notebook keeps each line of a cell.
_JSON_STRING = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
# A line that is one such string, an item of a cell's source: its comma goes,
# so that the line reads as the code line alone.
_CELL_LINE = re.compile(
    r'(?:^|(?<=[\r\n]))([ \t]*)("(?:[^"\\\r\n]|\\.)*")[ \t]*,[ \t]*(?=[\r\n]|\Z)'
)
# A JSON string, and after it the colon that makes it a member's name, if one
# does: a notebook's own JSON is read string by string, whatever its layout
# (nbformat's one member a line, or json.dump's one line for the whole
# notebook). A cell's lines are strings, never members. The string's
# characters are matched in runs, so that a notebook's megabytes of images
# cost one pass.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"([ \t\r\n]*:[ \t\r\n]*)?')
# A secret is a few KiB at most; a longer string is data, such as an image.
_LONGEST_SECRET = 8192
# A digest written with its algorithm, as nbformat 3 signed a notebook
# ("signature": "sha256:..."): checked against, no secret.
_DIGEST = re.compile(r"(?:sha\d*|md5|blake2[bs]?):[0-9a-f]{32,}", re.I)
# The members that hold a cell's code: nbformat 4's source, nbformat 3's input.
_CELL_SOURCE_NAMES = ("source", "input")


def files_read_by_reprobox(cfg: ProjectConfig) -> list[str]:
    """Return the project files reprobox reads itself, as posix paths under root."""
    root = os.path.abspath(cfg.root)
    paths: list[Path] = []
    if cfg.requirements:
        paths += requirements_files(cfg.root / cfg.requirements, root=cfg.root)
    if (cfg.root / PYPROJECT).is_file():
        paths.append(cfg.root / PYPROJECT)
    found: list[str] = []
    for path in paths:
        # An include may say ../common.txt; the image holds it by its own path.
        rel = os.path.relpath(os.path.normpath(os.path.abspath(path)), root)
        rel = Path(rel).as_posix()
        if not rel.startswith("../") and rel not in found:
            found.append(rel)
    return found


def refuse_written_credentials(cfg: ProjectConfig, image_files: Iterable[str]) -> None:
    """Refuse a file that goes into the image with a credential on some line.

    image_files are the project's files that the image copies (posix paths
    under root, data and .reproboxignore'd files already left out).
    """
    read_by_reprobox = files_read_by_reprobox(cfg)
    files = set(image_files) - set(cfg.data)  # data is mounted, never copied
    # The requirements first, in the order reprobox reads them, then the rest.
    first = [rel for rel in read_by_reprobox if rel in files]
    for rel in first + sorted(files - set(first)):
        found = written_credential(cfg.root / rel, strict=rel in read_by_reprobox)
        if found is not None:
            number, kind = found
            raise InputError(
                f"{cfg.root / rel}:{number}: holds a credential ({kind}), and "
                "this file is copied into the image",
                hint="remove it (pass secrets at run time with reprobox run "
                "--env NAME), or list the file in .reproboxignore",
            )


def written_credential(path: Path, *, strict: bool = False) -> tuple[int, str] | None:
    """Return the line number and kind of the first credential a text file
    writes out, or None; binary files and links are not read.

    A file is text unless its first bytes hold a NUL and are mostly no text
    (_binary); it is read up to a chunk that is binary by that measure, such
    as the tensors after a model file's header.

    The file is read in chunks of whole lines, so a large log costs its
    length in regex passes and no more memory than a chunk.
    """
    try:
        if path.is_symlink() or not path.is_file():
            return None
        with open(path, "rb") as fh:
            head = fh.read(_PROBE)
            codec = text_codec(head) or (None if _binary(head) else "utf-8")
            if codec is None:
                return None
            notebook = _notebook_finding(path, codec)
            decoder = codecs.getincrementaldecoder(codec)(errors="replace")
            first_line, rest, data = 1, "", head
            while data:
                text = rest + decoder.decode(data)
                cut = text.rfind("\n") + 1
                read = text[:cut]
                if not cut and len(text) > _LONG_LINE:
                    # One line of many MiB (minified JSON): read it in parts,
                    # each part's end again with the next, for a token across.
                    cut, read = len(text) - _OVERLAP, text
                found = _credential_in(read, strict, path.name)
                if found is not None:
                    return _earlier((first_line + found[0] - 1, found[1]), notebook)
                first_line += len(LINE_BREAK.findall(text, 0, cut))
                rest, data = text[cut:], fh.read(_CHUNK)
                if codec == "utf-8" and _binary(data):
                    break  # text, then data: a model file's JSON header
            found = _credential_in(
                rest + decoder.decode(b"", final=True), strict, path.name
            )
    except OSError:
        return None  # gone or unreadable: the digest says what is wrong with it
    if found is not None:
        found = first_line + found[0] - 1, found[1]
    return _earlier(found, notebook)


def _binary(data: bytes) -> bool:
    """Tell whether bytes are binary data, not text with a stray NUL in it.

    As git does, only data with a NUL may be binary; it is when many of its
    bytes are not text, as in compiled code, arrays and compressed data.
    """
    if b"\0" not in data:
        return False
    controls = len(data) - len(data.translate(None, _NOT_TEXT))
    not_utf8 = data.decode("utf-8", errors="replace").count("\ufffd")
    return controls + not_utf8 > _BINARY_SHARE * len(data)


def notebook_code(text: str) -> str:
    """Return a notebook's lines with each JSON string on them as it reads.

    A cell's line `"login(key=\\"X\\")\\n",` reads `login(key="X")`, so that
    every rule reads a notebook's code as it reads a .py file's. Lines stay
    where they are: a string's line breaks read as blanks.
    """
    return _JSON_STRING.sub(_json_string_read, _CELL_LINE.sub(r"\1\2", text))


def _json_string_read(match: re.Match[str]) -> str:
    try:
        value = json.loads(match.group())
    except ValueError:
        return match.group()
    return LINE_BREAK.sub(" ", value.removesuffix("\n"))


def notebook_setting_line(text: str) -> int | None:
    """Return the number of the line of a notebook's JSON on which a secret
    name is first given a written value, outside its cells' code; None if
    none is.

    The notebook's metadata (a kernelspec's env, a tool's api_key), a cell's
    and an output's are read as a JSON settings file's members are: each
    member whose value is a string, wherever the JSON's line breaks fall.
    """
    name, value_at = None, -1
    for token in _JSON_TOKEN.finditer(text):
        if name is not None and token.start() == value_at:
            value = _json_text(token.group(), max_length=_LONGEST_SECRET)
            if value is not None and _secret_member(name, value):
                return len(LINE_BREAK.findall(text, 0, token.start())) + 1
        name, value_at = None, -1
        if token.group(1) is not None:  # a member's name: its value comes next
            key = token.group()[: token.start(1) - token.start()]
            name, value_at = _json_text(key), token.end()
    return None


def _json_text(string: str, max_length: int | None = None) -> str | None:
    """Return what a JSON string says, or None if it is too long or no string."""
    if max_length is not None and len(string) > max_length:
        return None
    try:
        value = json.loads(string)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _secret_member(name: str, value: str) -> bool:
    """Tell whether a notebook's JSON member gives a secret name a written value."""
    return secret_field(name, value) and not _DIGEST.fullmatch(value)


def _credential_in(text: str, strict: bool, name: str) -> tuple[int, str] | None:
    # A BOM before the first line is no character of it, for any rule.
    text = text.removeprefix("\ufeff")
    if not text:
        return None
    if name.lower().endswith(".ipynb"):
        text = notebook_code(text)
    if strict and (number := credential_line(text)) is not None:
        line = text.splitlines()[number - 1] if number <= len(text.splitlines()) else ""
        if "PRIVATE KEY" in line.upper():  # named as what it is (brk r46, BM F5)
            return number, "a private key"
        return number, "a token, or a password or token in a URL"
    return credential_on_line(text, name, metadata=strict)


def notebook_cell_lines(text: str) -> list[tuple[int, str]]:
    """Return each line of a notebook's cells as the cell holds it, with the
    offset in text of the string it starts in.

    A cell's source is one string or a list of strings that join into one,
    whatever the JSON's layout: a cell saved as "%env A=X\\nimport a", or on
    the one line of a notebook that json.dump wrote, still holds the line
    %env A=X, read as it is in a notebook saved a line a string.
    """
    lines: list[tuple[int, str]] = []
    for source in _cell_sources(text):
        line, start = "", None
        for at, value in source:
            parts = LINE_BREAK.split(value)
            for index, part in enumerate(parts):
                if start is None and part:
                    start = at
                line += part
                if index < len(parts) - 1:  # a line break ends the line
                    lines.append((at if start is None else start, line))
                    line, start = "", None
        if line:
            lines.append((at if start is None else start, line))
    return lines


def _cell_sources(text: str) -> Iterator[list[tuple[int, str]]]:
    """Yield the strings of each cell's source in a notebook's JSON (nbformat
    4's "source", 3's "input"), each with the offset it is written at."""
    source: list[tuple[int, str]] | None = None  # the strings of the one read
    in_list, end = False, 0
    for token in _JSON_TOKEN.finditer(text):
        gap, end = text[end : token.start()].strip(), token.end()
        if source is not None and token.group(1) is None:
            # The source's value: one string right after its name, or the
            # strings of a list, the first after "[" and each next after ",".
            first = not source and not in_list
            if (first and gap in ("", "[")) or (in_list and gap == ","):
                value = _json_text(token.group())
                if value is not None:
                    source.append((token.start(), value))
                in_list = in_list or gap == "["
                if in_list:
                    continue
        if source:
            yield source
        source, in_list = None, False
        if token.group(1) is not None:  # a member's name: is it a cell's source?
            key = _json_text(token.group()[: token.start(1) - token.start()])
            if key in _CELL_SOURCE_NAMES:
                source = []
    if source:
        yield source


def _notebook_finding(path: Path, codec: str) -> tuple[int, str] | None:
    """Return the line and kind of the first credential a notebook's cells or
    its own JSON write out, or None; read whole, as Jupyter reads a notebook,
    so that a notebook saved on one line is read as one saved a member a line.

    Its cells' lines are read as code lines; its own JSON's members (metadata,
    outputs) as a settings file's.
    """
    if not path.name.lower().endswith(".ipynb"):
        return None
    text = path.read_bytes().decode(codec, errors="replace").removeprefix("\ufeff")
    cells = notebook_cell_lines(text)
    code = credential_on_line("\n".join(line for _, line in cells), path.name)
    if code is not None:  # on the notebook's line that the cell's line starts on
        offset = cells[code[0] - 1][0]
        code = len(LINE_BREAK.findall(text, 0, offset)) + 1, code[1]
    number = notebook_setting_line(text)
    if number is not None:
        setting = number, "a secret setting in the notebook's metadata or output"
        return _earlier(code, setting)
    return code


def _earlier(*found: tuple[int, str] | None) -> tuple[int, str] | None:
    """Return the finding on the earliest line, the first given on a tie, or
    None if there is none."""
    return min((x for x in found if x is not None), key=lambda x: x[0], default=None)
