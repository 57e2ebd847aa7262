"""A resolver that runs SLOW_S seconds says what it waits on, once."""

from __future__ import annotations

import time

import pytest

from reprobox.config import load_config
from reprobox.freeze import freeze_project
from reprobox.lock import PackageIndexes, resolve_lock
from reprobox.lock import resolve as resolve_module
from reprobox.lock.resolve import slow_message

TOKEN = "tok-planted-9d8e7f"
INDEX = f"http://__token__:{TOKEN}@127.0.0.1:43690/simple/"
LOCK = f"six==1.17.0 \\\n    --hash=sha256:{'b' * 64}\n"
UV_WAITS = (
    "still resolving the requirements after 30 s: a package index that is slow "
    "or does not answer holds it up (asked: http://***@127.0.0.1:43690/simple/, "
    "https://mirror.example/simple/); uv gives up on one that does not answer "
    "after its timeout (30 s a request, retried 3 times)"
)


@pytest.fixture
def uv_taking(monkeypatch, fake_runner):
    """Return a setter: the fake uv compile takes that many seconds."""
    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")
    taking = {"s": 0.0}

    def handler(argv):
        if argv[1:] == ["--version"]:
            return 0, "uv 0.13.9\n", ""
        time.sleep(taking["s"])
        return 0, LOCK, ""

    fake_runner(handler)
    return lambda seconds: taking.update(s=seconds)


def test_a_resolver_past_the_limit_is_said_once_with_its_indexes(
    uv_taking, monkeypatch
):
    monkeypatch.setattr(resolve_module, "SLOW_S", 0.05)
    uv_taking(0.5)
    told: list[str] = []
    indexes = PackageIndexes(INDEX, ("https://mirror.example/simple/",), (TOKEN,))
    lock = resolve_lock(["six==1.17.0"], indexes=indexes, on_slow=told.append)
    assert lock.pins == {"six": "1.17.0"}
    assert told == [UV_WAITS.replace("after 30 s", "after 0.05 s")]


def test_a_resolver_that_ends_in_time_says_nothing(uv_taking, monkeypatch):
    monkeypatch.setattr(resolve_module, "SLOW_S", 0.3)
    told: list[str] = []
    resolve_lock(["six==1.17.0"], on_slow=told.append)
    time.sleep(0.5)  # past SLOW_S: a timer left running would have told by now
    assert told == []


def test_the_message_names_pypi_and_pip_when_those_are_used():
    assert slow_message(PackageIndexes(), uv=False) == (
        "still resolving the requirements after 30 s: a package index that is "
        "slow or does not answer holds it up (asked: https://pypi.org/simple); "
        "pip gives up on one that does not answer after its timeout (15 s a "
        "request, retried 5 times)"
    )


def test_the_message_hides_the_credentials_of_the_indexes():
    indexes = PackageIndexes(INDEX, ("https://mirror.example/simple/",), (TOKEN,))
    assert slow_message(indexes, uv=True) == UV_WAITS


def test_freeze_passes_the_message_to_its_caller(tmp_path, uv_taking, monkeypatch):
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
    )
    monkeypatch.setattr(resolve_module, "SLOW_S", 0.05)
    uv_taking(0.5)
    told: list[str] = []
    freeze_project(load_config(tmp_path), environ={}, on_slow=told.append)
    assert told == [
        "still resolving the requirements after 0.05 s: a package index that is "
        "slow or does not answer holds it up (asked: https://pypi.org/simple); uv "
        "gives up on one that does not answer after its timeout (30 s a request, "
        "retried 3 times)"
    ]
