"""A run reads the engine's log again once its container stops, for the end
that the follow stream missed, and gives each byte out once."""

from __future__ import annotations

import hashlib

import docker.errors

from reprobox.output_follow import followed_output, output_after


class _Stopping:
    """A container whose follow stream ends before its last output is kept."""

    def __init__(self, followed: list[bytes], kept: list[bytes]):
        self.followed, self.kept = followed, kept
        self.calls: list[str] = []

    def logs(self, stream=False, follow=False):
        assert stream
        self.calls.append("follow" if follow else "read")
        return iter(self.followed if follow else self.kept)

    def wait(self):
        self.calls.append("wait")
        return {"StatusCode": 1}


def test_the_end_the_follow_stream_missed_comes_after_the_container_stops():
    container = _Stopping(
        [b"first line\n", b"ERR"], [b"first line\nERR", b"OR: final", b" words"]
    )

    chunks = list(followed_output(container))

    assert chunks == [b"first line\n", b"ERR", b"OR: final", b" words"]
    assert container.calls == ["follow", "wait", "read"]


def test_a_stream_that_missed_nothing_gives_nothing_twice():
    container = _Stopping([b"a\n", b"b"], [b"a\nb"])

    assert list(followed_output(container)) == [b"a\n", b"b"]


def test_a_container_removed_meanwhile_ends_with_what_was_followed():
    class Removed(_Stopping):
        def wait(self):
            raise docker.errors.NotFound("no such container")

    assert list(followed_output(Removed([b"a\n"], []))) == [b"a\n"]


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_the_rest_begins_inside_a_chunk_of_the_kept_log():
    kept = [b"ab", b"cde", b"f"]

    assert list(output_after(kept, 3, _digest(b"abc"))) == [b"de", b"f"]


def test_a_kept_log_that_does_not_begin_with_what_was_received_gives_nothing():
    # A log driver that rotated the first lines away: "cdef" is not "abc...".
    assert list(output_after([b"cdef", b"gh"], 3, _digest(b"abc"))) == []


def test_a_kept_log_shorter_than_what_was_received_gives_nothing():
    assert list(output_after([b"ab"], 3, _digest(b"abc"))) == []
