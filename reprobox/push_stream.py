"""Read the progress stream of a push: its retries, its digest, its error.

Docker's engine retries a layer upload that failed (5 tries, waiting 5, 10,
15 then 20 seconds) and streams a countdown, "Retrying in N seconds", once a
second. Read silently, a registry answering HTTP 500 to everything looks like
a push that hangs for most of a minute; so each retry is said once, and the
error the stream ends in is told with the registry and its HTTP status, or,
where the registry's reply was broken (cut short, malformed, a success status
where the registry API answers otherwise), with what was wrong with it.

A push can also wait without a word: the engine uploads a few layers at a
time, and an upload still going on inside it (a push stopped earlier keeps
uploading there) holds its turn; a registry can stop reading an upload. So
a stream silent for a while is told too, with what it waits for.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
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

# How long a push stream may say nothing before the wait is told.
STALL_S = 30.0
# dockerd (20.10 to 27) says "Waiting" of a layer queued for one of its few
# upload slots (max-concurrent-uploads, 5 by default). A layer that holds a
# slot says "Preparing" while the registry is asked whether it has it, then
# "Pushing" as its bytes go, "Retrying in N seconds" between two tries.
_QUEUED = "Waiting"
_AT_REGISTRY = ("Preparing", "Pushing", "Retrying in ")


def read_push_stream(
    events: Iterable[Mapping[str, Any]],
    registry: str,
    hint: str,
    on_progress: Callable[[str], None] | None = None,
    on_stall: Callable[[str], None] | None = None,
    stall_s: float = STALL_S,
) -> str | None:
    """Return the digest a push stream reports; say each retry, raise its error.

    Layers upload side by side and each counts its own retries; a retry is
    said when some layer reaches a retry number not said yet, so a registry
    failing every upload gives one line per round, not one per layer.

    on_stall is told once each time the stream says nothing for stall_s
    seconds: what the push waits for (see stall_message).
    """
    digest = None
    countdown: dict[str, int] = {}  # layer -> the seconds its last status said
    retries: dict[str, int] = {}
    said = 0
    layers: dict[str, str] = {}  # layer -> its last status
    silent = 0  # stall_s periods without an event, since the last one
    stream = events if on_stall is None else _with_silences(events, stall_s)
    for event in stream:
        if event is None:
            silent += 1
            if silent == 1 and on_stall is not None:  # once per stall
                on_stall(stall_message(registry, layers, stall_s))
            continue
        silent = 0
        if event.get("id") and event.get("status"):
            layers[str(event["id"])] = str(event["status"])
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


def stall_message(registry: str, layers: Mapping[str, str], seconds: float) -> str:
    """Say why a push stream went quiet, from each layer's last status.

    Layers queued while no layer of this push holds a slot wait on uploads
    that are not this push's: another push inside the engine, often one
    stopped earlier. A layer that holds a slot waits on the registry.
    """
    quiet = f"push to {registry}: no progress for {seconds:g}s"
    queued = sum(status == _QUEUED for status in layers.values())
    sending = sum(status.startswith(_AT_REGISTRY) for status in layers.values())
    if queued and not sending:
        return (
            f"{quiet}: {_layers(queued, 'waits', 'wait')} for a turn to upload. "
            "The Docker engine uploads only a few layers at a time "
            "(max-concurrent-uploads, 5 by default) and another push still going "
            "on inside it, such as one stopped earlier, holds those turns; this "
            "push goes on when its uploads end"
        )
    if sending:
        waits = f"{_layers(sending, 'being uploaded waits', 'being uploaded wait')}"
    else:
        waits = "the Docker engine waits"
    return (
        f"{quiet}: {waits} on the registry, which is slow or has stopped answering "
        "(or the network to it has); the push goes on when it answers"
    )


def _layers(count: int, one: str, many: str) -> str:
    return f"1 layer {one}" if count == 1 else f"{count} layers {many}"


_END = object()


def _with_silences(
    events: Iterable[Mapping[str, Any]], silence_s: float
) -> Iterator[Mapping[str, Any] | None]:
    """Yield each event, and None each time silence_s pass without one.

    The events are read on a daemon thread, so that the wait for the next
    one can time out here. A Ctrl-C still lands in this (the main) thread,
    as it did in the read; the reader, blocked on the engine, dies with the
    process. What ends the read (an engine error, a dropped connection) is
    raised here.
    """
    box: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            for event in events:
                box.put((event, None))
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            box.put((_END, exc))
        else:
            box.put((_END, None))

    threading.Thread(target=read, name="push-stream", daemon=True).start()
    while True:
        try:
            event, failure = box.get(timeout=silence_s)
        except queue.Empty:
            yield None
            continue
        if failure is not None:
            raise failure
        if event is _END:
            return
        yield event


# The engine's words for a registry that never answered, or could not be
# reached: nothing was refused (brk r48 BP 5: a registry that accepted the
# connection and then said nothing "refused the push").
_NO_ANSWER = re.compile(
    r"context deadline exceeded|Client\.Timeout exceeded|i/o timeout"
    r"|TLS handshake timeout|awaiting headers",
    re.I,
)
_NOT_REACHED = re.compile(
    r"connection refused|no route to host|no such host|network is unreachable"
    r"|connection reset by peer",
    re.I,
)


def _unanswered(registry: str, error: str) -> str:
    """Say how a push that ended with no HTTP status went: a registry that
    did not answer in time, one not reached, or one that refused it."""
    if _NO_ANSWER.search(error):
        return f"{registry} did not answer the push in time"
    if _NOT_REACHED.search(error):
        return f"the push could not reach {registry}"
    return f"{registry} refused the push"


def push_error(registry: str, error: str, hint: str) -> EngineError:
    """Return the one-line error for a push stream that ended in error."""
    first = first_line(error)
    status = http_status(first)
    broken = broken_reply(first, status)
    if broken is not None:
        return EngineError(f"{registry} gave the push {broken}", hint=hint)
    if status is None:
        return EngineError(f"{_unanswered(registry, first)}: {first}", hint=hint)
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
