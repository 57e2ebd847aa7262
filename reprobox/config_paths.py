"""Check the paths a config names: files inside the project folder.

data entries and packages.requirements are written relative to the project;
each must stay inside it (a link may not lead out), be a regular file, and
exist. A fault is a ConfigError saying which of these failed and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

from reprobox.errors import ConfigError
from reprobox.paths import is_link_loop


def inside_project(
    path: Path,
    root: Path,
    key: str,
    rel: str,
    must_exist: bool,
    folder: tuple[str, str] = ("name files", "list each file in it"),
) -> str:
    """Check that rel names a path inside root; return it normalised.

    folder: what to say, and the fix, where rel is a folder.
    """
    if "\x00" in rel or Path(rel).is_absolute():
        raise ConfigError(
            path,
            key,
            f"{rel!r} is not a relative path",
            "give a path inside the project folder",
        )
    if is_link_loop(root / rel):
        raise ConfigError(
            path,
            key,
            f"{rel!r} is a symbolic link that loops (it leads back to itself)",
            "point the link at a real file, or fix the path",
        )
    resolved = (root / rel).resolve()
    inside = resolved.is_relative_to(root.resolve())
    # A link that leads to nothing is said to be one, wherever it points: only
    # a path that exists outside the project is "outside".
    if must_exist and not (root / rel).exists() and os.path.lexists(root / rel):
        raise ConfigError(
            path,
            key,
            f"{rel!r} is a link to a missing file",
            "point the link at the file, or fix the path",
        )
    # Only a link can take a path written inside the project out of it.
    written_inside = Path(os.path.normpath(root.resolve() / rel)).is_relative_to(
        root.resolve()
    )
    if must_exist and not inside and written_inside and not resolved.exists():
        raise ConfigError(
            path,
            key,
            f"{rel!r} leads through a link to a missing path ({resolved})",
            "point the link at the file, or fix the path",
        )
    if not inside:
        raise ConfigError(
            path,
            key,
            f"{rel!r} points outside the project folder",
            "move the file into the project folder",
        )
    if must_exist and resolved.is_dir():
        raise ConfigError(path, key, f"{rel!r} is a folder; {folder[0]}", folder[1])
    if must_exist and resolved.exists() and not resolved.is_file():
        raise ConfigError(
            path,
            key,
            f"{rel!r} is not a regular file (a FIFO, socket or device)",
            "name a regular file",
        )
    if must_exist and not resolved.is_file():
        raise ConfigError(
            path, key, f"{rel!r} does not exist", "create it or fix the path"
        )
    return resolved.relative_to(root.resolve()).as_posix()


def checked_data_file(path: Path, root: Path, rel: str) -> str:
    """Check a data entry: a file inside the project, not in reprobox's state."""
    found = inside_project(path, root, "data", rel, must_exist=True)
    if found.split("/", 1)[0] == ".reprobox":
        # Rewritten by freeze (manifest.json) or each run: its fingerprint
        # could never hold, and the folder never goes into the image.
        raise ConfigError(
            path,
            "data",
            f"{rel!r} is inside .reprobox/, which reprobox itself rewrites",
            "move the data file out of .reprobox/",
        )
    return found
