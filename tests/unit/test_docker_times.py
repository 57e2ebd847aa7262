"""The engine's container times, read as seconds, for a record's duration_s."""

from __future__ import annotations

import pytest

from reprobox.docker_times import engine_time, finished_at, wall_seconds


def test_nine_digits_of_a_second_are_read_whole():
    # datetime reads six: the engine writes nine, and they must not be dropped.
    assert engine_time("1970-01-01T00:00:01.123456789Z") == pytest.approx(
        1.123456789, abs=1e-9
    )
    assert engine_time("1970-01-02T00:00:00Z") == 86400.0


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00Z",  # the zero time: not happened
        "2026-12-06T12:18:40+01:00",  # not UTC: never written by the engine
        "2026-13-06T12:18:40Z",
        "2026-12-06T12:18:40.1234567890Z",
        "",
        None,
        12,
    ],
)
def test_what_is_no_engine_time_is_none(value):
    assert engine_time(value) is None


def test_the_wall_time_is_start_to_finish_to_the_millisecond():
    state = {
        "StartedAt": "2026-12-06T12:00:00.100000000Z",
        "FinishedAt": "2026-12-06T12:01:02.345678901Z",
    }
    assert wall_seconds(state) == 62.246


@pytest.mark.parametrize(
    "state",
    [
        {"StartedAt": "2026-12-06T12:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"},
        {"StartedAt": "2026-12-06T12:00:01Z", "FinishedAt": "2026-12-06T12:00:00Z"},
        {"StartedAt": "2026-12-06T12:00:00Z"},
        None,
    ],
)
def test_a_wall_time_the_engine_does_not_give_is_none(state):
    assert wall_seconds(state) is None


def test_the_stop_is_given_only_with_a_known_start():
    ran = {
        "StartedAt": "1970-01-01T00:00:01Z",
        "FinishedAt": "1970-01-01T00:00:03.5Z",
    }
    assert finished_at(ran) == 3.5
    assert finished_at({**ran, "StartedAt": "0001-01-01T00:00:00Z"}) is None
    assert finished_at({**ran, "StartedAt": "1970-01-01T00:00:04Z"}) is None
