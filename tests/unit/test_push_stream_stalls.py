"""What a push says when the engine's stream goes quiet, and why it waits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
import requests

from reprobox.errors import EngineError
from reprobox.push_stream import read_push_stream

REGISTRY = "127.0.0.1:45391"
HINT = "check that a registry answers there"
DIGEST = "sha256:" + "d" * 64
STALL_S = 0.3  # the CLI waits 30 s; a pause of PAUSE_S is one stall here
PAUSE_S = 0.8
QUIET = f"push to {REGISTRY}: no progress for 0.3s"
ENGINE_HOLDS = (
    "for a turn to upload. The Docker engine uploads only a few layers at a "
    "time (max-concurrent-uploads, 5 by default) and another push still going on "
    "inside it, such as one stopped earlier, holds those turns; this push goes on "
    "when its uploads end"
)
REGISTRY_HOLDS = (
    "on the registry, which is slow or has stopped answering (or the network to "
    "it has); the push goes on when it answers"
)


def paced(*steps):
    """Yield the events of steps; a number among them is a pause in seconds."""
    for step in steps:
        if isinstance(step, float):
            time.sleep(step)
        else:
            yield step


def layer(layer_id: str, status: str, **detail) -> dict:
    return {"status": status, "progressDetail": detail, "id": layer_id}


DONE = {"progressDetail": {}, "aux": {"Tag": "t", "Digest": DIGEST, "Size": 1367}}


def read(*steps, stall_s: float = STALL_S) -> tuple[str | None, list[str]]:
    stalls = []
    digest = read_push_stream(
        paced(*steps), REGISTRY, HINT, on_stall=stalls.append, stall_s=stall_s
    )
    return digest, stalls


def test_layers_queued_behind_uploads_not_this_pushs_say_the_engine_holds_them():
    # brk r44: a push stopped earlier kept uploading inside the engine; the
    # next push sat silent for ten minutes with its layers "Waiting".
    digest, stalls = read(
        {"status": "The push refers to repository [127.0.0.1:45391/reprobox/x]"},
        *(layer(name, "Preparing") for name in ("aaa", "bbb", "ccc")),
        layer("aaa", "Waiting"),
        layer("bbb", "Waiting"),
        layer("ccc", "Layer already exists"),
        PAUSE_S,
        layer("aaa", "Pushing", current=512, total=1024),
        layer("aaa", "Pushed"),
        layer("bbb", "Mounted from reprobox/y"),
        DONE,
    )
    assert digest == DIGEST
    assert stalls == [f"{QUIET}: 2 layers wait {ENGINE_HOLDS}"]


def test_one_queued_layer_is_said_in_the_singular():
    _, stalls = read(layer("aaa", "Preparing"), layer("aaa", "Waiting"), PAUSE_S, DONE)
    assert stalls == [f"{QUIET}: 1 layer waits {ENGINE_HOLDS}"]


def test_a_silent_upload_says_the_registry_holds_it():
    # What a registry that stops reading a blob upload gives (dockerd 20.10,
    # seen through a proxy holding the PATCH): the layer's last word "Pushing".
    _, stalls = read(
        layer("aaa", "Preparing"),
        layer("bbb", "Preparing"),
        layer("aaa", "Pushing", current=230400, total=20000286),
        layer("bbb", "Layer already exists"),
        PAUSE_S,
        layer("aaa", "Pushed"),
        DONE,
    )
    assert stalls == [f"{QUIET}: 1 layer being uploaded waits {REGISTRY_HOLDS}"]


def test_layers_queued_behind_this_pushs_own_silent_uploads_blame_the_registry():
    # The turns are this push's: the engine holds nothing of another push.
    _, stalls = read(
        *(layer(name, "Preparing") for name in ("aaa", "bbb", "ccc")),
        layer("ccc", "Waiting"),
        layer("aaa", "Pushing", current=1, total=9),
        PAUSE_S,
        DONE,
    )
    assert stalls == [f"{QUIET}: 2 layers being uploaded wait {REGISTRY_HOLDS}"]


def test_a_silence_once_every_layer_is_sent_waits_on_the_registry():
    _, stalls = read(layer("aaa", "Pushed"), PAUSE_S, DONE)
    assert stalls == [f"{QUIET}: the Docker engine waits {REGISTRY_HOLDS}"]


def test_a_long_stall_is_said_once_and_each_new_stall_again():
    _, stalls = read(
        layer("aaa", "Waiting"),
        PAUSE_S * 2,  # four stall periods: one stall
        layer("aaa", "Pushing", current=1, total=9),
        PAUSE_S,
        DONE,
    )
    assert stalls == [
        f"{QUIET}: 1 layer waits {ENGINE_HOLDS}",
        f"{QUIET}: 1 layer being uploaded waits {REGISTRY_HOLDS}",
    ]


def test_layers_waiting_briefly_while_events_flow_say_nothing():
    # Any image of more than 5 new layers queues some; the others' progress
    # keeps the stream talking, so no stall is said.
    pushing = [
        step
        for n in range(12)
        for step in (layer("aaa", "Pushing", current=n, total=12), 0.05)
    ]
    digest, stalls = read(
        layer("bbb", "Waiting"), *pushing, layer("bbb", "Pushed"), DONE, stall_s=1.0
    )
    assert (digest, stalls) == (DIGEST, [])


def test_an_error_after_a_stall_ends_the_push_as_before():
    with pytest.raises(EngineError) as info:
        read(layer("aaa", "Waiting"), PAUSE_S, {"error": "unexpected HTTP status: 500"})
    assert info.value.message == (
        f"{REGISTRY} answered the push with HTTP 500 Internal Server Error"
    )


def test_what_breaks_the_stream_is_raised_in_the_caller():
    def broken():
        yield layer("aaa", "Pushing", current=1, total=9)
        raise requests.exceptions.ConnectionError("engine gone")

    with pytest.raises(requests.exceptions.ConnectionError, match="engine gone"):
        read_push_stream(broken(), REGISTRY, HINT, on_stall=print, stall_s=STALL_S)


def test_ctrl_c_during_a_silent_push_stops_it_and_leaves_no_thread_behind():
    # The stream is read on a thread so that its silence can time out; a
    # Ctrl-C must still stop the push at once, and the reader, blocked on an
    # engine that never answers, must not keep the process alive.
    script = textwrap.dedent(
        """
        import os, signal, threading, time
        from reprobox.push_stream import read_push_stream

        def never_answers():
            yield {"status": "Waiting", "id": "aaa"}
            threading.Event().wait()

        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        stalls, started = [], time.monotonic()
        try:
            read_push_stream(never_answers(), "r", "h", on_stall=stalls.append,
                             stall_s=0.2)
        except KeyboardInterrupt:
            print("stopped at once:", time.monotonic() - started < 5, len(stalls))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (0, "stopped at once: True 1\n"), (
        done.stderr
    )
