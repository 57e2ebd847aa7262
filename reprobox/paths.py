"""Follow a path's links, refusing one that loops instead of failing deep inside."""

from __future__ import annotations

import errno
from pathlib import Path

from reprobox.errors import InputError


def resolve_path(path: Path, shown: str | None = None, hint: str | None = None) -> Path:
    """Return path with its links followed; a loop of links is one input error.

    pathlib raises RuntimeError (Python 3.11, 3.12) or OSError ELOOP on a link
    that leads back to itself, which would otherwise end in a traceback.
    """
    try:
        return path.resolve()
    except RuntimeError:
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise InputError(
                f"{shown or path}: cannot follow its links: {exc.strerror}",
                hint=hint or "fix the path",
            ) from None
    raise InputError(
        f"{shown or path}: symbolic link loops (it leads back to itself)",
        hint=hint or "point the link at a real file, or remove it",
    )


def is_link_loop(path: Path) -> bool:
    """Tell whether following the links of path, or of a folder on it, never ends."""
    try:
        path.resolve()
    except RuntimeError:
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False
