"""Read the progress stream of a push: its retries, its digest, its error.

Docker's engine retries a layer upload that failed (5 tries, waiting 5, 10,
15 then 20 seconds) and streams a countdown, "Retrying in N seconds", once a
second. Read silently, a registry answering HTTP 500 to everything looks like
a push that hangs for most of a minute; so each retry is said once, and the
error the stream ends in is told with the registry and its HTTP status, or,
where the registry's reply was broken (cut short, malformed, a success status
where the registry API answers otherwise), with what was wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from reprobox.errors import EngineError, first_line

_RETRY = re.compile(r"Retrying in (\d+) seconds?")
# How the engine words a registry's HTTP answer in a push error.
_HTTP_STATUS = (
    re.compile(r"unexpected HTTP status: (\d{3})\b"),
    re.compile(r"error parsing HTTP (\d{3}) response body"),
)
# Where the registry's answer had a body of error codes, the engine gives the
# code ("denied", "unauthorized: authentication required"), not the status:
# the status is the one the registry API pairs with that code. dockerd says
# "no basic auth credentials" for a 401 asking for a login it does not have.
_CODE_STATUS = {
    "unauthorized": 401,
    "no basic auth credentials": 401,
    "denied": 403,
    "name unknown": 404,
    "unsupported": 405,
    "toomanyrequests": 429,
    "unknown": 500,
    "unavailable": 503,
}
_CODE = re.compile(
    "(" + "|".join(map(re.escape, _CODE_STATUS)) + r")(?::|$)", re.IGNORECASE
)
# How the engine (Go's HTTP and JSON readers) words a reply that ended before
# its Content-Length or its JSON did, and one whose content made no sense.
_CUT_SHORT = re.compile(
    r"\bunexpected EOF\b|(?:^|: )EOF$|unexpected end of JSON input"
    r"|connection reset by peer"
)
# Only words of a reply's content: a digest header, a JSON body. An invalid
# reference or request is this side's, and no reply of the registry's.
_MALFORMED = re.compile(
    r"invalid checksum digest format|invalid character .* looking for"
    r"|cannot unmarshal"
    # Go's HTTP client on a reply that is no HTTP: 'malformed HTTP status
    # code "2"', 'malformed HTTP response', 'malformed MIME header line'.
    r"|malformed HTTP |malformed MIME header"
)


def read_push_stream(
    events: Iterable[Mapping[str, Any]],
    registry: str,
    hint: str,
    on_progress: Callable[[str], None] | None = None,
) -> str | None:
    """Return the digest a push stream reports; say each retry, raise its error.

    Layers upload side by side and each counts its own retries; a retry is
    said when some layer reaches a retry number not said yet, so a registry
    failing every upload gives one line per round, not one per layer.
    """
    digest = None
    countdown: dict[str, int] = {}  # layer -> the seconds its last status said
    retries: dict[str, int] = {}
    said = 0
    for event in events:
        if "error" in event:
            raise push_error(registry, str(event["error"]), hint)
        wait = _RETRY.fullmatch(str(event.get("status") or ""))
        if wait:
            layer, seconds = str(event.get("id")), int(wait[1])
            # A countdown ticks down once a second; a larger number starts
            # the layer's next retry.
            if seconds > countdown.get(layer, 0):
                retries[layer] = retries.get(layer, 0) + 1
                if retries[layer] > said and on_progress is not None:
                    on_progress(
                        f"push to {registry}: a layer upload failed; "
                        f"Docker retries in {seconds}s (retry {retries[layer]})"
                    )
                said = max(said, retries[layer])
            countdown[layer] = seconds
        digest = (event.get("aux") or {}).get("Digest") or digest
    return digest


def push_error(registry: str, error: str, hint: str) -> EngineError:
    """Return the one-line error for a push stream that ended in error."""
    first = first_line(error)
    status = http_status(first)
    broken = broken_reply(first, status)
    if broken is not None:
        return EngineError(f"{registry} gave the push {broken}", hint=hint)
    if status is None:
        return EngineError(f"{registry} refused the push: {first}", hint=hint)
    shown = status_words(status)
    if not any(pattern.search(first) for pattern in _HTTP_STATUS):
        shown += f" ({first})"  # the registry's own words say more than the code
    host = registry.split("/", 1)[0]
    if status == 401:
        hint = f"log in with `docker login {host}` as this user, then push again"
    elif status == 403:
        hint = (
            f"the account logged in at {host} may not push there: "
            f"`docker login {host}` as one that may, or give another --registry"
        )
    elif status == 429:
        hint = "the registry limits how often it is called; wait, then push again"
    elif 500 <= status <= 599:
        hint = "the registry failed on its side; see its log, then push again"
    elif not 100 <= status <= 599:
        # HTTP 999 is no status at all: not a failure "on its side" (a 5xx).
        hint = (
            f"that is no HTTP status: check what answers at {host} (a registry "
            "speaks HTTP), then push again"
        )
    return EngineError(f"{registry} answered the push with {shown}", hint=hint)


def http_status(error: str) -> int | None:
    """Return the registry's HTTP status that an engine's push error names."""
    for pattern in _HTTP_STATUS:
        if found := pattern.search(error):
            return int(found[1])
    code = _CODE.match(error)
    return _CODE_STATUS[code[1].lower()] if code else None


def status_words(status: int) -> str:
    """Return an HTTP status as a reply shows it: HTTP 404 Not Found."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def broken_reply(error: str, status: int | None) -> str | None:
    """Say what was wrong with a registry's reply when that, not a refusal, ended
    a push or pull; None when the reply was a refusal (a status of 400 or more)
    or the error says nothing of a reply.

    A 4xx or 5xx says why whatever its body. A status below 400 refuses
    nothing: the engine named it because it was not the one the registry API
    gives at that step (a 200 where an upload wants 202), and a reply cut short
    or of malformed content has no status to name at all.
    """
    if status is not None and status >= 400:
        return None
    kind = "a reply cut short" if _CUT_SHORT.search(error) else "a malformed reply"
    if status is not None:
        shown = status_words(status)
        if "response body: " in error:
            detail = error.split("response body: ", 1)[1].split(": ", 1)[0]
            return f"{kind}: {shown} with a body no registry sends ({detail})"
        success = "a success status, but not" if 200 <= status < 300 else "not"
        return (
            f"{kind}: {shown}, {success} the one the registry API answers that "
            "step with"
        )
    if _CUT_SHORT.search(error) or _MALFORMED.search(error):
        return f"{kind}: {error}"
    return None
