"""Where reprobox puts a sealed copy's tag, and what becomes of an image a tag
moved off.

Two rules hold for every tag reprobox sets (the build's tag, `<tag>-sealed`,
the registry name a push gives): a sealed copy arriving beside another image
of its build never takes a tag from that image (tag_beside_build), and an
image a tag did move off (a newer seal, a push, a stream onto the tag, a
`build --force`) is removed once no tag names it, unless a container still
uses it (drop_if_untagged), also when it still holds the registry digests
of pushes under several paths. So no action of reprobox leaves
`<none>:<none>` behind; a record of a run on a removed image keeps its id.
"""

from __future__ import annotations

import docker.errors
import requests.exceptions

from reprobox.engine import LABEL_PREFIX, Engine

PROJECT_LABEL = f"{LABEL_PREFIX}.project"
_TROUBLE = (docker.errors.DockerException, requests.exceptions.RequestException)


def sealed_beside(build_tag: str) -> str:
    """Return the tag of a build's sealed copy on an engine that holds both."""
    return f"{build_tag}-sealed"


def project_of_tag(build_tag: str) -> str | None:
    """Return the project a build tag (reprobox/<project>:<hex>) names, else None."""
    repo, colon, _ = build_tag.rpartition(":")
    owner, slash, name = repo.partition("/")
    plain = colon and slash and owner == "reprobox" and name and "/" not in name
    return name if plain else None


def tag_beside_build(
    build_tag: str, present: str | None, beside: str | None, arriving: str
) -> str:
    """Return the tag a sealed image arriving on an engine takes there.

    present and beside: the images the build's tag and <tag>-sealed name on
    this engine now (None where free). The build's tag when it is free or
    names that image already; else <tag>-sealed when that is free or names
    it; else <tag>-sealed-<its 12-hex id>. import and `run --host` both ask
    this, so neither takes a tag from another image, nor leaves the arriving
    one untagged.
    """
    if present is None or present == arriving:
        return build_tag
    sealed = sealed_beside(build_tag)
    if beside is None or beside == arriving:
        return sealed
    return f"{sealed}-{arriving.removeprefix('sha256:')[:12]}"


def arrival_tag(engine: Engine, build_tag: str, arriving: str) -> str:
    """Return tag_beside_build's answer for arriving, from what engine's
    build tag and <tag>-sealed name now."""
    from reprobox.engine import image_id

    return tag_beside_build(
        build_tag,
        image_id(engine, build_tag),
        image_id(engine, sealed_beside(build_tag)),
        arriving,
    )


def drop_if_untagged(engine: Engine, image: str | None, project: str | None) -> bool:
    """Remove image once no tag names it and no container uses it; say if gone.

    Called on an image a tag just moved off. One the user tagged otherwise,
    one a container (running or stopped) uses, or one other images are built
    on, the engine refuses to remove: it stays. project: the project whose
    image it is, if known; an image pushed to registries under two paths
    keeps their digests once untagged, and only one labelled with it is
    removed then (see _drop_under_digests).
    """
    if image is None:
        return False
    try:
        found = engine.client.images.get(image)
        if found.tags:
            return False
        if len(_digest_repositories(found)) > 1:
            return _drop_under_digests(engine, found, project)
        engine.client.images.remove(image, noprune=False)
    except _TROUBLE:
        return False  # in use, a parent, or already gone: nothing to tidy
    return True


def _digest_repositories(image) -> set[str]:
    """Return the repositories whose digests name image (RepoDigests)."""
    digests = (image.attrs or {}).get("RepoDigests") or []
    return {ref.rpartition("@")[0] for ref in digests if isinstance(ref, str)}


def _drop_under_digests(engine: Engine, image, project: str | None) -> bool:
    """Remove an untagged image that digests in several repositories name.

    The engine refuses a plain removal of such an image ("referenced in
    multiple repositories"), whoever uses it; forced, it would remove one a
    stopped container uses. So it is forced only for an image of project's
    that no container, running or stopped, uses.
    """
    labels = image.labels or {}
    if project is None or labels.get(PROJECT_LABEL) != project:
        return False
    used = engine.client.containers.list(
        all=True, sparse=True, filters={"ancestor": image.id}
    )
    if used:
        return False
    engine.client.images.remove(image.id, force=True, noprune=False)
    return True
