"""Where reprobox puts a sealed copy's tag, and what becomes of an image a tag
moved off.

Two rules hold for every tag reprobox sets (the build's tag, `<tag>-sealed`,
the registry name a push gives): a sealed copy arriving beside another image
of its build never takes a tag from that image (tag_beside_build), and an
image a tag did move off (a newer seal, a push, a stream onto the tag, a
`build --force`) is removed once no tag names it, unless a container still
uses it (drop_if_untagged). So no action of reprobox leaves `<none>:<none>`
behind; a record of a run on a removed image keeps its id.
"""

from __future__ import annotations

import docker.errors
import requests.exceptions

from reprobox.engine import Engine


def sealed_beside(build_tag: str) -> str:
    """Return the tag of a build's sealed copy on an engine that holds both."""
    return f"{build_tag}-sealed"


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


def drop_if_untagged(engine: Engine, image: str | None) -> bool:
    """Remove image once no tag names it and no container uses it; say if gone.

    Called on an image a tag just moved off. One the user tagged otherwise,
    one a container (running or stopped) uses, or one other images are built
    on, the engine refuses to remove: it stays.
    """
    if image is None:
        return False
    try:
        if engine.client.images.get(image).tags:
            return False
        engine.client.images.remove(image, noprune=False)
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False  # in use, a parent, or already gone: nothing to tidy
    return True
