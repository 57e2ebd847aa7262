"""Bundles: an image, its manifest, lock and reference record as one file.

For machines no registry reaches. Export writes a tar whose index lists every
member with its sha256; import checks each member, the image archive's own
names and tags, and the image's labels against the members before the engine
loads anything, so a bundle damaged or altered on its way is refused whole.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterator
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
    is_engine_trouble,
)
from reprobox.errors import EngineError, InputError, ReproboxError
from reprobox.frozen_tokens import (
    TOKEN_WHAT,
    token_fields,
    token_line,
    what_field_holds,
)
from reprobox.import_markers import marked_import
from reprobox.made_tags import OnTagged, report_interrupted_tag
from reprobox.seals import check_manifest_sealed, check_record_sealed, loads_strict
from reprobox.secret_shapes import hide_name_tokens, token_in_name
from reprobox.share import (
    CHUNK_BYTES,
    FULL_IMAGE_ID,
    MANIFEST_LABEL,
    MANIFEST_SHA_LABEL,
    REFERENCE_LABEL,
    build_essence,
    engine_essence,
    load_image_stream,
    manifest_text_from_labels,
    reference_from_labels,
    short_repr,
    stream_image,
)
from reprobox.stopping import raised_by_a_stop, signals_held
from reprobox.tag_moves import arrival_tag
from reprobox.tag_moves import tag_beside_build as import_tag  # noqa: F401 (named so by tests)

BUNDLE_SCHEMA_VERSION = 1
_ENGINE_TROUBLE = (requests.exceptions.RequestException, docker.errors.DockerException)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
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
    # Unbuffered: a full disk is met by the write that meets it, inside the
    # try, not again by close() flushing a buffer, which would replace the
    # error that names the file with a bare strerror.
    with os.fdopen(fd, "w+b", buffering=0) as fh:
        try:
            fh.truncate(0)
            digests = {
                "image.tar": _add_member(fh, "image.tar", stream_image(engine, wanted))
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
            _write_all(fh, b"\0" * (2 * tarfile.BLOCKSIZE))  # end-of-archive marker
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


def _write_all(fh, data: bytes) -> None:
    """Write all of data to an unbuffered file, which may take it in parts."""
    view = memoryview(data)
    while view:
        view = view[fh.write(view) :]


def _add_member(fh, name: str, chunks) -> str:
    """Append one regular file to the tar in fh from chunks; return its sha256.

    Its size is known only at the end, so the header is written first with size
    0 and rewritten in place; the GNU format keeps it one block at any size.
    """
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = 0o644, 0
    header_at = fh.tell()
    _write_all(fh, info.tobuf(format=tarfile.GNU_FORMAT))
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        _write_all(fh, chunk)
        digest.update(chunk)
        size += len(chunk)
    _write_all(fh, b"\0" * (-size % tarfile.BLOCKSIZE))
    end = fh.tell()
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    if len(header) != tarfile.BLOCKSIZE:  # pragma: no cover - short names only
        raise ValueError(f"bundle member {name!r} needs more than one header block")
    fh.seek(header_at)
    _write_all(fh, header)
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
        and FULL_IMAGE_ID.fullmatch(data["image_id"]) is not None
        and isinstance(data.get("tag"), str)
        and _TAG.fullmatch(data["tag"]) is not None
        and isinstance(files, dict)
        and "image.tar" in files
        and all(
            isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)
            for sha in files.values()
        )
    )
    tag = data.get("tag") if isinstance(data, dict) else None
    if isinstance(tag, str) and token_in_name(tag):
        # Import would tag the engine's image so, and runs record that tag.
        # Before the shape: a token's capitals are no tag's, and the bundle
        # was called "damaged" instead (brk r45, BK 6).
        raise InputError(
            f"{path}: {BUNDLE_INDEX}'s tag {hide_name_tokens(tag)} holds "
            f"{TOKEN_WHAT}, which import would tag the image with; refused, "
            "nothing was imported",
            hint=(
                "ask its maker to rename the project and export it again: "
                "`reprobox export` tags reprobox/<project>:<digest>, and freeze "
                "refuses a project name holding a token"
            ),
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


def import_bundle(
    engine: Engine,
    path: Path,
    on_tagged: OnTagged | None = None,
    note: Callable[[str], None] | None = None,
    on_left: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check and load a bundle; return its index and its text files.

    on_tagged gets the tag once the import made it, even one a stop then cut
    short (see made_tags). A marker kept meanwhile lets the next command tag
    the image should this one be killed (see import_markers); note hears
    when it cannot be kept, and on_left what a stop leaves behind with it.
    """
    try:
        return _import_bundle(engine, path, on_tagged, note, on_left)
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


def _import_bundle(
    engine: Engine,
    path: Path,
    on_tagged: OnTagged | None,
    note: Callable[[str], None] | None,
    on_left: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    with tarfile.open(path, "r:") as tar, contextlib.ExitStack() as marked:
        index = _read_bundle_index(tar, path)
        expected = index.get("files", {})
        extra = sorted(set(tar.getnames()) - set(expected) - {BUNDLE_INDEX})
        if extra:
            raise InputError(
                f"{path}: bundle member {short_repr(extra[0])} is not in its index",
                hint="import only bundles made by `reprobox export`",
            )
        names = tar.getnames()
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            # tarfile reads the last copy, docker or tar -x may read another:
            # what was checked must be the only thing there is to read.
            raise InputError(
                f"{path}: bundle member {short_repr(repeated[0])} is in it more than "
                "once",
                hint="import only bundles made by `reprobox export`",
            )
        texts: dict[str, str] = {}
        for name, sha in sorted(expected.items()):
            if name not in BUNDLE_MEMBERS:
                # repr: a name is the bundle's word, and may hold a newline.
                raise InputError(
                    f"{path}: bundle member {short_repr(name)} is not allowed (not one "
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
                for chunk in iter(functools.partial(fh.read, CHUNK_BYTES), b""):
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
        # From the load to the tag, a marker stands for the tag to come.
        marker = marked.enter_context(
            marked_import(engine, index["image_id"], index["tag"], note, on_left)
        )
        # Only now, every member checked, does anything reach the engine.
        image_stream = tar.extractfile("image.tar")
        stream = _Handed(
            iter(functools.partial(image_stream.read, CHUNK_BYTES), b""),
            marker.handing_last_chunk,
        )
        try:
            load_image_stream(engine, stream)
        except KeyboardInterrupt:
            # Cut before its last bytes were handed over, the load cannot end
            # in an image: no marker is needed; nor once the image is tagged.
            tagged = _tag_a_stopped_load(engine, index, on_tagged)
            if tagged or not stream.last_handed:
                marker.settled()
            raise
        got = image_id(engine, index["image_id"])
        if got != index["image_id"]:
            raise InputError(
                f"{path}: bundle damaged: the loaded image's id is not "
                f"{index['image_id']}",
                hint=BUNDLE_AGAIN,
            )
        applied = _tag_loaded(engine, index, on_tagged)
    return {**index, "tagged": applied}, texts


def _tag_loaded(
    engine: Engine, index: dict[str, Any], on_tagged: OnTagged | None
) -> str:
    """Tag the image the import loaded; return the tag (see import_tag)."""
    got = index["image_id"]
    applied = arrival_tag(engine, index["tag"], got)
    repo, _, tag = applied.rpartition(":")
    before = image_id(engine, applied)
    try:
        engine.client.images.get(got).tag(repo, tag)
        if on_tagged is not None:
            on_tagged(applied, True)
    except BaseException as stop:
        if not raised_by_a_stop(stop):  # a stop, or an error a stop caused
            raise
        # The engine may have applied the tag before the stop cut the answer.
        report_interrupted_tag(
            engine, applied, before, lambda now: now == got, on_tagged
        )
        raise
    return applied


def _tag_a_stopped_load(
    engine: Engine, index: dict[str, Any], on_tagged: OnTagged | None
) -> bool:
    """Tag the image of a load a stop cut short, if the engine made it whole;
    return whether it did.

    The engine finishes a load whose every byte it has, without waiting for
    the answer to be read. One it is still finishing gets its tag from the
    next command, through the import's marker.
    """
    with signals_held(), contextlib.suppress(ReproboxError, *_ENGINE_TROUBLE):
        if image_id(engine, index["image_id"]) == index["image_id"]:
            _tag_loaded(engine, index, on_tagged)
            return True
    return False


class _Handed:
    """Chunks of a stream, telling whether its last one was handed over.

    Each chunk is read one ahead, so the last is known as it is given: a
    stop before that leaves the engine without the archive's end, from which
    it can make no image. before_last is called just before the last is
    given, for a kill's sake: the import's marker says it then.
    """

    def __init__(
        self, chunks: Iterator[bytes], before_last: Callable[[], None] = lambda: None
    ):
        self._chunks = chunks
        self._before_last = before_last
        self.last_handed = False

    def __iter__(self) -> Iterator[bytes]:
        current = next(self._chunks, None)
        while current is not None:
            following = next(self._chunks, None)
            if following is None:
                self._before_last()
            self.last_handed = following is None
            yield current
            current = following


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
            raise refuse(f"its image archive's manifest names {short_repr(unknown[0])}")
        tags = entry.get("RepoTags")
        if tags:
            raise refuse(f"its image archive names tags: {short_repr(tags)}")
        if "repositories" in image_tar.getnames():
            try:
                repos = json.loads(image_tar.extractfile("repositories").read())
                named = [f"{r}:{t}" for r, ts in repos.items() for t in ts]
            except (AttributeError, ValueError, RecursionError, TypeError):
                raise refuse(
                    "its image archive's repositories file is damaged"
                ) from None
            if named:
                raise refuse(f"its image archive names tags: {short_repr(named)}")
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
            f"tag {short_repr(index['tag'])} is not the one its labels give "
            f"({short_repr(expected)})"
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
    # The JSON members, as read above: manifest.json is the label's text.
    parsed: dict[str, Any] = {"manifest.json": manifest}
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
        check_record_sealed(
            f"{path}: bundle's reference-record.json",
            record,
            fix="import only bundles made by `reprobox export`",
        )
        parsed["reference-record.json"] = record
    _refuse_bundle_tokens(texts, parsed, refuse)


def _refuse_bundle_tokens(
    texts: dict[str, str], parsed: dict[str, Any], refuse
) -> None:
    """Refuse a bundle that carries a token of a published format.

    This reprobox never exports one, but a bundle by an older one, or made by
    hand, may: import would write it into the engine's image labels and
    `--into` into the project, spreading what its maker leaked. parsed holds
    the JSON members as already read (manifest.json: the image label's
    manifest, there whether or not the bundle has the member).
    """
    paths = list(token_fields(parsed["manifest.json"]))
    if paths:
        raise refuse(
            "image", f"label's manifest field {paths[0]} {what_field_holds(paths[0])}"
        )
    for name, text in sorted(texts.items()):
        if name in parsed:
            paths = list(token_fields(parsed[name]))
            if paths:
                raise refuse(name, f"field {paths[0]} {what_field_holds(paths[0])}")
        number = token_line(text)
        if number is not None:
            raise refuse(name, f"line {number} holds {TOKEN_WHAT}")


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
                    f"has keys {short_repr(seen[folded])} and {short_repr(key)}, which "
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
                f"its image archive has an odd or repeated name {short_repr(name)}"
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
            raise refuse(f"its image archive names tags: {short_repr(named)}")
