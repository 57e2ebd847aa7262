"""Write files so that a reader sees the old content or the new, never half."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reprobox.errors import InputError
from reprobox.marker_files import odd_entry_error, refuse_odd_entry
from reprobox.stopping import signals_held


def check_regular_target(path: Path) -> None:
    """Refuse to replace something that is not a regular file (/dev/null, a dir)."""
    if path.exists() and not path.is_file() or path.is_symlink() and path.is_dir():
        raise InputError(
            f"{path} is not a regular file; reprobox will not replace it",
            hint="give the path of a file to write",
        )
    if not path.parent.is_dir():
        problem, fix = missing_folder(path)
        raise InputError(f"{path}: {problem}", hint=fix)


def missing_folder(path: Path) -> tuple[str, str]:
    """Say why path's folder is not there, and the fix: (problem, hint).

    `-o notes.txt/out.tar` under an existing file is no missing folder, and
    "create it first" would be a fix that cannot work.
    """
    folder = path.absolute().parent
    for above in (folder, *folder.parents):
        if os.path.lexists(above):
            if above.is_dir():
                break
            kind = "a file, not a folder" if above.is_file() else "not a folder"
            return (
                f"{above} is {kind}"
                + ("" if above == folder else f", so folder {folder} cannot exist"),
                "give a path whose folders are folders",
            )
    return f"folder {folder} does not exist", "create it first, or write somewhere else"


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


def write_problem(folder: Path) -> str | None:
    """Say why no file can be made in folder, or None when one can.

    Judged by making and removing a probe file, not by permission bits: root
    passes every bit test yet cannot write on a read-only mount.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".reprobox-probe.", dir=folder)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return "it is on a read-only file system"
        return (exc.strerror or str(exc)).lower()
    os.close(fd)
    os.unlink(probe)
    return None


def _names_no_file(exc: OSError, path: Path) -> bool:
    """Tell whether exc names no file the user knows: none, or a temp of path's."""
    if not exc.filename:
        return True
    name = Path(os.fsdecode(exc.filename))
    return (
        name.parent == path.parent
        and name.name.startswith(f".{path.name}.")
        and name.name.endswith(".tmp")
    )


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Write data to path through a temp file in the same folder and a rename."""
    path = Path(path)
    if path.exists() and not path.is_file():
        check_regular_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with signals_held():  # no Ctrl-C between making the temp and knowing it
            fd, tmp = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
            )
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno and _names_no_file(exc, path):
            # A write on a full disk names no file, a temp that cannot be made
            # names the temp: say which file the user asked for.
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def atomic_write_files(
    files: list[tuple[Path, str]] | Callable[[], list[tuple[Path, str]]],
    marker: Path,
    mode: int = 0o644,
    kind: str = "marker",
    fix: str = "run the command again",
) -> None:
    """Write several files as one unit: all are replaced, or the marker says not.

    Every file is written in full to a temp file first; only when all of them
    are on disk are they renamed into place, in the order given. While the
    renames are under way, marker names the temps: a writer killed among them
    leaves it behind, so a reader can tell files that do not belong together
    (see unit_write_state). A stopping signal (Ctrl-C) is held from the marker
    to the last rename, so a stopped writer leaves the old set or the new one,
    not that marker; one stopped while it writes the temps leaves no file of
    its own. Temps a killed writer left are removed first.
    files may be a function that returns them, called once marker is held: a
    writer that reads what it replaces then reads no other writer's half.
    Raises FileExistsError while another writer holds marker, and InputError
    when something other than a regular file is at its name (named as kind,
    with fix as what to do once it is moved away).
    """
    marker.parent.mkdir(parents=True, exist_ok=True)
    # A FIFO there opened and locked, then failed the write as "Illegal seek";
    # a folder or link failed as if the disk were full. Either is named.
    refuse_odd_entry(marker, kind, fix)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(marker, flags, 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # put there since the look
            raise odd_entry_error(marker, kind, fix)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileExistsError(
                errno.EEXIST, "another reprobox is writing these files", str(marker)
            ) from None
        try:
            if callable(files):
                files = files()
            for path, _ in files:
                _check_replaceable(path)  # before any is staged or renamed
            for path, _ in files:
                sweep_stale_temps(path)
            staged = _stage(files, mode)
        except BaseException:
            if os.fstat(fd).st_size == 0:  # no writer began renaming: drop it
                with contextlib.suppress(OSError):
                    os.unlink(marker)
            raise
        with signals_held():
            try:
                names = "".join(
                    f"{Path(tmp).name} {path.name}\n" for tmp, path in staged
                )
                os.pwrite(fd, names.encode("utf-8"), 0)
                os.fsync(fd)
            except BaseException:
                for tmp, _ in staged:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
                raise
            for tmp, path in staged:
                os.replace(tmp, path)
            os.unlink(marker)
    finally:
        os.close(fd)


def _check_replaceable(path: Path) -> None:
    """Refuse a folder or other non-file where a unit write puts a file.

    Found only at its rename, it would stop the unit midway: the files before
    it replaced, the marker left saying the set is broken.
    """
    if path.is_symlink() and not path.is_dir():
        return  # a link is replaced, not followed
    if path.exists() and not path.is_file():
        kind = "folder" if path.is_dir() else "special file"
        raise InputError(
            f"{path} is a {kind} where reprobox keeps a file; nothing was written",
            hint="move or remove it, then run the command again",
        )


def _stage(files: list[tuple[Path, str]], mode: int) -> list[tuple[str, Path]]:
    """Write each file in full to a temp beside it; return (temp, final) pairs."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            with signals_held():  # a temp made is a temp known, to remove
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
                )
                staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
    except BaseException as exc:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno and _names_no_file(exc, path):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return staged


def sweep_stale_temps(path: Path) -> None:
    """Remove temps of path a killed writer left (`.NAME.XXXXXXXX.tmp`)."""
    with contextlib.suppress(OSError):
        for temp in path.parent.glob(f".{path.name}.*.tmp"):
            if not temp.is_dir():
                with contextlib.suppress(OSError):
                    temp.unlink()


def unit_write_state(
    marker: Path, kind: str = "marker", fix: str = "run the command again"
) -> str | None:
    """Say how a unit write of atomic_write_files stands: None when none is
    under way; "busy" while its writer lives; "interrupted" when the writer
    died among its renames, leaving files that may not belong together.

    A marker that is no regular file (a link, a FIFO) is refused, named as
    kind, with fix as what to do once it is moved away: opening a FIFO to
    read it blocked for ever, and calling it interrupted sent the user to a
    command that fails on it too.
    """
    refuse_odd_entry(marker, kind, fix)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(marker, flags)
    except FileNotFoundError:
        return None
    except OSError:
        return "interrupted"  # unreadable, or made odd since the look: no trust
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "interrupted"
        # Empty: the writer has not begun (or died before) its first rename,
        # so the files there are still the old, whole set.
        renaming = os.fstat(fd).st_size > 0
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "busy" if renaming else None
        return "interrupted" if renaming else None
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> None:
    """Write text (UTF-8, as given) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


# Half of a UTF-16 pair: no character, and no UTF-8 text can hold it.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _escaped_surrogate(match: re.Match) -> str:
    code = ord(match[0])
    if 0xDC80 <= code <= 0xDCFF:  # as surrogateescape keeps byte 0x80-0xff
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"  # a JSON "\ud800" escape the container wrote


def writable_text(text: str) -> str:
    """Return text as UTF-8 can hold it: each lone surrogate written as an escape.

    Python keeps an undecodable byte of argv, a path or the environment as a
    lone surrogate (0xff as U+DCFF), and json.loads makes one of "\\ud800";
    encoding either to UTF-8 raises. The byte is shown as \\xff, any other as
    \\ud800: readable, and the same text once written and read back.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(_escaped_surrogate, text)
    return text


def free_key(taken: dict, key):
    """Return key, or where taken holds it already "key (2)", "key (3)"...:
    two keys made alike (by escaping or by hiding a secret) lose no value."""
    name, n = key, 1
    while name in taken:
        n += 1
        name = f"{key} ({n})"
    return name


def writable_keys(data: dict) -> dict:
    """Return data with its text keys made writable_text; a key that then equals
    another keeps its value under a numbered key ("name (2)"), none is lost."""
    out: dict = {}
    for key, value in data.items():
        shown = writable_text(key) if isinstance(key, str) else key
        out[free_key(out, shown)] = value
    return out


def json_safe(data: Any) -> Any:
    """Return data as strict UTF-8 JSON can hold it: NaN and infinities as
    strings, and text (keys too) through writable_text."""
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, str):
        return writable_text(data)
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in writable_keys(data).items()}
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


def make_held_file(final: Path, temp: Path, mode: int, data: bytes = b"") -> int:
    """Make final holding data, under an exclusive flock taken before it has
    its name; return the descriptor that holds the lock.

    Made and locked as temp, a name no sweeper looks at, then renamed: anyone
    who finds final finds it locked for as long as its maker lives.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if data:
            os.write(fd, data)
        os.rename(temp, final)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return fd
