"""`unix://` with no path is docker's default socket: one engine, one key."""

from __future__ import annotations

import os

import pytest

from reprobox.addresses import engine_key
from reprobox.cli_run import _check_engines_named_once
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
