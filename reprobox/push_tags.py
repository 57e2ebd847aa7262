"""The registry-named tag a push makes, put back as it was if the push does not end.

`reprobox push` names the image REGISTRY/reprobox/PROJECT:TAG on the engine,
then pushes that name. A push that fails or is interrupted puts the name back
where it pointed before (gone, when it did not exist). A reprobox killed
outright (SIGKILL) cannot, so before tagging it writes a marker under
.reprobox/pushing/ naming the tag, the image and the tag's previous image;
the next command that tidies after killed runs puts back the tags of markers
whose reprobox is gone. A tag is only ever put back while it still points
where the push put it: one the user made or moved since is left alone.
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
from reprobox.engine import Engine, engine_address, engine_key, owner_alive, owner_label
from reprobox.marker_files import (
    marker_folder_entries,
    read_marker,
    refuse_odd_entry,
)
from reprobox.proc import pid_alive

MARKER_DIR = "pushing"
_FULL_ID = re.compile(r"sha256:[0-9a-f]{64}")
_LEFT_TEMP = re.compile(r"\.(\d+)-[0-9a-f]+\.json\..*\.tmp")  # atomic write's temp
_TROUBLE = (docker.errors.DockerException, requests.exceptions.RequestException)


@dataclass(frozen=True)
class PushTag:
    """A tag a push points at its image, and where it pointed before."""

    ref: str  # REGISTRY/reprobox/PROJECT:TAG
    image: str  # the id the push points ref at
    previous: str | None  # the id ref pointed at before; None: it did not exist


def current_image(engine: Engine, ref: str) -> str | None:
    """Return the id ref points at on engine, or None when there is no such tag."""
    try:
        return engine.client.images.get(ref).id
    except docker.errors.ImageNotFound:
        return None


def put_back(engine: Engine, tag: PushTag) -> str | None:
    """Point tag.ref where it was before the push; return what was done, if anything.

    Nothing is done when the tag does not point at the push's image (it was
    never made, or someone moved it since), or when it already did before.
    """
    if tag.previous == tag.image or current_image(engine, tag.ref) != tag.image:
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


@contextlib.contextmanager
def registry_tag(state_dir: Path, engine: Engine, tag: PushTag) -> Iterator[None]:
    """Keep a marker of tag while the block tags and pushes; put it back if it fails.

    The marker is on disk before the block starts, so a tag can never exist
    without one. It goes once the push is over, or once the tag is back as it
    was; when putting it back fails, it stays for the next command.
    """
    folder = state_dir / MARKER_DIR
    # A link there would put the marker, and the next sweep, where it leads.
    refuse_odd_entry(folder, "push marker folder", "push again", folder=True)
    marker = folder / f"{os.getpid()}-{secrets.token_hex(4)}.json"
    atomic_write_json(
        marker,
        {"owner": owner_label(), "engine": engine_address(engine), **asdict(tag)},
    )
    settled = True
    try:
        yield
    except BaseException:
        try:
            put_back(engine, tag)
        except _TROUBLE:
            settled = False
        raise
    finally:
        if settled:
            _drop(marker)


def sweep_killed_pushes(
    engine: Engine, state_dir: Path, project: str, note: Callable[[str], None]
) -> None:
    """Put back the tags that pushes killed outright left on engine.

    Only markers of a dead reprobox, for this engine and for this project's
    repository, are acted on; a marker for another engine waits for a command
    on that engine.
    """
    # Never through a link: every file where it led was swept as a damaged
    # marker, and removed.
    entries = marker_folder_entries(
        state_dir / MARKER_DIR, "push marker folder", "run the command again"
    )
    here = engine_key(engine_address(engine))
    for path in entries:
        left = _LEFT_TEMP.fullmatch(path.name)
        if left and not pid_alive(int(left.group(1))):
            _drop(path)  # a marker the kill cut short: never used
            continue
        if path.suffix != ".json" or path.name.startswith("."):
            continue
        data = _read_marker(path)
        if data is not None and owner_alive(data["owner"]):
            continue  # that push is still going
        if data is None or not _ours(data["ref"], project):
            if _drop(path):  # a folder is left, and not said gone every time
                note(f"removed damaged push marker {path}")
            continue
        if engine_key(data["engine"]) != here:
            continue
        tag = PushTag(data["ref"], data["image"], data["previous"])
        try:
            done = put_back(engine, tag)
        except _TROUBLE as exc:
            note(f"could not put back {tag.ref} left by a killed push: {exc}")
            continue
        _drop(path)
        if done:
            note(f"{done}: the push that made it was killed")


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
    image = isinstance(data.get("image"), str) and _FULL_ID.fullmatch(data["image"])
    previous = data.get("previous")
    if not strings or not image:
        return None
    if previous is not None and not (
        isinstance(previous, str) and _FULL_ID.fullmatch(previous)
    ):
        return None
    return data


def _ours(ref: str, project: str) -> bool:
    """Tell whether ref is a tag push makes for project: REGISTRY/reprobox/NAME:TAG."""
    repo, _, tag = ref.rpartition(":")
    return bool(tag) and "/" not in tag and repo.endswith(f"/reprobox/{project}")
