"""Move images between engines and people: registry, file, or a direct stream.

An image always travels with what explains it. Its labels carry the manifest
and the lock; a sealed image also carries its reference run record, so the
image alone is enough to rerun and check it. Every move is checked by image
id: the id is the digest of the image's config, so an equal id means the same
layers, labels and settings.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions

from reprobox.atomic import dump_json
from reprobox.engine import (
    LABEL_PREFIX,
    Engine,
    engine_failure,
    image_id,
    image_labels,
    long_calls,
)
from reprobox.errors import EngineError, InputError, first_line, shortened, shown_value
from reprobox.frozen_tokens import TOKEN_WHAT, refuse_record_tokens
from reprobox.made_tags import OnTagged, report_interrupted_tag
from reprobox.push_stream import broken_reply, http_status, read_push_stream
from reprobox.seals import (
    is_safe_run_id,
    loads_strict,
)
from reprobox.secret_shapes import hide_name_tokens, token_in_name
from reprobox.stopping import raised_by_a_stop
from reprobox.tag_moves import (  # sealed_beside: share's callers name it here
    arrival_tag,
    drop_if_untagged,
    project_of_tag,
    sealed_beside,  # noqa: F401
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
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"  # Docker's repository grammar
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"  # one DNS label: no edge '-'
_REGISTRY = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(:[0-9]{{1,5}})?(/{_COMPONENT})*")
MAX_REPOSITORY_CHARS = 255  # Docker refuses a longer repository name
CHUNK_BYTES = 1 << 20  # what one read of an image stream or a file takes
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


def _registry_shape_problem(registry: str, port: re.Match[str] | None) -> str:
    """Say what in a registry that is not HOST[:PORT][/PATH] makes it so, or ''
    (brk r49 BS 5: an upper-case path and a scheme got the bare refusal)."""
    if "://" in registry:
        scheme = registry.split("://", 1)[0]
        return (
            f": give it without {scheme}:// (Docker chooses https, or http for a "
            "registry it trusts)"
        )
    if port and not 0 < int(port.group(1)) < 65536:
        return f": port {port.group(1)} is out of range 1-65535"
    if port and port.group(1)[0] == "0":
        return f": port {port.group(1)} has a leading zero (write {int(port.group(1))})"
    path = registry.partition("/")[2]
    if path and path != path.lower() and _REGISTRY.fullmatch(registry.lower()):
        return (
            ": its path has capital letters, which Docker's repository names never hold"
        )
    return ""


def check_registry(registry: str, project: str | None = None) -> str:
    """Return registry (HOST[:PORT][/PATH]) without a trailing slash, or raise.

    With project, also refuse a registry whose repository for it,
    REGISTRY/reprobox/PROJECT, is longer than Docker accepts.
    """
    registry = registry.rstrip("/")
    _refuse_registry_credentials(registry)
    if registry.startswith("["):
        # Image names of engines of 20.10's age hold no IPv6 address literal.
        raise InputError(
            f"--registry {short_repr(registry)}: an IPv6 address as the "
            "registry host is not supported (older Docker engines' image names "
            "cannot hold one)",
            hint="give a host name or an IPv4 address, e.g. --registry "
            "localhost:5000/team",
        )
    port = re.match(r"[^/:]+:([0-9]+)", registry)
    # A port written with a leading zero (05000) names the same registry as
    # 5000 under another name: the manifest would list it twice (brk r50 BU 6).
    zero_led = bool(port and len(port.group(1)) > 1 and port.group(1)[0] == "0")
    if (
        "://" in registry
        or not _REGISTRY.fullmatch(registry)
        or (port and not 0 < int(port.group(1)) < 65536)
        or zero_led
    ):
        raise InputError(
            f"--registry {short_repr(registry)} is not HOST[:PORT][/PATH]"
            + _registry_shape_problem(registry, port),
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


def _refuse_registry_credentials(registry: str) -> None:
    """Refuse a registry that writes out a credential, never showing it.

    The registry becomes part of the pushed repository's name, which the
    manifest's published list, the engine's RepoDigests and every later run
    record then hold: a token there travels wherever they go. A login goes
    to `docker login`, never into the name.
    """
    if "@" in registry:
        raise InputError(
            "--registry holds an '@', as a user name or password before the host "
            "(USER:PASS@HOST) has it, not shown here; a registry name holds none, "
            "refused, nothing was pushed",
            hint="give HOST[:PORT][/PATH] and log in with `docker login HOST`",
        )
    if token_in_name(registry):
        raise InputError(
            f"--registry {short_repr(hide_name_tokens(registry))} holds {TOKEN_WHAT}, "
            "which would name the pushed repository and with it the manifest and "
            "every run record; refused, nothing was pushed",
            hint="give HOST[:PORT][/PATH] without it and log in with "
            "`docker login HOST`",
        )


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
    on_stall: Callable[[str], None] | None = None,
) -> str:
    """Push image to registry as PROJECT:TAG; return `repo@sha256:...`.

    on_progress is told of each upload the engine retries; on_stall, of each
    stretch of push_stream.STALL_S seconds without progress, and why.

    The registry-named tag it makes is put back as it was if the push does
    not end, even when reprobox is killed (push_tags keeps a marker in
    state_dir for the next command). The image it moved that name off is
    removed once it ends, if nothing else tags it (see drop_if_untagged).
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
            digest = _push(engine, repo, tag, registry, hint, on_progress, on_stall)
            if not digest:
                raise EngineError(f"push to {ref} reported no digest")
            if named.previous != source.id:
                # The copy pushed before (sealed with an older run) had only
                # this name once an export moved <tag>-sealed on: not left
                # `<none>`, even by a kill here (the marker names it still).
                drop_if_untagged(engine, named.previous, project)
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
    on_stall: Callable[[str], None] | None = None,
) -> str | None:
    """Push repo:tag; return the digest the registry gave it."""
    try:
        with long_calls(engine):
            events = engine.client.images.push(repo, tag, stream=True, decode=True)
            digest = read_push_stream(events, registry, hint, on_progress, on_stall)
    except docker.errors.APIError as exc:
        raise EngineError(
            f"push to {repo} failed: {first_line(exc.explanation or exc)}",
            hint=hint,
        ) from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, f"pushing to {repo}", exc) from None
    return digest


_DIGEST_REF = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")  # one digest, no other @
FULL_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


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
        # A token in what an edit wrote there is shown cut short, never whole.
        shown = shown_value(
            hide_name_tokens(value) if isinstance(value, str) else value, 80
        )
        return InputError(f"{path}: published{where} is {shown}, not {want}", hint=fix)

    fields = (
        ("ref", _DIGEST_REF, "REPOSITORY@sha256:<64 hex>"),
        ("image_id", FULL_IMAGE_ID, "sha256:<64 hex>"),
        ("source_image_id", FULL_IMAGE_ID, "sha256:<64 hex>"),
    )
    if not isinstance(entries, list):
        raise refuse("", entries, "a list of objects")
    repositories: dict[str, int] = {}  # repository -> its entry's number
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise refuse(f"[{number}]", entry, "an object")
        unknown = sorted(set(entry) - PUBLISHED_KEYS)
        if unknown:
            name = unknown[0] if unknown[0].isidentifier() else short_repr(unknown[0])
            raise InputError(
                f"{path}: published[{number}].{name} is not a field reprobox "
                f"writes (only {', '.join(sorted(PUBLISHED_KEYS))})",
                hint=fix,
            )
        ref = entry.get("ref")
        if isinstance(ref, str) and token_in_name(ref):
            # A run copies the ref into its record (image.ref), which export
            # and push then refuse: refused here, the loop never starts.
            shown = shown_value(hide_name_tokens(ref), 80)
            raise InputError(
                f"{path}: published[{number}].ref {shown} holds {TOKEN_WHAT}, "
                "which every run record would copy; refused",
                hint="remove that entry (or the whole published list) and "
                "`reprobox push` again to a --registry without it",
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
        reason = first_line(exc.explanation or exc)
        # As push says it: a reply cut short is no refusal, a 200 no cause.
        broken = broken_reply(reason, http_status(reason))
        if broken is not None:
            reason = f"its registry gave {broken}"
        raise EngineError(f"pull of {ref} failed: {reason}") from None
    except requests.exceptions.RequestException as exc:
        raise engine_failure(engine, f"pulling {ref}", exc) from None
    return image.id


def stream_image(engine: Engine, image: str) -> Iterator[bytes]:
    try:
        with long_calls(engine):  # the timeout is taken when the request starts
            chunks = engine.client.api.get_image(image, chunk_size=CHUNK_BYTES)
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
    # Why the published image could not be had there, when the engine's own
    # copy of the build (at its tag, same layers) is what runs instead.
    fallback: str | None = None


def ship_image(
    source: Engine,
    dest: Engine,
    image: str,
    tag: str,
    published: str | None = None,
    on_tagged: OnTagged | None = None,
) -> Shipment:
    """Make image (by id) present on dest, by registry when published, else stream.

    published is image's `repo@sha256:...`. Where dest holds another copy of
    the same build at tag (unsealed, from a run before the push), the published
    image is still pulled beside it; only when that pull fails is dest's copy
    returned, with the reason in `fallback`.

    on_tagged gets the tag once dest has it, even when a stop then cut the
    shipment short (see made_tags).
    """
    wanted = image_id(source, image) or image
    start = time.monotonic()
    at_tag = image_id(dest, tag)
    has_wanted = image_id(dest, wanted) == wanted
    if at_tag is not None and same_build(dest, tag, source, wanted):
        # dest already holds this build at its tag, sealed or not (an import
        # of its bundle; or dest is the very engine that built it): the same
        # layers and settings. The tag stays where it is, so neither the
        # sealed copy's record nor the build's own image is left untagged.
        # When dest holds the very image asked for (the sealed copy beside
        # the build, on the engine that built it, however its address is
        # spelt), the run is of that image, and its record must say so.
        if has_wanted or not published:
            here = wanted if has_wanted else at_tag
            return Shipment(here, "present", time.monotonic() - start)
        # The published image is asked for: pulled by digest, cheaply, as its
        # layers are the build's, it goes beside the build as <tag>-sealed
        # (or <tag>-sealed-<id>), by import's rule, so no image is untagged.
        try:
            pull_by_digest(dest, published)
        except EngineError as exc:
            return Shipment(
                at_tag, "present", time.monotonic() - start, fallback=exc.message
            )
        _check_arrived(dest, wanted)
        tag_sealed_beside(dest, wanted, tag, on_tagged)
        return Shipment(wanted, "registry", time.monotonic() - start)
    if has_wanted:
        how = "present"
    elif published:
        pull_by_digest(dest, published)
        how = "registry"
    else:
        load_image_stream(dest, stream_image(source, wanted))
        how = "stream"
    _check_arrived(dest, wanted)
    _tag_shipped(dest, wanted, tag, at_tag, on_tagged)
    if at_tag != wanted:
        # dest's own build of these sources (built there: the same tag, not
        # the same bytes) lost its tag to the image that runs.
        drop_if_untagged(dest, at_tag, project_of_tag(tag))
    return Shipment(image_id=wanted, how=how, seconds=time.monotonic() - start)


def reference_ran_on(record: dict[str, Any] | None) -> str | None:
    """Return the full id of the image a reference record ran on, else None."""
    ran_on = (record or {}).get("image")
    found = ran_on.get("id") if isinstance(ran_on, dict) else None
    return found if isinstance(found, str) and FULL_IMAGE_ID.fullmatch(found) else None


def tag_sealed_beside(
    engine: Engine, sealed: str, build_tag: str, on_tagged: OnTagged | None = None
) -> str:
    """Tag a sealed image pulled beside its build as import would; return the tag.

    That is <build_tag>-sealed, or <build_tag>-sealed-<id> where the former
    names another sealed copy already (see tag_beside_build): a pull by digest
    gives no tag, so an image left without one would be `<none>`.
    """
    tag = arrival_tag(engine, build_tag, sealed)
    before = image_id(engine, tag)
    if before != sealed:
        _tag_shipped(engine, sealed, tag, before, on_tagged)
    return tag


# The build tag an image's labels give (build.image_tag): its project's name
# and the first 16 hex digits of its context digest.
_BUILD_TAG = re.compile(r"reprobox/[a-z0-9][a-z0-9._-]*:[0-9a-f]{16}")


def build_tag_of(labels: dict[str, str]) -> str | None:
    """Return the build tag an image's labels give, or None where they give none."""
    project = labels.get(f"{LABEL_PREFIX}.project")
    digest = labels.get(f"{LABEL_PREFIX}.context-digest")
    if not (isinstance(project, str) and isinstance(digest, str)):
        return None
    tag = f"reprobox/{project}:{digest[:16]}"
    return tag if _BUILD_TAG.fullmatch(tag) else None


def tag_pulled(engine: Engine, pulled: str) -> str | None:
    """Tag an image pulled by digest as import tags a bundle's; return the tag.

    A pull by digest gives no tag, so the image would be `<none>`. It takes
    its build's tag from its labels when that is free, else <tag>-sealed
    (tag_beside_build). One whose labels give no build tag is no image of
    reprobox: it is removed again (unless tagged otherwise), and None returned.
    """
    tag = build_tag_of(image_labels(engine, pulled))
    if tag is None:
        drop_if_untagged(engine, pulled, None)
        return None
    return tag_sealed_beside(engine, pulled, tag)


def _tag_shipped(
    dest: Engine,
    wanted: str,
    tag: str,
    before: str | None,
    on_tagged: OnTagged | None,
) -> None:
    """Tag image wanted as tag on dest, which named image before (or nothing)."""
    repo, _, tag_part = tag.rpartition(":")
    try:
        dest.client.images.get(wanted).tag(repo, tag_part)
        if on_tagged is not None:
            on_tagged(tag, True)
    except BaseException as exc:
        if raised_by_a_stop(exc):  # a stop, or an error a stop caused
            # The engine may have applied the tag before the stop cut the answer.
            report_interrupted_tag(
                dest, tag, before, lambda now: now == wanted, on_tagged
            )
            raise
        if isinstance(
            exc, (docker.errors.DockerException, requests.exceptions.RequestException)
        ):
            raise engine_failure(dest, f"tagging {wanted[:19]} as {tag}", exc) from None
        raise


def _check_arrived(dest: Engine, wanted: str) -> None:
    """Refuse a shipment after which dest does not hold image wanted by id."""
    got = image_id(dest, wanted)
    if got != wanted:
        raise EngineError(
            f"image on the other engine has id {got}, expected {wanted}",
            hint="the registry or the stream changed the image; push it again",
        )


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
    `reprobox verify` checks against the record's `image.layers`. A record
    holding a token of a published format is refused: the label is pushed.
    """
    refuse_record_tokens(record, f"the record of run {record.get('run_id')}")
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


def manifest_labels(manifest_text: str, where: str = "") -> dict[str, str]:
    """Return the labels that carry the manifest, in parts small enough for argv.

    A project with many data files has a manifest larger than one argument may
    be (128 KiB): it travels in parts, like the lock. Unlike the lock it cannot
    be left out, so one too large for the build's argv is refused, with a fix
    for the section that holds most of it. where prefixes the message (the
    config file, when freeze refuses it before anything is written).
    """
    labels = _split_label(MANIFEST_LABEL, manifest_text)
    if len(labels) > MAX_MANIFEST_PARTS:
        section = _largest_section(manifest_text)
        held = f" ({section} holds most of it)" if section else ""
        raise InputError(
            f"{where}the manifest is {len(manifest_text) // 1000} KB{held}, more "
            "than an image's labels can carry "
            f"({MAX_MANIFEST_PARTS * LOCK_PART_CHARS // 1000} KB)",
            hint=_SHRINK.get(section or "", "freeze a smaller setup"),
        )
    return labels


# How to make each large manifest section smaller.
_SHRINK = {
    "data": "declare fewer, larger data files (an archive of many small ones)",
    "environment": "set fewer variables in [env] and pass_env (let the script "
    "read the rest from a file in the project)",
    "packages": "lock fewer packages (leave out what training does not import)",
    "metrics": "list fewer metrics and tolerances in [metrics]",
}


def _largest_section(manifest_text: str) -> str | None:
    """Name the manifest section whose JSON text is longest, if it parses."""
    try:
        manifest = loads_strict(manifest_text, Path("manifest"))
    except (ValueError, RecursionError, InputError):
        return None
    if not isinstance(manifest, dict) or not manifest:
        return None
    return max(manifest, key=lambda key: len(dump_json(manifest[key])))


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


def short_repr(value: Any) -> str:
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
