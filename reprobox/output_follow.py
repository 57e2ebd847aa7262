"""Read everything a running container prints, to its last byte.

The engine's follow stream can end as the container stops, before its log
driver has written the last of the output: the end of a line with no newline
is kept only when the process's pipe closes, and a follower the engine has
already let go never sees it. Once the container has stopped the engine's log
is whole, so it is read again and what the stream missed is given out too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import docker.errors


def followed_output(container) -> Iterator[bytes]:
    """Yield what container prints as it prints it, then, once it has stopped,
    the end of its output that the follow stream missed."""
    seen = hashlib.sha256()
    received = 0
    for chunk in container.logs(stream=True, follow=True):
        seen.update(chunk)
        received += len(chunk)
        yield chunk
    try:
        container.wait()
        kept = container.logs(stream=True, follow=False)
        yield from output_after(kept, received, seen.digest())
    except docker.errors.NotFound:
        return  # removed meanwhile (a cancelled run): the stream was all of it


def output_after(
    kept: Iterable[bytes], received: int, digest: bytes
) -> Iterator[bytes]:
    """Yield what kept holds past its first received bytes, if those are the
    bytes whose sha256 is digest.

    Where they are not (a log driver that rotated the start of the output
    away), where the rest begins is unknown: nothing is yielded, rather than
    a piece given twice or out of place.
    """
    start = hashlib.sha256()
    left = received  # bytes of kept still to match against what was received
    for chunk in kept:
        if left:
            head, chunk = chunk[:left], chunk[left:]
            start.update(head)
            left -= len(head)
            if left:
                continue
            if start.digest() != digest:
                return
        if chunk:
            yield chunk
