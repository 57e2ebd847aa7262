"""The tag an import gives its image, given by the next command if a kill cut it.

`docker load` makes a bundle's image without a tag (the archive names none:
bundles.check_image_tar), and import tags it once the engine has answered.
A reprobox killed outright in between, or stopped while the engine went on
loading, would leave an image no tag names. So before the load, import writes
a marker naming the engine, the image and the build's tag, and holds an flock
on it for as long as it lives (the kernel frees it when the process dies).
The next reprobox command on that engine finds the lock free and gives the
image the tag import would have given it, or removes the image when that tag
has come to name another image meanwhile.

The marker also says whether the archive's last bytes were handed to the
engine: until they are, a load can end in no image, so a marker whose image
is absent and whose import died before that is dropped at once. After, the
engine may still be finishing the load, and the marker waits for it.

Markers are kept per user, in $XDG_STATE_HOME/reprobox/importing/ (by default
~/.local/state/reprobox/importing/): an import belongs to no project, and the
next command may be run anywhere. An engine is known by its daemon ID, so a
command that reaches it at another address still finds its markers.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import docker.errors
import requests.exceptions

from reprobox.atomic import dump_json, make_held_file
from reprobox.engine import (
    LONG_CALL_TIMEOUT_S,
    Engine,
    engine_address,
    engine_id,
    engine_key,
    image_id,
)
from reprobox.errors import InputError, ReproboxError
from reprobox.marker_files import (
    marker_folder_entries,
    odd_entry,
    read_marker_fd,
    refuse_odd_entry,
)
from reprobox.run_folders import taken_from_the_dead

Note = Callable[[str], None]
_MARKER_CAP = 64 * 1024  # a marker is a few hundred bytes
_NOT_HANDED = b'"last_chunk_handed": false'
_HANDED = b'"last_chunk_handed": true '
_TROUBLE = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    ReproboxError,
)
# A marker whose image is not on the engine may belong to a load the engine
# still finishes (its reprobox died after sending the whole image): kept as
# long as reprobox itself would wait for that load to answer.
LOAD_MAY_FINISH_S = LONG_CALL_TIMEOUT_S


@dataclass(frozen=True)
class ImportMark:
    """An image an import loads, the tag it is to get, and on which engine."""

    image: str  # the bundle's image id, sha256:...
    tag: str  # the build's tag, reprobox/<project>:<digest>
    engine: str  # the address import reached it at, for messages
    engine_id: str | None  # the daemon's ID; None when it did not say
    written_at: float
    # Whether the archive's last chunk went to the engine. A marker written
    # before this was kept says nothing of it: read as handed, to be waited on.
    last_chunk_handed: bool = True


class ImportMarker:
    """What an import tells its marker as it goes (see marked_import)."""

    def __init__(self, path: Path | None = None, fd: int | None = None):
        self._path, self._fd = path, fd
        self.is_settled = False

    def settled(self) -> None:
        """Drop the marker: no image can come of the load, or it is tagged."""
        self.is_settled = True
        if self._path is not None:
            _drop(self._path)

    def handing_last_chunk(self) -> None:
        """Say, before it is handed over, that the load may now end in an image."""
        if self._fd is None:
            return
        # Same length, one write: a kill cannot leave it half-said. A marker
        # that cannot be read is past saying anything (see _read_marker).
        with contextlib.suppress(OSError):
            at = os.pread(self._fd, _MARKER_CAP, 0).find(_NOT_HANDED)
            if at >= 0:
                os.pwrite(self._fd, _HANDED, at)


def marker_folder() -> Path | None:
    """Return this user's folder of import markers; None without a home."""
    state = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(state):  # relative: to be ignored, as the spec says
        try:
            state = str(Path.home() / ".local" / "state")
        except RuntimeError:
            return None
    return Path(state) / "reprobox" / "importing"


@contextlib.contextmanager
def marked_import(
    engine: Engine,
    image: str,
    tag: str,
    note: Note | None = None,
    on_left: Note | None = None,
) -> Iterator[ImportMarker]:
    """Keep a marker while the block loads and tags image; drop it once done.

    When the block does not end (a stop, engine trouble), the marker stays,
    unlocked once the block is left, for the next command on that engine,
    unless the block called settled() on what it was given: the import knows
    then that no image can come of it (its stream was cut before its end) or
    that it is tagged. The block calls handing_last_chunk() before the
    archive's end goes to the engine; a marker left before that is dropped
    by the next command when its image is absent. Ending, the block also
    drops markers an earlier import of the same image left: this one tagged
    it. A marker that cannot be written is said through note; the import
    goes on. When the block does not end and did not settle, on_left hears
    what the engine may be left holding, and what becomes of it.
    """
    folder = marker_folder()
    mark = ImportMark(
        image,
        tag,
        engine_address(engine),
        engine_id(engine),
        time.time(),
        last_chunk_handed=False,
    )
    try:
        if folder is None:
            raise OSError("there is no home folder (set XDG_STATE_HOME)")
        path, fd = _write_marker(folder, mark)
    except OSError as exc:
        if note is not None:
            note(
                f"cannot keep an import marker in {folder or 'a state folder'}: "
                f"{exc.strerror or exc}; should this import be killed outright, "
                "its image may be left untagged"
            )
        unmarked = ImportMarker()
        try:
            yield unmarked
        except BaseException:
            if on_left is not None and not unmarked.is_settled:
                on_left(_left_unmarked(mark))
            raise
        return
    marker = ImportMarker(path, fd)
    try:
        yield marker
        _drop(path)
        _drop_earlier_marks(folder, mark)
    except BaseException:
        if on_left is not None and not marker.is_settled:
            on_left(_left_marked(mark))
        raise
    finally:
        os.close(fd)


def _left_marked(mark: ImportMark) -> str:
    """Say what an import that ended with its marker kept leaves behind."""
    return (
        f"the engine may hold the bundle's image {mark.image[7:19]} untagged, or "
        f"still be loading it: the next reprobox command on this engine tags it "
        f"{mark.tag}, or removes it should that tag name another image by then"
    )


def _left_unmarked(mark: ImportMark) -> str:
    """Say what an import that could keep no marker leaves behind."""
    return (
        f"the engine may hold the bundle's image {mark.image[7:19]} untagged, and "
        "no marker was kept for the next command to tag it: import the bundle "
        f"again, or remove it with `docker image rm {mark.image[7:19]}`"
    )


def _drop_earlier_marks(folder: Path, done: ImportMark) -> None:
    """Drop the markers of dead imports of the image an import just tagged."""
    try:
        entries = marker_folder_entries(folder, "import marker folder", "import again")
    except InputError:  # made a link since the marker was written: the next
        return  # command refuses it; this import is done and tagged
    for path in entries:
        if path.suffix != ".json" or path.name.startswith("."):
            continue
        with taken_from_the_dead(path) as fd:
            if fd is None:
                continue  # a live import's, or already gone
            mark = _read_marker(fd)
            same = mark is not None and (mark.image, mark.tag) == (done.image, done.tag)
            if same and _on(mark, done.engine_id, engine_key(done.engine)):
                _drop(path)


def _write_marker(folder: Path, mark: ImportMark) -> tuple[Path, int]:
    """Write mark and lock it before it takes its name: never found unlocked alive."""
    refuse_odd_entry(folder, "import marker folder", "import again", folder=True)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{os.getpid()}-{secrets.token_hex(4)}.json"
    data = dump_json(asdict(mark)).encode("utf-8")
    return path, make_held_file(path, folder / f".{path.name}.new", 0o600, data)


def sweep_killed_imports(
    engine: Engine, note: Note, damaged: Note | None = None
) -> None:
    """Tag, or remove, the images that imports killed outright left on engine.

    damaged hears a damaged marker removed (a warning, shown under -q too:
    someone or something wrote it; brk r49 BR 5); else note does.
    """
    damaged = damaged or note
    folder = marker_folder()
    if folder is None:
        return
    # Never through a link: every file where it led was swept as a damaged
    # marker, and removed.
    entries = marker_folder_entries(
        folder, "import marker folder", "run the command again"
    )
    here: tuple[str | None, str] | None = None
    for path in entries:
        what = odd_entry(path)
        if what == "a folder":
            continue  # not removed (as in .reprobox/pushing/), nor said each time
        if what is not None:
            # A link is removed itself, never where it leads; a FIFO unopened.
            damaged(f"removed damaged import marker {path} ({what})")
            _drop(path)
            continue
        with taken_from_the_dead(path) as fd:
            if fd is None:
                continue  # its import is still going
            if path.name.startswith("."):
                _drop(path)  # killed before its marker was whole
                continue
            mark = _read_marker(fd)
            if mark is None:
                damaged(f"removed damaged import marker {path}")
                _drop(path)
                continue
            if here is None:
                try:
                    here = (engine_id(engine), engine_key(engine_address(engine)))
                except ReproboxError:
                    return
            if not _on(mark, *here):
                continue  # another engine's: for a command on that one
            try:
                over, done = settle(engine, mark, time.time())
            except _TROUBLE as exc:
                note(
                    f"could not tag or remove image {mark.image[7:19]} that a killed "
                    f"import loaded: {exc}"
                )
                continue
            if over:
                _drop(path)
            if done:
                note(done)


def settle(engine: Engine, mark: ImportMark, now: float) -> tuple[bool, str | None]:
    """Give a killed import's image its tag, or remove it; say what was done.

    Returns whether the marker is done with (not while the image may still
    come), and what was done, if anything.
    """
    from reprobox.share import engine_essence
    from reprobox.tag_moves import arrival_tag, drop_if_untagged, project_of_tag

    try:
        image = engine.client.images.get(mark.image)
    except docker.errors.ImageNotFound:
        if not mark.last_chunk_handed:
            return True, None  # the engine never had the archive's end
        return now - mark.written_at >= LOAD_MAY_FINISH_S, None
    if image.tags:
        return True, None  # the import tagged it, or another name had it already
    applied = arrival_tag(engine, mark.tag, mark.image)
    if applied != mark.tag and (
        image_id(engine, applied) is not None
        or engine_essence(engine, mark.tag) != engine_essence(engine, mark.image)
    ):
        # Its tag names another build now, or the place beside it is taken:
        # tagging would take a name from another image, as import never does.
        if not drop_if_untagged(engine, mark.image, project_of_tag(mark.tag)):
            kept = f"could not remove image {mark.image[7:19]} that a killed import"
            # The marker stays: the next command tries again.
            return False, f"{kept} loaded (in use, built on, or out of reach)"
        return True, (
            f"removed image {mark.image[7:19]} that a killed import loaded: "
            f"{applied} names another image now"
        )
    repo, _, name = applied.rpartition(":")
    image.tag(repo, name)
    return True, f"tagged {applied}: the import that loaded it was killed"


def _on(mark: ImportMark, daemon: str | None, address: str) -> bool:
    """Tell whether mark is of the engine of that daemon ID and address."""
    if mark.engine_id is not None and daemon is not None:
        return mark.engine_id == daemon
    return engine_key(mark.engine) == address


def _read_marker(fd: int) -> ImportMark | None:
    """Return the marker in fd, or None when it is not one reprobox wrote."""
    try:
        raw = read_marker_fd(fd, _MARKER_CAP)
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
        mark = ImportMark(**data)
    except (ValueError, TypeError):
        return None
    strings = all(isinstance(v, str) for v in (mark.image, mark.tag, mark.engine))
    if not strings or not isinstance(mark.written_at, (int, float)):
        return None
    if not (mark.engine_id is None or isinstance(mark.engine_id, str)):
        return None
    if not isinstance(mark.last_chunk_handed, bool):
        return None
    if not mark.image.startswith("sha256:") or ":" not in mark.tag:
        return None
    return mark


def _drop(path: Path) -> None:
    """Remove a marker; one that cannot be removed is tried again next time."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
