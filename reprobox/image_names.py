"""The name a run record gives the image that ran: one that names that image.

A record's `image.ref` is what a reader pulls or looks up to get the image
again, so it must name the image that ran, not another image of the same
build: verify of a build's tag runs its sealed copy, and a run may find the
published image by id. `image.digest` is the registry digest the engine lists
for the image (RepoDigests), never one only a file claims.
"""

from __future__ import annotations

from collections.abc import Sequence

import docker.errors
import requests.exceptions

from reprobox.engine import Engine
from reprobox.secret_shapes import token_in_name


def repository_of(ref: str) -> str:
    """Return ref without its tag or digest: `host:5000/a/b:t` -> `host:5000/a/b`."""
    name = ref.split("@", 1)[0]
    head, sep, tail = name.rpartition(":")
    return head if sep and "/" not in tail else name


def choose_name(
    asked: str,
    names_it: bool,
    image: str,
    tags: Sequence[str],
    repo_digests: Sequence[str],
) -> tuple[str, str | None]:
    """Return (ref, digest) for a record of image, which ran as asked.

    names_it: whether asked names image on its engine. It is kept when it
    does and holds no token of a published format (nor is any other name
    that holds one); else the image's registry name (`repo@sha256:...`) from
    repo_digests, else its own tag, else its id. digest is the one ref holds,
    else one repo_digests lists (of ref's repository where there is one).
    """
    # A name holding a token (a push to a registry path that held one, before
    # push refused such paths) is no name a record may keep: left out.
    digests = sorted(
        d for d in repo_digests if "@sha256:" in d and not token_in_name(d)
    )
    tags = [t for t in tags if not token_in_name(t)]
    names_it = names_it and not token_in_name(asked)
    if names_it:
        ref = asked
    elif digests:
        ref = digests[0]
    elif tags:
        ref = sorted(tags)[0]
    else:
        ref = image
    if "@sha256:" in ref:
        return ref, ref.rsplit("@", 1)[1]
    if not digests:
        return ref, None
    same = [d for d in digests if repository_of(d) == repository_of(ref)]
    return ref, (same or digests)[0].rsplit("@", 1)[1]


def recorded_name(engine: Engine, image: str, asked: str) -> tuple[str, str | None]:
    """Return (image.ref, image.digest) for a record of image run as asked."""
    try:
        attrs = engine.client.images.get(image).attrs or {}
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        # Gone, or the engine is away: the run will say so; keep the name asked.
        return asked, asked.rsplit("@", 1)[1] if "@sha256:" in asked else None
    try:
        names_it = engine.client.images.get(asked).id == image
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        names_it = False  # not on the engine (any more), or not a name it takes
    tags = [t for t in attrs.get("RepoTags") or [] if t != "<none>:<none>"]
    return choose_name(asked, names_it, image, tags, attrs.get("RepoDigests") or [])
