"""`unix://` with no path is docker's default socket: one engine, one key."""

from __future__ import annotations

import os

import pytest

from reprobox.addresses import engine_key
from reprobox.cli_run import _check_engines_distinct, _check_engines_named_once
from reprobox.compare.environment import engine_spelling
from reprobox.errors import InputError


def test_an_empty_unix_address_is_the_default_socket():
    # It was "unix:///" (the root folder), so `-H unix:// -H
    # unix:///var/run/docker.sock` ran twice on one engine.
    assert engine_key("unix://") == engine_key("unix:///var/run/docker.sock")
    assert engine_key("UNIX://") == engine_key("unix:///var/run/docker.sock")


@pytest.mark.skipif(
    os.path.realpath("/var/run") != "/run", reason="/var/run is not a link to /run"
)
def test_an_empty_unix_address_and_run_docker_sock_are_one_engine():
    assert engine_key("unix://") == "unix:///run/docker.sock"
    with pytest.raises(InputError, match="name one engine"):
        _check_engines_named_once("--host", ["unix://", "unix:///run/docker.sock"])


def test_the_root_folder_is_still_not_the_default_socket():
    assert engine_key("unix:///") == "unix:///"


def test_compare_spells_an_empty_unix_address_as_the_default_engine():
    # compare showed "unix:///" for a record that said "unix://".
    assert engine_spelling("unix://") == engine_spelling("default")


class _Client:
    def __init__(self, info):
        self._info = info

    def info(self):
        return self._info


class _Engine:
    def __init__(self, info):
        self.client = _Client(info)
        self.host = None


def test_two_addresses_of_one_daemon_are_refused_by_its_id():
    # A hard link to a socket, or tcp and unix to one daemon: the addresses
    # differ, the daemon's ID does not.
    engines = {
        "unix:///tmp/x/e2.sock": _Engine({"ID": "AAAA:BBBB"}),
        "tcp://10.0.0.9:2375": _Engine({"ID": "CCCC:DDDD"}),
        "unix:///run/reprobox-engine2/docker.sock": _Engine({"ID": "AAAA:BBBB"}),
    }
    with pytest.raises(InputError) as info:
        _check_engines_distinct(engines)
    assert info.value.exit_code == 2
    assert str(info.value) == (
        "--host 'unix:///tmp/x/e2.sock' and --host "
        "'unix:///run/reprobox-engine2/docker.sock' reach one Docker engine "
        "(engine ID AAAA:BBBB) (name each engine once; --repeat N runs N times "
        "on each)"
    )


def test_a_context_and_a_host_on_one_daemon_name_their_flags():
    engines = {
        "context:gpu": _Engine({"ID": "AAAA"}),
        "context:other": _Engine({"ID": "AAAA"}),
    }
    with pytest.raises(InputError) as info:
        _check_engines_distinct(engines)
    assert info.value.message == (
        "--context 'gpu' and --context 'other' reach one Docker engine (engine ID AAAA)"
    )


def test_engines_with_other_ids_or_none_pass():
    engines = {
        "unix:///a.sock": _Engine({"ID": "AAAA"}),
        "unix:///b.sock": _Engine({"ID": "BBBB"}),
        "unix:///c.sock": _Engine({"ID": ""}),  # an engine that does not say
        "unix:///d.sock": _Engine({}),
    }
    assert _check_engines_distinct(engines) is None


@pytest.mark.parametrize(
    ("given", "handed"),
    [
        ("UNIX:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("Unix:///run/x.sock", "unix:///run/x.sock"),
        ("TCP://Host:2375", "tcp://Host:2375"),
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("/var/run/docker.sock", "/var/run/docker.sock"),
    ],
)
def test_the_scheme_is_handed_on_in_lower_case(given, handed):
    # brk r41 (BD 2): build and export --host UNIX://... failed in the docker
    # CLI ("invalid bind address format") while run, push and verify took it.
    from reprobox.index_urls import lower_scheme

    assert lower_scheme(given) == handed


@pytest.mark.parametrize(
    ("host", "env_host", "handed"),
    [
        ("UNIX:///run/e2.sock", None, "unix:///run/e2.sock"),
        (None, "UNIX:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        (None, None, None),
    ],
)
def test_the_build_cli_gets_the_address_in_lower_case_wherever_it_came_from(
    monkeypatch, host, env_host, handed
):
    # The CLI is where the case matters: a --host, a context and DOCKER_HOST
    # all reach it through one place.
    from types import SimpleNamespace

    from reprobox.engine import _cli_env

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    if env_host:
        monkeypatch.setenv("DOCKER_HOST", env_host)
    env = _cli_env(SimpleNamespace(host=host), {})
    assert env.get("DOCKER_HOST") == handed


@pytest.mark.parametrize(
    ("host", "env_host", "base_url", "env_handed"),
    [
        ("UNIX://", None, "unix://", None),
        ("Unix:///run/e2.sock", None, "unix:///run/e2.sock", None),
        (None, "UNIX://", None, "unix://"),
        (None, "unix:///var/run/docker.sock", None, "unix:///var/run/docker.sock"),
    ],
)
def test_the_sdk_gets_the_address_in_lower_case_too(
    monkeypatch, host, env_host, base_url, env_handed
):
    # brk r42 (BE 6, BF 2): `unix://` is the default socket, but the SDK read
    # `UNIX://` (no path) as a socket with an empty path: "no Docker engine
    # answers at UNIX://", from --host and DOCKER_HOST alike.
    import docker

    from reprobox import engine

    handed = {}

    class Answered(Exception):
        pass

    def client(base_url=None, **_):
        handed["base_url"] = base_url
        raise Answered

    def from_env(environment=None, **_):
        handed["env"] = (environment or {}).get("DOCKER_HOST")
        raise Answered

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    if env_host:
        monkeypatch.setenv("DOCKER_HOST", env_host)
    monkeypatch.setattr(docker, "DockerClient", client)
    monkeypatch.setattr(docker, "from_env", from_env)
    with pytest.raises(Answered):
        engine.connect(host=host)
    assert handed == ({"base_url": base_url} if host else {"env": env_handed})


def test_compare_reads_no_link_on_this_machine(tmp_path):
    # brk r48 (BS 1): compare resolved a socket link here, so the same
    # records gave another verdict once the link was removed.
    from reprobox.compare.environment import EngineAddress

    real = tmp_path / "docker.sock"
    real.write_text("")
    link = tmp_path / "link.sock"
    link.symlink_to(real)
    assert engine_spelling(f"unix://{link}") == f"unix://{link}"
    assert engine_spelling("UNIX:///var/run//docker.sock") == "unix:///run/docker.sock"
    assert engine_spelling("unix:///a/b/../docker.sock") == "unix:///a/docker.sock"
    # Records of an older reprobox (no engine ID) compare by spelling...
    assert EngineAddress(f"unix://{link}") != EngineAddress(f"unix://{real}")
    # ...and records that keep it, by the daemon's ID, however they reached it.
    by_link = EngineAddress(f"unix://{link}", "AAAA:BBBB")
    by_socket = EngineAddress(f"unix://{real}", "AAAA:BBBB")
    assert by_link == by_socket and len({by_link, by_socket}) == 1
    assert by_link != EngineAddress(f"unix://{link}", "CCCC:DDDD")
    assert str(by_link) == f"unix://{link}"  # shown as written
