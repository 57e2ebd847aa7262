"""The tags push and export move, put back as they were if the command does not end.

`reprobox push` names the image REGISTRY/reprobox/PROJECT:TAG on the engine,
then pushes that name; push and export both first seal the run into a copy
tagged reprobox/PROJECT:TAG-sealed. A push that fails or is interrupted puts
the names back where they pointed before (gone, when they did not exist). A
reprobox killed outright (SIGKILL) cannot, so before each move it writes a
marker under .reprobox/pushing/ naming the tag, the image and the tag's
previous image (a seal's marker names the build it seals from, its copy's id
being known only once made); the next command that tidies after killed runs
puts back the tags of markers whose reprobox is gone, and removes the
project's images that the kill left with no tag. A tag is only ever put back
while it still points where the command put it: one the user made or moved
since is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import docker.errors
import requests.exceptions

from reprobox.atomic import atomic_write_json
from reprobox.engine import (
    LABEL_PREFIX,
    Engine,
    engine_address,
    engine_key,
    owner_alive,
    owner_label,
)
from reprobox.marker_files import (
    marker_folder_entries,
    read_marker,
    refuse_odd_entry,
)
from reprobox.proc import pid_alive
from reprobox.tag_moves import drop_if_untagged

MARKER_DIR = "pushing"
_FULL_ID = re.compile(r"sha256:[0-9a-f]{64}")
_LEFT_TEMP = re.compile(r"\.(\d+)-[0-9a-f]+\.json\..*\.tmp")  # atomic write's temp
_TROUBLE = (docker.errors.DockerException, requests.exceptions.RequestException)
_PROJECT_LABEL = f"{LABEL_PREFIX}.project"
_REFERENCE_LABEL = f"{LABEL_PREFIX}.reference-record"  # share.REFERENCE_LABEL


@dataclass(frozen=True)
class PushTag:
    """A tag a push points at its image, and where it pointed before."""

    ref: str  # REGISTRY/reprobox/PROJECT:TAG, or reprobox/PROJECT:TAG-sealed
    image: str | None  # the id ref is pointed at; None: a seal not made yet
    previous: str | None  # the id ref pointed at before; None: it did not exist
    source: str | None = None  # a seal's: the build the sealed copy is made from


def current_image(engine: Engine, ref: str) -> str | None:
    """Return the id ref points at on engine, or None when there is no such tag."""
    try:
        return engine.client.images.get(ref).id
    except docker.errors.ImageNotFound:
        return None


def put_back(engine: Engine, tag: PushTag) -> str | None:
    """Point tag.ref where it was before the push; return what was done, if anything.

    Nothing is done when the tag does not point at the push's image (it was
    never made, or someone moved it since), or when it already did before. A
    seal whose copy's id was not yet known counts as made when the tag names a
    sealed copy of tag.source other than the one before.
    """
    at = current_image(engine, tag.ref)
    if tag.image is None:
        if at is None or at == tag.previous or not _sealed_from(engine, at, tag.source):
            return None
    elif tag.previous == tag.image or at != tag.image:
        return None
    repo, _, name = tag.ref.rpartition(":")
    before = None
    if tag.previous is not None:
        with contextlib.suppress(docker.errors.ImageNotFound):
            before = engine.client.images.get(tag.previous)
    if before is None:  # the tag was new, or its old image is gone since
        engine.client.images.remove(tag.ref, noprune=True)
        return f"removed tag {tag.ref}"
    before.tag(repo, name)
    return f"pointed {tag.ref} back at {tag.previous[:19]}"


class TagMove:
    """The marker of one tag move, kept on disk while the move may be undone."""

    def __init__(self, path: Path, engine: Engine, tag: PushTag) -> None:
        self.path, self.engine, self.tag = path, engine, tag
        self.settled = True

    def write(self) -> None:
        """Write (or rewrite) the marker of self.tag."""
        owner = {"owner": owner_label(), "engine": engine_address(self.engine)}
        atomic_write_json(self.path, {**owner, **asdict(self.tag)})

    def made(self, image: str) -> None:
        """Note the id of the copy a seal made, so that only it is taken back."""
        if image != self.tag.image:
            self.tag = PushTag(self.tag.ref, image, self.tag.previous, self.tag.source)
            self.write()

    def keep(self) -> None:
        """Leave the marker for the next command: the tag could not be put back."""
        self.settled = False


@contextlib.contextmanager
def tag_move(state_dir: Path, engine: Engine, tag: PushTag) -> Iterator[TagMove]:
    """Keep a marker of tag's move on disk while the block runs; then drop it.

    The marker is on disk before the block starts, so a tag can never move
    without one; it goes when the block ends, however it ends, unless the
    block called keep(). The block cleans up after itself, so that the
    marker only matters for a reprobox killed outright.
    """
    folder = state_dir / MARKER_DIR
    # A link there would put the marker, and the next sweep, where it leads.
    refuse_odd_entry(folder, "push marker folder", "push again", folder=True)
    move = TagMove(folder / f"{os.getpid()}-{secrets.token_hex(4)}.json", engine, tag)
    move.write()
    try:
        yield move
    finally:
        if move.settled:
            _drop(move.path)


@contextlib.contextmanager
def registry_tag(state_dir: Path, engine: Engine, tag: PushTag) -> Iterator[None]:
    """Keep a marker of tag while the block tags and pushes; put it back if it fails.

    When putting it back fails, the marker stays for the next command.
    """
    with tag_move(state_dir, engine, tag) as move:
        try:
            yield
        except BaseException:
            try:
                put_back(engine, tag)
            except _TROUBLE:
                move.keep()
            raise


def sweep_killed_pushes(
    engine: Engine,
    state_dir: Path,
    project: str,
    note: Callable[[str], None],
    damaged: Callable[[str], None] | None = None,
) -> None:
    """Put back the tags that pushes and exports killed outright left on engine.

    Only markers of a dead reprobox, for this engine and for this project's
    repository, are acted on; a marker for another engine waits for a command
    on that engine. The images of the project that those moves left with no
    tag (the copy a tag was put back off, one a kill left before its tag, or
    the one a finished push moved its tag off) are then removed. damaged
    hears a damaged marker removed (a warning, shown under -q too: brk r49
    BR 5 found it removed in silence); else note does.
    """
    damaged = damaged or note
    # Never through a link: every file where it led was swept as a damaged
    # marker, and removed.
    entries = marker_folder_entries(
        state_dir / MARKER_DIR, "push marker folder", "run the command again"
    )
    here = engine_key(engine_address(engine))
    killed: list[tuple[Path, dict]] = []
    busy = False  # a push or export of this project is going on
    for path in entries:
        left = _LEFT_TEMP.fullmatch(path.name)
        if left and not pid_alive(int(left.group(1))):
            _drop(path)  # a marker the kill cut short: never used
            continue
        if path.suffix != ".json" or path.name.startswith("."):
            continue
        data = _read_marker(path)
        if data is not None and owner_alive(data["owner"]):
            busy = busy or _ours(data["ref"], project)
            continue  # that push is still going
        if data is None or not _ours(data["ref"], project):
            if _drop(path):  # a folder is left, and not said gone every time
                damaged(f"removed damaged push marker {path}")
            continue
        if engine_key(data["engine"]) == here:
            killed.append((path, data))
    swept = []
    for path, data in killed:
        tag = PushTag(data["ref"], data["image"], data["previous"], data["source"])
        if tag.source and busy:
            # The seal going on may hold <tag>-sealed, or its copy untagged
            # for a moment: this marker waits until it is over.
            continue
        try:
            at = current_image(engine, tag.ref)
            done = put_back(engine, tag)
        except _TROUBLE as exc:
            note(f"could not put back {tag.ref} left by a killed push: {exc}")
            continue
        swept.append(PushTag(tag.ref, tag.image or at, tag.previous, tag.source))
        _drop(path)
        if done:
            what = "push or export that sealed" if tag.source else "push that made"
            note(f"{done}: the {what} it was killed")
    # Once every tag is back: one image may be the old image of one marker
    # and the new image of another.
    for image in _left_untagged(engine, project, swept):
        note(
            f"removed image {image[7:19]}, left with no tag by a killed push or export"
        )


def _left_untagged(engine: Engine, project: str, moves: list[PushTag]) -> list[str]:
    """Remove the images of project that moves left with no tag; return their ids.

    Those the moves name, and any untagged sealed copy of a build a killed
    seal was made from (killed before the engine tagged it).
    """
    candidates = {i for t in moves for i in (t.image, t.previous) if i}
    for source in {t.source for t in moves if t.source}:
        try:
            untagged = engine.client.images.list(
                filters={"dangling": True, "label": f"{_PROJECT_LABEL}={project}"}
            )
        except _TROUBLE:
            break
        candidates.update(i.id for i in untagged if _sealed_from(engine, i.id, source))
    removed = []
    for image in sorted(candidates):
        if _labels(engine, image).get(_PROJECT_LABEL) != project:
            continue  # not an image reprobox made for this project
        if drop_if_untagged(engine, image, project):
            removed.append(image)
    return removed


def _labels(engine: Engine, image: str) -> dict[str, str]:
    """Return image's labels, or none when it is gone or out of reach."""
    try:
        return engine.client.images.get(image).labels or {}
    except _TROUBLE:
        return {}


def _sealed_from(engine: Engine, image: str, source: str | None) -> bool:
    """Tell whether image is a sealed copy made from the build source."""
    try:
        found = engine.client.images.get(image)
    except _TROUBLE:
        return False
    parent = (found.attrs or {}).get("Parent")
    return bool(source) and parent == source and _REFERENCE_LABEL in found.labels


def _drop(path: Path) -> bool:
    """Remove a marker (a link, not where it leads); say whether it went. One
    that cannot be removed is tried again next time."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def _read_marker(path: Path) -> dict | None:
    """Return a marker's fields, or None when it is not one reprobox wrote.

    Read as import markers are: a FIFO blocked every build, run and push, and
    a link to /dev/zero was read until memory ran out.
    """
    raw = read_marker(path)
    try:
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    strings = all(isinstance(data.get(k), str) for k in ("owner", "engine", "ref"))
    data.setdefault("source", None)  # a registry tag's marker names none
    data.setdefault("image", None)
    source = data["source"]
    data.setdefault("previous", None)
    if not strings or not all(
        _full_id_or_none(data.get(k)) for k in ("image", "previous", "source")
    ):
        return None
    if data.get("image") is None and source is None:
        return None  # only a seal's copy may be unknown
    if (source is None) != _is_registry_tag(data["ref"]):
        return None  # a seal marker names its build; a registry one does not
    return data


def _full_id_or_none(value: object) -> bool:
    """Tell whether a marker field is an image's full id, or null."""
    return value is None or (isinstance(value, str) and bool(_FULL_ID.fullmatch(value)))


def _ours(ref: str, project: str) -> bool:
    """Tell whether ref is a tag push or export moves for project:
    REGISTRY/reprobox/NAME:TAG or reprobox/NAME:TAG-sealed."""
    repo, _, tag = ref.rpartition(":")
    if not tag or "/" in tag:
        return False
    if _is_registry_tag(ref):
        return repo.endswith(f"/reprobox/{project}")
    return repo == f"reprobox/{project}" and tag.endswith("-sealed")


def _is_registry_tag(ref: str) -> bool:
    """Tell a registry-named tag (REGISTRY/reprobox/...) from a seal's."""
    return not ref.startswith("reprobox/")
