"""What a push says while the engine retries an upload, and how it ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprobox.errors import EXIT_ENGINE, EngineError
from reprobox.push_stream import read_push_stream

# Recorded from dockerd 20.10.24 pushing a one-layer image to a server that
# answers HTTP 500 to every request: 5 tries, 50 seconds, one status a second.
RECORDED_500 = Path(__file__).parent / "data" / "push-500-dockerd-20.10.jsonl"
REGISTRY = "127.0.0.1:45391/x"
HINT = "check that a registry answers there"
LOGIN = "log in with `docker login 127.0.0.1:45391` as this user, then push again"
FORBIDDEN = (
    "the account logged in at 127.0.0.1:45391 may not push there: "
    "`docker login 127.0.0.1:45391` as one that may, or give another --registry"
)


def recorded_500() -> list[dict]:
    lines = RECORDED_500.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_each_retry_of_a_registry_answering_500_is_said_once():
    said = []
    with pytest.raises(EngineError) as info:
        read_push_stream(recorded_500(), REGISTRY, HINT, said.append)
    assert said == [
        f"push to {REGISTRY}: a layer upload failed; "
        f"Docker retries in {seconds}s (retry {n})"
        for n, seconds in enumerate((5, 10, 15, 20), start=1)
    ]
    assert info.value.exit_code == EXIT_ENGINE
    assert str(info.value) == (
        f"{REGISTRY} answered the push with HTTP 500 Internal Server Error "
        "(the registry failed on its side; see its log, then push again)"
    )


def test_without_a_listener_the_retries_are_read_silently():
    with pytest.raises(EngineError, match="HTTP 500 Internal Server Error"):
        read_push_stream(recorded_500(), REGISTRY, HINT)


def test_layers_retrying_side_by_side_give_one_line_per_round():
    said = []
    events = [
        {"status": "Retrying in 5 seconds", "id": "aaa"},
        {"status": "Retrying in 5 seconds", "id": "bbb"},
        {"status": "Retrying in 4 seconds", "id": "aaa"},
        {"status": "Retrying in 4 seconds", "id": "bbb"},
        {"status": "Pushed", "id": "bbb"},
        {"status": "Retrying in 10 seconds", "id": "aaa"},
        {"status": "Retrying in 9 seconds", "id": "aaa"},
        {"status": "Pushed", "id": "aaa"},
        {"status": "Retrying in 5 seconds", "id": "ccc"},  # its first: said before
        {"status": "Pushed", "id": "ccc"},
        {"aux": {"Digest": "sha256:" + "d" * 64}},
    ]
    digest = read_push_stream(events, REGISTRY, HINT, said.append)
    assert digest == "sha256:" + "d" * 64
    assert [line.split("; ", 1)[1] for line in said] == [
        "Docker retries in 5s (retry 1)",
        "Docker retries in 10s (retry 2)",
    ]


@pytest.mark.parametrize(
    ("error", "message", "hint"),
    [
        (  # what dockerd 20.10 says of a 405 with an empty body
            'error parsing HTTP 405 response body: unexpected end of JSON input: ""',
            f"{REGISTRY} answered the push with HTTP 405 Method Not Allowed",
            HINT,
        ),
        (
            "received unexpected HTTP status: 502 Bad Gateway",
            f"{REGISTRY} answered the push with HTTP 502 Bad Gateway",
            "the registry failed on its side; see its log, then push again",
        ),
        (  # brk r42 (BE 10): 999 is no HTTP status, not a failure on its side
            "received unexpected HTTP status: 999 Weird",
            f"{REGISTRY} answered the push with HTTP 999",
            "that is no HTTP status: check what answers at 127.0.0.1:45391 (a "
            "registry speaks HTTP), then push again",
        ),
        (  # dockerd 20.10, a 401 with no body and no challenge
            "unauthorized: authentication required\nmore",
            f"{REGISTRY} answered the push with HTTP 401 Unauthorized "
            "(unauthorized: authentication required)",
            LOGIN,
        ),
        (  # dockerd 20.10, a 401 asking for Basic credentials it has not got
            "no basic auth credentials",
            f"{REGISTRY} answered the push with HTTP 401 Unauthorized "
            "(no basic auth credentials)",
            LOGIN,
        ),
        (  # dockerd 20.10, a 403 with no body
            'error parsing HTTP 403 response body: unexpected end of JSON input: ""',
            f"{REGISTRY} answered the push with HTTP 403 Forbidden",
            FORBIDDEN,
        ),
        (  # Docker Hub without the right to push there
            "denied: requested access to the resource is denied",
            f"{REGISTRY} answered the push with HTTP 403 Forbidden "
            "(denied: requested access to the resource is denied)",
            FORBIDDEN,
        ),
        (  # dockerd 20.10, a 403 whose body says DENIED
            "denied",
            f"{REGISTRY} answered the push with HTTP 403 Forbidden (denied)",
            FORBIDDEN,
        ),
        (  # dockerd 20.10, a 404 with no body
            'error parsing HTTP 404 response body: unexpected end of JSON input: ""',
            f"{REGISTRY} answered the push with HTTP 404 Not Found",
            HINT,
        ),
        (  # dockerd 20.10, a 404 whose body says NAME_UNKNOWN
            "name unknown",
            f"{REGISTRY} answered the push with HTTP 404 Not Found (name unknown)",
            HINT,
        ),
        (  # dockerd 20.10, a 429 whose body says TOOMANYREQUESTS
            "toomanyrequests: slow down",
            f"{REGISTRY} answered the push with HTTP 429 Too Many Requests "
            "(toomanyrequests: slow down)",
            "the registry limits how often it is called; wait, then push again",
        ),
        (  # dockerd 20.10, a 500 with no body
            "received unexpected HTTP status: 500 Internal Server Error",
            f"{REGISTRY} answered the push with HTTP 500 Internal Server Error",
            "the registry failed on its side; see its log, then push again",
        ),
        (  # words that only start like a code are no status
            "unknown blob in layer 3",
            f"{REGISTRY} refused the push: unknown blob in layer 3",
            HINT,
        ),
        (  # brk r48 (BP 5): a registry that took the connection, then slept
            'Get "http://127.0.0.1:5803/v2/": context deadline exceeded '
            "(Client.Timeout exceeded while awaiting headers)",
            f"{REGISTRY} did not answer the push in time: Get "
            '"http://127.0.0.1:5803/v2/": context deadline exceeded '
            "(Client.Timeout exceeded while awaiting headers)",
            HINT,
        ),
        (
            'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: '
            "connection refused",
            f"the push could not reach {REGISTRY}: Get "
            '"http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: '
            "connection refused",
            HINT,
        ),
    ],
)
def test_the_error_a_push_ends_in_is_one_line(error, message, hint):
    with pytest.raises(EngineError) as info:
        read_push_stream([{"status": "Preparing"}, {"error": error}], REGISTRY, HINT)
    assert (info.value.message, info.value.hint) == (message, hint)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (  # AZ 4: dockerd 20.10, a 200 with Content-Length 1000 and a few bytes
            "received unexpected HTTP status: 200 OK",
            "a malformed reply: HTTP 200 OK, a success status, but not the one the "
            "registry API answers that step with",
        ),
        (
            "received unexpected HTTP status: 302 Found",
            "a malformed reply: HTTP 302 Found, not the one the registry API "
            "answers that step with",
        ),
        (
            'error parsing HTTP 200 response body: unexpected end of JSON input: ""',
            "a reply cut short: HTTP 200 OK with a body no registry sends "
            "(unexpected end of JSON input)",
        ),
        (  # dockerd 20.10, a 404 whose body ends before its Content-Length
            "unexpected EOF",
            "a reply cut short: unexpected EOF",
        ),
        (
            'Put "http://127.0.0.1:45391/v2/x/manifests/t": EOF',
            'a reply cut short: Put "http://127.0.0.1:45391/v2/x/manifests/t": EOF',
        ),
        (  # dockerd 20.10, a 200 to every request, headers and all
            "invalid checksum digest format",
            "a malformed reply: invalid checksum digest format",
        ),
        (  # brk r41 (BD 4): a /v2/ check answered "HTTP/1.1 2", then closed
            'Get "http://127.0.0.1:5992/v2/": net/http: HTTP/1.x transport '
            'connection broken: malformed HTTP status code "2"',
            'a malformed reply: Get "http://127.0.0.1:5992/v2/": net/http: '
            "HTTP/1.x transport connection broken: malformed HTTP status code "
            '"2"',
        ),
    ],
)
def test_a_broken_reply_is_said_as_such_not_as_its_status(error, said):
    # AZ 4: a 200 whose body was cut short ended the push as "answered the
    # push with HTTP 200 OK", a status that refuses nothing; "unexpected EOF"
    # was "refused the push", where nothing was refused.
    with pytest.raises(EngineError) as info:
        read_push_stream([{"error": error}], REGISTRY, HINT)
    assert info.value.exit_code == EXIT_ENGINE
    assert (info.value.message, info.value.hint) == (
        f"{REGISTRY} gave the push {said}",
        HINT,
    )
