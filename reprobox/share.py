"""Move images between engines and people: registry, file, or a direct stream.

An image always travels with what explains it. Its labels carry the manifest
and the lock; a sealed image also carries its reference run record, so the
image alone is enough to rerun and check it. Every move is checked by image
id: the id is the digest of the image's config, so an equal id means the same
layers, labels and settings.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import posixpath
import re
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions

from reprobox.atomic import dump_json
from reprobox.bundle_file import (
    BUNDLE_INDEX,
    BUNDLE_MEMBERS,
    open_locked_partial,
    partial_path,
    sweep_stale_partials,
)
from reprobox.engine import (
    LABEL_PREFIX,
    Engine,
    engine_failure,
    image_id,
    image_labels,
    is_engine_trouble,
    long_calls,
)
from reprobox.errors import EngineError, InputError, first_line, shortened
from reprobox.push_stream import read_push_stream
from reprobox.seals import (
    check_manifest_sealed,
    check_record_sealed,
    is_safe_run_id,
    loads_strict,
)

REFERENCE_LABEL = f"{LABEL_PREFIX}.reference-record"
# Docker's CLI passes each --label as one argument, and Linux caps one argument
# at 128 KiB (MAX_ARG_STRLEN): a large lock (TensorFlow plus the usual data
# stack hashes to ~150 KB) goes in parts of at most this many characters, each
# its own label: org.reprobox.lock, then org.reprobox.lock.1, .2, ...
LOCK_PART_CHARS = 30_000  # ≤ 120 KB even if every character took 4 bytes
MAX_LOCK_PARTS = 40  # 1.2 MB of lock in all; the whole argv must fit in 2 MB
MANIFEST_LABEL = f"{LABEL_PREFIX}.manifest"
MANIFEST_SHA_LABEL = f"{LABEL_PREFIX}.manifest-sha256"
MAX_MANIFEST_PARTS = 20  # 600,000 characters; with the lock still under 2 MB
LOCK_LABEL = f"{LABEL_PREFIX}.lock"
BUNDLE_SCHEMA_VERSION = 1
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"  # Docker's repository grammar
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"  # one DNS label: no edge '-'
_REGISTRY = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(:[0-9]{{1,5}})?(/{_COMPONENT})*")
MAX_REPOSITORY_CHARS = 255  # Docker refuses a longer repository name
_CHUNK = 1 << 20
# Docker's image reference grammar: [DOMAIN[:PORT]/]PATH[:TAG][@DIGEST], or an id.
_HOST_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(
    rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?/)?"
    rf"{_PATH_PART}(?:/{_PATH_PART})*"
    r"(?::\w[\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{1,64}")


def check_registry(registry: str, project: str | None = None) -> str:
    """Return registry (HOST[:PORT][/PATH]) without a trailing slash, or raise.

    With project, also refuse a registry whose repository for it,
    REGISTRY/reprobox/PROJECT, is longer than Docker accepts.
    """
    registry = registry.rstrip("/")
    port = re.match(r"[^/:]+:([0-9]+)", registry)
    if (
        "://" in registry
        or not _REGISTRY.fullmatch(registry)
        or (port and not 0 < int(port.group(1)) < 65536)
    ):
        raise InputError(
            f"--registry {_short(registry)} is not HOST[:PORT][/PATH]",
            hint="e.g. --registry 127.0.0.1:5000/team",
        )
    host = registry.split("/", 1)[0]
    if "." not in host and ":" not in host and host != "localhost":
        # Docker reads such a first part as a Docker Hub account, not a host.
        raise InputError(
            f"--registry {registry!r}: {host!r} is not a registry host to Docker "
            "(it would push to Docker Hub)",
            hint="give a host with a '.' or a port, e.g. --registry "
            "127.0.0.1:5000/team, or localhost",
        )
    repo = f"{registry}/reprobox/{project or ''}"
    if len(repo) > MAX_REPOSITORY_CHARS:
        raise InputError(
            f"--registry {registry[:40]}...: the image's repository name would be "
            f"{len(repo)} characters, over Docker's {MAX_REPOSITORY_CHARS}",
            hint="give a shorter registry path",
        )
    return registry


def check_image_reference(image: str) -> str:
    """Return image if it is an image reference or id Docker accepts, else raise."""
    well_formed = _IMAGE_ID.fullmatch(image) or _IMAGE_REF.fullmatch(image)
    if well_formed and len(image) <= 255:
        return image
    raise InputError(
        f"{image!r} is not an image reference",
        hint="give NAME[:TAG], REGISTRY/NAME@sha256:DIGEST or an image id, "
        "e.g. reprobox/digits:1a2b3c4d5e6f",
    )


def push_image(
    engine: Engine,
    image: str,
    registry: str,
    project: str,
    tag: str,
    state_dir: Path,
    on_progress: Callable[[str], None] | None = None,
) -> str:
    """Push image to registry as PROJECT:TAG; return `repo@sha256:...`.

    on_progress is told of each upload the engine retries.

    The registry-named tag it makes is put back as it was if the push does
    not end, even when reprobox is killed (push_tags keeps a marker in
    state_dir for the next command).
    """
    from reprobox.push_tags import PushTag, current_image, registry_tag

    repo = f"{check_registry(registry, project)}/reprobox/{project}"
    ref = f"{repo}:{tag}"
    hint = f"check that a registry answers at {registry} and accepts pushes"
    digest = None
    try:
        source = engine.client.images.get(image)
        named = PushTag(ref, source.id, previous=current_image(engine, ref))
        with registry_tag(state_dir, engine, named):
            source.tag(repo, tag)
            digest = _push(engine, repo, tag, registry, hint, on_progress)
            if not digest:
                raise EngineError(f"push to {ref} reported no digest")
    except docker.errors.ImageNotFound:
        raise EngineError(
            f"image {image} is not on this engine", hint="run `reprobox build` first"
        ) from None
    except docker.errors.APIError as exc:
        # docker-py's APIError is an OSError: uncaught, it would print raw.
        reason = first_line(exc.explanation or exc)
        if exc.is_client_error() or "invalid reference" in reason:
            raise InputError(
                f"--registry {registry}: the engine refused the name {ref} ({reason})",
                hint="e.g. --registry 127.0.0.1:5000/team",
            ) from None
        raise EngineError(f"cannot tag {image} as {ref}: {reason}") from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, f"tagging {image}", exc) from None
    return f"{repo}@{digest}"


def _push(
    engine: Engine,
    repo: str,
    tag: str,
    registry: str,
    hint: str,
    on_progress: Callable[[str], None] | None,
) -> str | None:
    """Push repo:tag; return the digest the registry gave it."""
    try:
        with long_calls(engine):
            events = engine.client.images.push(repo, tag, stream=True, decode=True)
            digest = read_push_stream(events, registry, hint, on_progress)
    except docker.errors.APIError as exc:
        raise EngineError(
            f"push to {repo} failed: {first_line(exc.explanation or exc)}",
            hint=hint,
        ) from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, f"pushing to {repo}", exc) from None
    return digest


_DIGEST_REF = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")  # one digest, no other @
_FULL_ID = re.compile(r"sha256:[0-9a-f]{64}")


# What push writes in each `published` entry, and all that a reader accepts.
PUBLISHED_KEYS = frozenset({"ref", "image_id", "source_image_id", "reference_run"})


def check_published(path: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the manifest's `published` entries, refusing one of the wrong shape.

    push writes them, but the manifest is a file a person can edit: a damaged
    entry must be one line naming it, not a KeyError halfway through a push.
    """
    entries = manifest.get("published") or []
    fix = "remove that entry (or the whole published list) and `reprobox push` again"

    def refuse(where: str, value: Any, want: str) -> InputError:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return InputError(f"{path}: published{where} is {shown}, not {want}", hint=fix)

    fields = (
        ("ref", _DIGEST_REF, "REPOSITORY@sha256:<64 hex>"),
        ("image_id", _FULL_ID, "sha256:<64 hex>"),
        ("source_image_id", _FULL_ID, "sha256:<64 hex>"),
    )
    if not isinstance(entries, list):
        raise refuse("", entries, "a list of objects")
    repositories: dict[str, int] = {}  # repository -> its entry's number
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise refuse(f"[{number}]", entry, "an object")
        unknown = sorted(set(entry) - PUBLISHED_KEYS)
        if unknown:
            name = unknown[0] if unknown[0].isidentifier() else _short(unknown[0])
            raise InputError(
                f"{path}: published[{number}].{name} is not a field reprobox "
                f"writes (only {', '.join(sorted(PUBLISHED_KEYS))})",
                hint=fix,
            )
        for name, pattern, want in fields:
            value = entry.get(name)
            if not (isinstance(value, str) and pattern.fullmatch(value)):
                raise refuse(f"[{number}].{name}", value, want)
        try:
            check_image_reference(entry["ref"].split("@", 1)[0])
        except InputError:
            raise refuse(
                f"[{number}].ref", entry["ref"], "REPOSITORY@sha256:<64 hex>"
            ) from None
        run = entry.get("reference_run")
        if run is not None and not is_safe_run_id(run):
            raise refuse(f"[{number}].reference_run", run, "a run id or null")
        repository = entry["ref"].split("@", 1)[0]
        if repository in repositories:
            raise InputError(
                f"{path}: published[{number}] names repository {repository} again "
                f"(as published[{repositories[repository]}]); push keeps one entry "
                "per repository",
                hint=fix,
            )
        repositories[repository] = number
    return entries


def with_publication(
    entries: list[dict[str, Any]], entry: dict[str, Any]
) -> list[dict[str, Any]]:
    """Return entries with entry replacing the one of its repository, sorted.

    Only the same repository is replaced: a push to 127.0.0.1:5000 keeps the
    entry of 127.0.0.1:5000/team, whose refs merely start the same.
    """
    repository = entry["ref"].split("@", 1)[0]
    kept = [e for e in entries if e["ref"].split("@", 1)[0] != repository]
    return sorted([*kept, entry], key=lambda e: e["ref"])


def pull_by_digest(engine: Engine, ref: str) -> str:
    """Pull `repo@sha256:...` onto engine; return the local image id."""
    if "@sha256:" not in ref:
        raise InputError(f"{ref} is not pinned by digest", hint="use repo@sha256:...")
    repo, digest = ref.split("@", 1)
    try:
        with long_calls(engine):
            image = engine.client.images.pull(repo, tag=digest)
    except docker.errors.APIError as exc:
        raise EngineError(
            f"pull of {ref} failed: {first_line(exc.explanation or exc)}"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, f"pulling {ref}", exc) from None
    return image.id


def _stream_image(engine: Engine, image: str) -> Iterator[bytes]:
    try:
        with long_calls(engine):  # the timeout is taken when the request starts
            chunks = engine.client.api.get_image(image, chunk_size=_CHUNK)
        yield from chunks
    except docker.errors.APIError as exc:
        raise EngineError(
            f"cannot export image {image}: {first_line(exc.explanation or exc)}"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, f"sending image {image[:19]}", exc) from None


def load_image_stream(engine: Engine, chunks) -> list[str]:
    """Load a `docker save` stream (bytes or chunks) on engine; return image ids."""
    try:
        with long_calls(engine):  # docker load answers only once it has loaded all
            events = list(engine.client.api.load_image(chunks, quiet=True))
    except docker.errors.APIError as exc:
        raise EngineError(
            f"the engine refused the image: {first_line(exc.explanation or exc)}"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, "loading the image", exc) from None
    ids = []
    for event in events:
        text = event.get("stream", "") if isinstance(event, dict) else str(event)
        if isinstance(event, dict) and event.get("error"):
            raise EngineError(f"loading the image failed: {first_line(event['error'])}")
        match = re.search(r"Loaded image ID: (sha256:[0-9a-f]{64})", text)
        if match:
            ids.append(match.group(1))
        match = re.search(r"Loaded image: (\S+)", text)
        if match:
            ids.append(match.group(1))
    return ids


@dataclass(frozen=True)
class Shipment:
    """How an image reached an engine, checked by id."""

    image_id: str
    how: str  # "present", "registry" or "stream"
    seconds: float


def ship_image(
    source: Engine, dest: Engine, image: str, tag: str, published: str | None = None
) -> Shipment:
    """Make image (by id) present on dest, by registry when published, else stream."""
    wanted = image_id(source, image) or image
    start = time.monotonic()
    at_tag = image_id(dest, tag)
    if at_tag is not None and same_build(dest, tag, source, wanted):
        # dest already holds this build at its tag, sealed or not (an import
        # of its bundle; or dest is the very engine that built it): the same
        # layers and settings. The tag stays where it is, so neither the
        # sealed copy's record nor the build's own image is left untagged.
        return Shipment(
            image_id=at_tag, how="present", seconds=time.monotonic() - start
        )
    if image_id(dest, wanted) == wanted:
        how = "present"
    elif published:
        pull_by_digest(dest, published)
        how = "registry"
    else:
        load_image_stream(dest, _stream_image(source, wanted))
        how = "stream"
    got = image_id(dest, wanted)
    if got != wanted:
        raise EngineError(
            f"image on the other engine has id {got}, expected {wanted}",
            hint="the registry or the stream changed the image; push it again",
        )
    repo, _, tag_part = tag.rpartition(":")
    try:
        dest.client.images.get(wanted).tag(repo, tag_part)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise engine_failure(dest, f"tagging {wanted[:19]} as {tag}", exc) from None
    return Shipment(image_id=wanted, how=how, seconds=time.monotonic() - start)


# What of an image's config decides what a container of it does. Sealing adds
# a label and changes nothing of these; anything else differing is another image.
_RUN_SETTINGS = (
    "Cmd",
    "Entrypoint",
    "Env",
    "ExposedPorts",
    "Healthcheck",
    "OnBuild",
    "Shell",
    "StopSignal",
    "User",
    "Volumes",
    "WorkingDir",
)


def build_essence(config: dict[str, Any], layers: Any) -> tuple | None:
    """Return what makes two images one build: layers, run settings, labels.

    config is an image config's `config` object (or inspect's `Config`);
    layers its layer ids (`rootfs.diff_ids`, inspect's `RootFS.Layers`). The
    reference-record label is left out: a sealed image is still its build.
    """
    if not isinstance(config, dict) or not isinstance(layers, list) or not layers:
        return None
    labels = config.get("Labels") or {}
    if not isinstance(labels, dict):
        return None
    settings = {k: config.get(k) or None for k in _RUN_SETTINGS}
    kept = {k: v for k, v in labels.items() if k != REFERENCE_LABEL}
    return (tuple(map(str, layers)), dump_json(settings), dump_json(kept))


def engine_essence(engine: Engine, ref: str) -> tuple | None:
    """Return build_essence of image ref on engine, or None when it is absent."""
    try:
        attrs = engine.client.images.get(ref).attrs
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise EngineError(f"cannot inspect image {ref}: {exc}") from None
    if not isinstance(attrs, dict):
        return None
    return build_essence(attrs.get("Config"), (attrs.get("RootFS") or {}).get("Layers"))


def same_build(engine: Engine, a: str, other: Engine, b: str) -> bool:
    """Tell whether image a on engine and b on other are one build, sealed or not."""
    first = engine_essence(engine, a)
    return first is not None and first == engine_essence(other, b)


def seal_image(engine: Engine, image: str, record: dict[str, Any], tag: str) -> str:
    """Return the id of image plus a label holding its reference run record.

    Only the config changes; the filesystem layers stay the same, which
    `reprobox verify` checks against the record's `image.layers`.
    """
    dockerfile = f"FROM {image_id(engine, image) or image}\n".encode()
    try:
        built, _ = engine.client.images.build(
            fileobj=io.BytesIO(dockerfile),
            tag=tag,
            rm=True,
            labels={REFERENCE_LABEL: dump_json(record)},
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise EngineError(
            f"cannot add the reference record to {image}: {exc}"
        ) from None
    return built.id


def carries_build_labels(engine: Engine, image: str, expected: dict[str, str]) -> bool:
    """Tell whether image's reprobox labels are the ones a build would give it.

    Compared: every org.reprobox.* label (project, context digest, code digest,
    manifest and its digest, the lock's parts), except the version of reprobox
    that built it and the reference record a seal adds. An image at a build's
    tag with other labels is not that build, whatever put it there.
    """
    skip = {f"{LABEL_PREFIX}.version", REFERENCE_LABEL}

    def ours(labels: dict[str, str]) -> dict[str, str]:
        return {
            k: v
            for k, v in labels.items()
            if k.startswith(LABEL_PREFIX) and k not in skip
        }

    try:
        actual = image_labels(engine, image)
    except EngineError:
        return False
    return ours(actual) == ours(expected)


def _split_label(key: str, text: str) -> dict[str, str]:
    """Return text as labels key, key.1, key.2, ... of LOCK_PART_CHARS each."""
    parts = [
        text[i : i + LOCK_PART_CHARS] for i in range(0, len(text), LOCK_PART_CHARS)
    ] or [""]
    labels = {key: parts[0]}
    for index, part in enumerate(parts[1:], start=1):
        labels[f"{key}.{index}"] = part
    return labels


def _join_label(labels: dict[str, str], key: str) -> str | None:
    """Return the text that labels key, key.1, ... carry, joined; None if absent."""
    if key not in labels:
        return None
    parts = [labels[key]]
    index = 1
    while f"{key}.{index}" in labels:
        parts.append(labels[f"{key}.{index}"])
        index += 1
    return "".join(parts)


def lock_labels(lock: str) -> dict[str, str]:
    """Return the labels that carry lock, in parts small enough for argv."""
    labels = _split_label(LOCK_LABEL, lock)
    return {} if len(labels) > MAX_LOCK_PARTS else labels


def lock_from_labels(labels: dict[str, str]) -> str | None:
    """Return the lock an image's labels carry, joined from its parts, or None."""
    return _join_label(labels, LOCK_LABEL)


def manifest_labels(manifest_text: str) -> dict[str, str]:
    """Return the labels that carry the manifest, in parts small enough for argv.

    A project with many data files has a manifest larger than one argument may
    be (128 KiB): it travels in parts, like the lock. Unlike the lock it cannot
    be left out, so one too large for the build's argv is refused.
    """
    labels = _split_label(MANIFEST_LABEL, manifest_text)
    if len(labels) > MAX_MANIFEST_PARTS:
        raise InputError(
            f"the manifest is {len(manifest_text) // 1000} KB, more than an image's "
            f"labels can carry ({MAX_MANIFEST_PARTS * LOCK_PART_CHARS // 1000} KB)",
            hint="declare fewer, larger data files (an archive of many small ones)",
        )
    return labels


def manifest_text_from_labels(labels: dict[str, str]) -> str | None:
    """Return the manifest text an image's labels carry, joined; None if absent."""
    return _join_label(labels, MANIFEST_LABEL)


def reference_from_labels(labels: dict[str, str]) -> dict[str, Any] | None:
    """Return the reference record an image carries, if any."""
    text = labels.get(REFERENCE_LABEL)
    if not text:
        return None
    try:
        record = loads_strict(text, f"image label {REFERENCE_LABEL}")
    except (ValueError, RecursionError):
        raise InputError(f"image label {REFERENCE_LABEL} is not valid JSON") from None
    if not isinstance(record, dict):
        raise InputError(f"image label {REFERENCE_LABEL} holds no run record")
    return record


# --- bundles: one file with image, manifest, lock and reference record -------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_bundle(
    engine: Engine, image: str, tag: str, out: Path, files: dict[str, str]
) -> dict[str, Any]:
    """Write image and files (name -> text) as one tar at out, atomically.

    The image streams straight into one partial file beside out, which is
    renamed over out when complete: no second copy of a multi-GB image, and
    what a killed export leaves is that one file, which the next export into
    the same folder removes (an flock tells a live export from a dead one).
    """
    wanted = image_id(engine, image)
    if wanted is None:
        raise EngineError(
            f"image {image} is not on this engine", hint="run `reprobox build` first"
        )
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(out)
    try:
        fd = open_locked_partial(partial)
    except OSError as exc:
        raise InputError(
            f"cannot write beside {out}: {exc.strerror}",
            hint="choose a folder you can write",
        ) from None
    if fd is None:
        raise InputError(
            f"another reprobox export is writing {out}",
            hint="wait for it, or write to another file",
        )
    # What exports killed outright left here, to this name or another: gone.
    sweep_stale_partials(out.parent)
    with os.fdopen(fd, "w+b") as fh:
        try:
            fh.truncate(0)
            digests = {
                "image.tar": _add_member(fh, "image.tar", _stream_image(engine, wanted))
            }
            for name, text in sorted(files.items()):
                digests[name] = _add_member(fh, name, [text.encode("utf-8")])
            index = {
                "schema_version": BUNDLE_SCHEMA_VERSION,
                "image_id": wanted,
                "tag": tag,
                "files": dict(sorted(digests.items())),
            }
            _add_member(fh, BUNDLE_INDEX, [dump_json(index).encode("utf-8")])
            fh.write(b"\0" * (2 * tarfile.BLOCKSIZE))  # the end-of-archive marker
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(partial, out)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            if isinstance(exc, OSError) and not is_engine_trouble(exc):
                # A full disk: name the file and the fix, not a bare strerror.
                raise InputError(
                    f"{out}: cannot write the bundle: {exc.strerror or exc}; "
                    "nothing was left there",
                    hint=f"free space in {out.parent} (the bundle is about the "
                    "size of the image), or give another -o",
                ) from None
            raise
    return index


def _add_member(fh, name: str, chunks) -> str:
    """Append one regular file to the tar in fh from chunks; return its sha256.

    Its size is known only at the end, so the header is written first with size
    0 and rewritten in place; the GNU format keeps it one block at any size.
    """
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = 0o644, 0
    header_at = fh.tell()
    fh.write(info.tobuf(format=tarfile.GNU_FORMAT))
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        fh.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    fh.write(b"\0" * (-size % tarfile.BLOCKSIZE))
    end = fh.tell()
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    if len(header) != tarfile.BLOCKSIZE:  # pragma: no cover - short names only
        raise ValueError(f"bundle member {name!r} needs more than one header block")
    fh.seek(header_at)
    fh.write(header)
    fh.seek(end)
    return digest.hexdigest()


def _read_bundle_index(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(BUNDLE_INDEX)
        data = loads_strict(
            tar.extractfile(member).read().decode("utf-8"), f"{path}: {BUNDLE_INDEX}"
        )
    except (KeyError, AttributeError, ValueError, RecursionError):
        # RecursionError: JSON nested deeper than Python's parser goes.
        raise InputError(
            f"{path}: not a reprobox bundle (no readable {BUNDLE_INDEX})",
            hint="make one with `reprobox export`",
        ) from None
    files = data.get("files") if isinstance(data, dict) else None
    # Every field is checked for its shape here, so that no message below can
    # quote a value that is not a plain one-line string.
    shape_ok = (
        isinstance(data, dict)
        and isinstance(data.get("schema_version"), int)
        and not isinstance(data.get("schema_version"), bool)
        and isinstance(data.get("image_id"), str)
        and _FULL_ID.fullmatch(data["image_id"]) is not None
        and isinstance(data.get("tag"), str)
        and _TAG.fullmatch(data["tag"]) is not None
        and isinstance(files, dict)
        and "image.tar" in files
        and all(
            isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)
            for sha in files.values()
        )
    )
    if not shape_ok:
        raise InputError(
            f"{path}: {BUNDLE_INDEX} is damaged or not reprobox's",
            hint="export the bundle again",
        )
    if data["schema_version"] > BUNDLE_SCHEMA_VERSION:
        raise InputError(
            f"{path}: bundle from a newer reprobox", hint="upgrade reprobox"
        )
    return data


# The fix for a bundle damaged on its way: its bytes are not what export wrote.
BUNDLE_AGAIN = "copy the file again, or export it anew from where it was made"


def import_bundle(engine: Engine, path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Check and load a bundle; return its index and its text files."""
    try:
        return _import_bundle(engine, path)
    except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
        # Engine trouble (a load that timed out, a dropped connection), not the
        # file's: requests' errors are OSErrors too, so they are told apart first.
        raise engine_failure(engine, f"importing {path}", exc) from None
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError) as exc:
        # A truncated or damaged tar fails wherever reading reaches the break.
        raise InputError(
            f"{path}: cannot read bundle: {exc}",
            hint=BUNDLE_AGAIN,
        ) from None


def _import_bundle(engine: Engine, path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    with tarfile.open(path, "r:") as tar:
        index = _read_bundle_index(tar, path)
        expected = index.get("files", {})
        extra = sorted(set(tar.getnames()) - set(expected) - {BUNDLE_INDEX})
        if extra:
            raise InputError(
                f"{path}: bundle member {_short(extra[0])} is not in its index",
                hint="import only bundles made by `reprobox export`",
            )
        texts: dict[str, str] = {}
        for name, sha in sorted(expected.items()):
            if name not in BUNDLE_MEMBERS:
                # repr: a name is the bundle's word, and may hold a newline.
                raise InputError(
                    f"{path}: bundle member {_short(name)} is not allowed (not one "
                    "`reprobox export` writes)",
                    hint="import only bundles made by `reprobox export`",
                )
            try:
                fh = tar.extractfile(name)
            except KeyError:
                fh = None
            if fh is None:
                raise InputError(
                    f"{path}: bundle member {name} is missing", hint=BUNDLE_AGAIN
                )
            digest = hashlib.sha256()
            if name == "image.tar":
                for chunk in iter(functools.partial(fh.read, _CHUNK), b""):
                    digest.update(chunk)
            else:
                data = fh.read()
                digest.update(data)
                texts[name] = data.decode("utf-8")
            if digest.hexdigest() != sha:
                raise InputError(
                    f"{path}: bundle member {name} is damaged "
                    "(sha256 differs from the index)",
                    hint=BUNDLE_AGAIN,
                )
        essence, labels = check_image_tar(tar.extractfile("image.tar"), index, path)
        check_members_match_labels(texts, labels, path)
        _check_tag_is_free(engine, index, essence, path)
        # Only now, every member checked, does anything reach the engine.
        image_stream = tar.extractfile("image.tar")
        load_image_stream(
            engine, iter(functools.partial(image_stream.read, _CHUNK), b"")
        )
    got = image_id(engine, index["image_id"])
    if got != index["image_id"]:
        raise InputError(
            f"{path}: bundle damaged: the loaded image's id is not {index['image_id']}",
            hint=BUNDLE_AGAIN,
        )
    repo, _, tag = index["tag"].rpartition(":")
    engine.client.images.get(got).tag(repo, tag)
    return index, texts


def _check_tag_is_free(
    engine: Engine, index: dict[str, Any], essence: tuple | None, path: Path
) -> None:
    """Refuse to move a build tag that names another build on this engine.

    The tag reprobox/<project>:<digest> is what `reprobox build` and `run`
    take as this engine's image of those sources: a bundle may take it only
    when it is free, or when it names the same build (the same layers and
    settings: the bundle is that build, sealed). A bundle whose labels claim a
    project's sources but whose layers are others' cannot replace its image.
    """
    tag = index["tag"]
    present = image_id(engine, tag)
    if present is None or present == index["image_id"]:
        return
    if essence is not None and engine_essence(engine, present) == essence:
        return
    raise InputError(
        f"{path}: bundle refused: {tag} already names another image on this "
        f"engine ({present[7:19]}, other layers or settings than the bundle's "
        f"{index['image_id'][7:19]})",
        hint=f"if you mean to replace it, `docker image rm {tag}` first",
    )


_TAG = re.compile(r"reprobox/(?P<name>[a-z0-9][a-z0-9._-]*):(?P<digest>[0-9a-f]{16})")


def check_image_tar(
    fileobj: Any, index: dict[str, Any], path: Path
) -> tuple[tuple | None, dict[str, str]]:
    """Refuse an image archive that would tag anything; return essence and labels.

    `docker load` applies whatever tags the archive names, before reprobox can
    look, so a hand-made bundle could repoint any tag on the engine (the base
    image's, or a project's build tag). export saves the image by id, which
    names no tag; so the archive may name none, and import alone tags it.
    Read the archive's manifest and image config first: the config must hash
    to the index's image id, and the tag must be the one reprobox derives from
    the image's labels (reprobox/<project>:<context digest>).
    """

    def refuse(why: str) -> InputError:
        return InputError(
            f"{path}: bundle refused: {why}",
            hint="import only bundles made by `reprobox export`",
        )

    with tarfile.open(fileobj=fileobj, mode="r:") as image_tar:
        _check_member_names(image_tar, refuse)
        try:
            entries = _strict_json(image_tar.extractfile("manifest.json").read())
        except _AmbiguousJSON as exc:
            raise refuse(f"its image archive's manifest.json {exc}") from None
        except (KeyError, AttributeError, ValueError, RecursionError):
            raise refuse("its image archive has no readable manifest.json") from None
        if not (
            isinstance(entries, list)
            and len(entries) == 1
            and isinstance(entries[0], dict)
        ):
            raise refuse("its image archive must hold exactly one image")
        entry = entries[0]
        unknown = sorted(set(entry) - _MANIFEST_ENTRY_KEYS)
        if unknown:
            raise refuse(f"its image archive's manifest names {_short(unknown[0])}")
        tags = entry.get("RepoTags")
        if tags:
            raise refuse(f"its image archive names tags: {_short(tags)}")
        if "repositories" in image_tar.getnames():
            try:
                repos = json.loads(image_tar.extractfile("repositories").read())
                named = [f"{r}:{t}" for r, ts in repos.items() for t in ts]
            except (AttributeError, ValueError, RecursionError, TypeError):
                raise refuse(
                    "its image archive's repositories file is damaged"
                ) from None
            if named:
                raise refuse(f"its image archive names tags: {_short(named)}")
        try:
            config_bytes = image_tar.extractfile(str(entry.get("Config"))).read()
        except (KeyError, AttributeError):
            raise refuse("its image archive has no image config") from None
    if "sha256:" + hashlib.sha256(config_bytes).hexdigest() != index["image_id"]:
        raise refuse(f"its image is not {index['image_id']}")
    try:
        config = _strict_json(config_bytes)
    except _AmbiguousJSON as exc:
        raise refuse(f"its image config {exc}") from None
    except (ValueError, RecursionError):
        raise refuse("its image config is damaged") from None
    try:
        run_config = config.get("config") or config.get("Config") or {}
        labels = run_config.get("Labels") or {}
        layers = (config.get("rootfs") or {}).get("diff_ids")
        project = labels.get(f"{LABEL_PREFIX}.project")
        digest = str(labels.get(f"{LABEL_PREFIX}.context-digest") or "")
        plain = all(isinstance(v, str) for v in labels.values())
    except (ValueError, AttributeError, RecursionError):
        raise refuse("its image config is damaged") from None
    if not plain:
        raise refuse("its image config has a label that is not text")
    match = _TAG.fullmatch(index["tag"])
    if match is None or (match["name"], match["digest"]) != (project, digest[:16]):
        expected = (
            f"reprobox/{project}:{digest[:16]}" if isinstance(project, str) else "none"
        )
        raise refuse(
            f"tag {_short(index['tag'])} is not the one its labels give "
            f"({_short(expected)})"
        )
    return build_essence(run_config, layers), dict(labels)


def check_members_match_labels(
    texts: dict[str, str], labels: dict[str, str], path: Path
) -> None:
    """Refuse bundle files that are not what the image's own labels say.

    The index proves only that the files are the ones the bundle's maker put
    there; `import --into` unpacks them as the image's manifest, lock and
    record. So the manifest must be the text of the image's manifest label
    (which its sha256 label must hash), the lock and Dockerfile the ones that
    manifest names by sha256, and the record the one the image is sealed with.
    """

    def refuse(name: str, why: str) -> InputError:
        return InputError(
            f"{path}: bundle refused: its {name} {why}",
            hint="import only bundles made by `reprobox export`",
        )

    manifest_text = manifest_text_from_labels(labels)
    if (
        manifest_text is None
        or labels.get(MANIFEST_SHA_LABEL)
        != hashlib.sha256(manifest_text.encode("utf-8")).hexdigest()
    ):
        raise refuse("image", f"has no intact {MANIFEST_LABEL} label")
    if "manifest.json" in texts and texts["manifest.json"] != manifest_text:
        raise refuse("manifest.json", "is not the manifest its image's labels carry")
    try:
        manifest = loads_strict(manifest_text, f"image label {MANIFEST_LABEL}")
    except (ValueError, RecursionError):
        manifest = None
    if not isinstance(manifest, dict):
        raise refuse("image", f"label {MANIFEST_LABEL} holds no manifest")
    check_manifest_sealed(
        f"{path}: bundle's image label {MANIFEST_LABEL}",
        manifest,
        "export it again with this reprobox",
    )
    packages = manifest.get("packages")
    named = {
        "requirements.lock": packages.get("lock_sha256")
        if isinstance(packages, dict)
        else None,
        "Dockerfile": manifest.get("dockerfile_sha256"),
    }
    for name, sha in named.items():
        if name not in texts or (name == "Dockerfile" and sha is None):
            continue  # a manifest of before dockerfile_sha256 names no Dockerfile
        if hashlib.sha256(texts[name].encode("utf-8")).hexdigest() != sha:
            raise refuse(name, "is not the one its image's manifest names by sha256")
    if REFERENCE_LABEL in labels and "reference-record.json" not in texts:
        # export writes the record of a sealed image: one left out is a bundle
        # cut down by hand, and --into would unpack it without its reference.
        raise refuse(
            "image",
            "is sealed with a run record, but reference-record.json is missing",
        )
    if "reference-record.json" in texts:
        try:
            record = loads_strict(
                texts["reference-record.json"], f"{path}: reference-record.json"
            )
            sealed = reference_from_labels(labels)
        except (ValueError, RecursionError, InputError):
            record, sealed = None, None
        if sealed is None or record != sealed:
            raise refuse(
                "reference-record.json",
                "is not the run record its image is sealed with",
            )
        check_record_sealed(f"{path}: bundle's reference-record.json", record)


# What export's `docker save` writes for an image entry; docker load reads
# JSON keys whatever their case, so only these exact names are let through.
_MANIFEST_ENTRY_KEYS = {"Config", "RepoTags", "Layers", "LayerSources"}


class _AmbiguousJSON(ValueError):
    """JSON that Go's decoder (docker) could read otherwise than Python does."""


def _strict_json(data: bytes) -> Any:
    """Parse JSON, refusing keys repeated in any letter case.

    Go's encoding/json matches keys case-insensitively and lets the last one
    win: {"RepoTags": null, "repotags": [...]} is tagless to Python, tagged to
    docker load. Refusing such objects makes both read the same thing.
    """

    def pairs(items):
        seen: dict[str, str] = {}
        for key, _ in items:
            folded = key.casefold()
            if folded in seen:
                raise _AmbiguousJSON(
                    f"has keys {_short(seen[folded])} and {_short(key)}, which "
                    "docker reads as one"
                )
            seen[folded] = key
        return dict(items)

    return json.loads(data, object_pairs_hook=pairs)


# Files docker load reads for names and tags; each must be one plain file.
_LOAD_METADATA = ("manifest.json", "repositories", "index.json")
_OCI_NAME_KEYS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


def _check_member_names(image_tar: tarfile.TarFile, refuse) -> None:
    """Refuse an archive docker load could read otherwise than reprobox does.

    reprobox looks members up by exact name, docker load reads the files it
    extracted: "./manifest.json" after "manifest.json" would be the one docker
    obeys. So every name must be plain (normalised, relative) and unique, and
    the metadata files regular files, not links to others.
    """
    seen: set[str] = set()
    for member in image_tar.getmembers():
        name = member.name
        plain = posixpath.normpath(name)
        if name != plain or plain.startswith(("/", "..")) or plain in seen:
            raise refuse(
                f"its image archive has an odd or repeated name {_short(name)}"
            )
        seen.add(plain)
        if plain in _LOAD_METADATA and not member.isreg():
            raise refuse(f"its image archive's {plain} is not a plain file")
    if "index.json" in seen:
        try:
            oci = json.loads(image_tar.extractfile("index.json").read())
            named = [
                value
                for manifest in oci.get("manifests") or []
                for key, value in (manifest.get("annotations") or {}).items()
                if key in _OCI_NAME_KEYS
            ]
        except (AttributeError, ValueError, RecursionError, TypeError):
            raise refuse("its image archive's index.json is damaged") from None
        if named:
            raise refuse(f"its image archive names tags: {_short(named)}")


def _short(value: Any) -> str:
    """Return repr(value), cut to one short line for a message."""
    return shortened(repr(value), 120)


def labels_of(engine: Engine, image: str, shown: str | None = None) -> dict[str, str]:
    """Return the labels of image, refusing images reprobox did not make."""
    labels = image_labels(engine, image)
    if MANIFEST_LABEL not in labels:
        raise InputError(
            f"image {shown or image} was not made by reprobox (no manifest label)",
            hint="verify images from `reprobox build`, `push` or `import`",
        )
    return labels
