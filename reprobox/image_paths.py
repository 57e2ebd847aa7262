"""Where a script path the command writes goes in the image.

The project's files are copied into /app, the image's workdir, and the
command runs there. The system opens a path part by part: a folder on the way
must be in the image (which holds files, so a folder with none it gets is
not), and at / a ".." stays at /. These follow a path the same way, before a
build, so that freeze refuses what the container could not open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

# The image's workdir, a folder of the root: a path into it names a project file.
_WORKDIR = "app"


class Walk(NamedTuple):
    """Where a path goes from /app (a relative one) or / (an absolute one):
    rel is the project path as written from where it enters /app; project its
    tidied form, None where the path ends outside /app; detour the folder
    outside /app it goes through before it enters it."""

    rel: str = ""
    project: str | None = None
    detour: str = ""


def walk_from_workdir(word: str) -> Walk:
    """Follow word part by part as the system would, from /app or from /.

    Only the parts written: a link on the way is followed by reaches_in_image,
    which sees the project's files. At / a ".." stays at /, and "app" enters
    /app again; any other folder there is one of the base image's.
    """
    parts = word.split("/")
    where = "root" if word.startswith("/") else "app"
    entered = 0 if where == "app" else None  # the part the walk enters /app at
    inside: list[str] = []  # the folders under /app it is in
    depth = 0  # how deep it is in a folder outside /app
    outside = detour = ""
    for n, part in enumerate(parts):
        if part in ("", "."):
            continue
        if where == "app":
            if part != "..":
                inside.append(part)
            elif inside:
                inside.pop()
            else:
                where = "root"
        elif where == "root":
            if part == _WORKDIR:
                where, detour = "app", outside
                entered = n + 1 if entered is None else entered
            elif part != "..":
                where, depth, outside = "outside", 1, outside or f"/{part}"
        elif part == "..":
            depth -= 1
            where = "root" if depth == 0 else where
        else:
            depth += 1
    if where != "app" or entered is None:
        return Walk()
    if detour:
        return Walk(detour=detour)
    rel = "/".join(parts[entered:]).lstrip("/") or "."
    return Walk(rel, "/".join(inside) or ".")


def reaches_in_image(root: Path, written: str, kept: set[str]) -> str | None:
    """Follow written through the image's files as the system would; return
    the project path it ends at, or None where it ends at no file.

    kept holds the project paths that go into the image: files and links
    (links are copied as links, pointing where they resolve). A folder the
    image has no file under (empty, or left out) is not there, so a path
    through it ("sub/../train.py") ends at nothing; a file followed by a
    slash ("train.py/") too. A folder holding __main__.py is a script.
    """
    folders = {""}
    for rel in kept:
        parts = rel.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    queue = written.split("/")
    here: list[str] = []
    hops = 0
    while queue:
        part = queue.pop(0)
        if part in ("", "."):
            if here and "/".join(here) not in folders:
                return None  # "train.py/" or "train.py/.": a file is no folder
            continue
        if part == ".." and not here:
            # /app/.. is /, whose own ".." is / again: the walk comes back into
            # the project only through "app" (../app/train.py).
            while queue and queue[0] in ("", ".", ".."):
                queue.pop(0)
            if not queue or queue.pop(0) != _WORKDIR:
                return None  # out of the project
            continue
        if part == "..":
            if "/".join(here) not in folders:
                return None  # "train.py/.."
            here.pop()
            continue
        path = "/".join([*here, part])
        if path in kept and (root / path).is_symlink():
            hops += 1
            try:
                target = (root / path).resolve().relative_to(root.resolve())
            except (OSError, RuntimeError, ValueError):
                return None
            if hops > 40:
                return None
            here = []
            queue = [p for p in target.as_posix().split("/") if p != "."] + queue
            continue
        if path in folders or path in kept:
            here.append(part)
            continue
        return None
    end = "/".join(here)
    if end in kept:
        return end
    main = f"{end}/__main__.py" if end else "__main__.py"
    return main if end in folders and main in kept else None


def missing_script(root: Path, written: str) -> str | None:
    """Tell what the project has at a script path, written from the project
    folder as the command writes it, if not a script.

    None when the path names a file, or a folder Python can run (one holding
    __main__.py); else "nothing", "a folder", "a broken link", "outside" for a
    path that leads out of the project, or "not as written" for a file the
    words reach only once normalised ("train.py/").
    """
    walk = walk_from_workdir(written)
    if walk.project is None:
        return "outside"
    full = root / walk.project
    # os.path, not Path: Path drops a trailing slash as normpath does. The
    # project folder is not /: ../app/train.py is read from where it comes back.
    as_written = os.path.join(root, _back_in(written))
    if os.path.isfile(as_written) or os.path.isfile(
        os.path.join(as_written, "__main__.py")
    ):
        return None
    if full.is_file() or (full / "__main__.py").is_file():
        return "not as written"
    if full.is_symlink() and not full.exists():
        return "a broken link"
    return "a folder" if full.is_dir() else "nothing"


def _back_in(rel: str) -> str:
    """Return rel with each ".." that leaves the project for / and the "app"
    that comes back from there written as "." (../app/x.py: ./x.py)."""
    parts = rel.split("/")
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(parts):
        part = parts[i]
        i += 1
        if part == ".." and depth == 0:
            while parts[i] in ("", ".", ".."):  # _walk ends it in /app
                i += 1
            i += 1
            part = "."
        elif part not in ("", "."):
            depth += -1 if part == ".." else 1
        out.append(part)
    return "/".join(out)
