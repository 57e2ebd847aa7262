"""Write files so that a reader sees the old content or the new, never half."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from reprobox.errors import InputError


def check_regular_target(path: Path) -> None:
    """Refuse to replace something that is not a regular file (/dev/null, a dir)."""
    if path.exists() and not path.is_file() or path.is_symlink() and path.is_dir():
        raise InputError(
            f"{path} is not a regular file; reprobox will not replace it",
            hint="give the path of a file to write",
        )
    if not path.parent.is_dir():
        raise InputError(
            f"{path}: folder {path.parent} does not exist",
            hint="create it first, or write somewhere else",
        )


# Files reprobox writes into a project's .reprobox/ folder and its run folders:
# an output flag must never replace one of them.
_STATE_FILES = frozenset(
    {
        "manifest.json",
        "requirements.lock",
        "requirements-vcs.txt",
        "Dockerfile",
        "record.json",
        "capture.json",
        "metrics.json",
        "container.log",
    }
)


def check_output_target(
    path: Path, flag: str, inputs: list[Path] | tuple[Path, ...] = ()
) -> None:
    """Refuse an output path that names one of the inputs or a reprobox file."""
    check_regular_target(path)
    target = path.resolve()
    for given in inputs:
        if given.is_file() and given.resolve() == target:
            raise InputError(
                f"{flag} {path} is one of the inputs; writing it would destroy it",
                hint="write the output to another file",
            )
    if target.name in _STATE_FILES and ".reprobox" in target.parts:
        raise InputError(
            f"{flag} {path} is a file reprobox keeps in .reprobox/; writing it "
            "would destroy it",
            hint="write the output outside .reprobox/, or under another name",
        )


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Write data to path through a temp file in the same folder and a rename."""
    path = Path(path)
    if path.exists() and not path.is_file():
        check_regular_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_files(files: list[tuple[Path, str]], mode: int = 0o644) -> None:
    """Write several files so that either all are replaced or none is.

    Every file is written in full to a temp file first; only when all of them
    are on disk are they renamed into place, in the order given.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
            )
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)


def atomic_write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> None:
    """Write text (UTF-8, as given) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def json_safe(data: Any) -> Any:
    """Return data with NaN and infinities as strings, which strict JSON allows."""
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    return data


def dump_json(data: Any) -> str:
    """Serialise data the one stable way reprobox uses: sorted keys, 2-space indent.

    A diverged run has NaN losses; they are written as "NaN" strings, since
    bare NaN is not JSON and strict readers (jq, browsers) refuse it.
    """
    return (
        json.dumps(
            json_safe(data),
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
            allow_nan=False,
        )
        + "\n"
    )


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    """Write data as stable JSON atomically."""
    atomic_write_text(path, dump_json(data))
