"""Whether a step that ends by tagging an image made its tag, when a stop cut it.

Docker finishes some steps on its own once they have begun: a BuildKit build
stopped while it exports layers still writes and tags its image, after its CLI
was told to stop. So what an interrupted build, import or shipment left is
asked of the engine, never assumed from where the stop landed.
"""

from __future__ import annotations

from collections.abc import Callable

import docker.errors
import requests

from reprobox.engine import Engine, image_id
from reprobox.errors import ReproboxError
from reprobox.stopping import signals_held

# Told (tag, made): made is True when the step made the tag, None when the
# engine could not say; a step that made nothing calls nobody.
OnTagged = Callable[[str, bool | None], None]


def tag_made_since(
    engine: Engine, tag: str, before: str | None, ours: Callable[[str], bool]
) -> bool | None:
    """Tell whether tag now names an image that ours accepts and before did not.

    before is the image id the tag named when the step began (None: free).
    None when the engine does not answer: the caller must not claim either way.
    """
    try:
        now = image_id(engine, tag)
        return now is not None and now != before and ours(now)
    except (
        ReproboxError,
        docker.errors.DockerException,
        requests.exceptions.RequestException,
    ):
        return None


def report_interrupted_tag(
    engine: Engine,
    tag: str,
    before: str | None,
    ours: Callable[[str], bool],
    on_tagged: OnTagged | None,
    *,
    may_follow: bool = False,
) -> None:
    """After a stop cut a tagging step: tell on_tagged if the tag was made.

    may_follow says the engine may still make the tag after this (a build
    whose CLI had to be killed): a tag not there yet is then not known to
    stay away. Signals are held meanwhile, so a second Ctrl-C cannot cut the
    question short and leave the first stop reported as if nothing was made.
    """
    if on_tagged is None:
        return
    with signals_held():
        made = tag_made_since(engine, tag, before, ours)
        if made is False and may_follow:
            made = None
        if made is not False:
            on_tagged(tag, made)
