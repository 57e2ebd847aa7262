"""Which engines and which published digest `reprobox run` takes on trust."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from reprobox.cli_run import _run_image
from reprobox.engine import engine_key
from reprobox.share import REFERENCE_LABEL

FULL = "sha256:" + "d" * 64
BUILT = "sha256:" + "b" * 64
SEALED = "sha256:" + "5" * 64
TAG = "reprobox/digits:0123456789abcdef"


def published(ref: str) -> dict:
    entry = {"ref": ref, "image_id": SEALED, "source_image_id": BUILT}
    return {"published": [entry]}


class DigestEngine:
    def __init__(self, repo_digests):
        layers = {"RootFS": {"Layers": ["sha256:" + "1" * 64]}}
        attrs = {
            BUILT: {**layers, "Config": {"Labels": {}}},
            SEALED: {
                **layers,
                "Config": {"Labels": {REFERENCE_LABEL: "{}"}},
                "RepoDigests": repo_digests,
            },
        }

        def get(ref):
            return SimpleNamespace(id=ref, attrs=attrs[ref])

        self.client = SimpleNamespace(images=SimpleNamespace(get=get))


def test_a_published_digest_the_engine_does_not_know_is_not_recorded(capsys):
    real = f"127.0.0.1:5000/reprobox/digits@{FULL}"
    edited = "127.0.0.1:5000/reprobox/digits@sha256:" + "a" * 64
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    engine = DigestEngine([real])
    assert _run_image(published(real), engine, built, "m.json") == (TAG, SEALED, real)
    said = capsys.readouterr().err
    assert f"running the published image {real} (this build, sealed)" in said
    assert _run_image(published(edited), engine, built, "m.json") == (TAG, SEALED, None)
    said = capsys.readouterr().err
    assert "published[0].ref" in said and "running the published image" not in said


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("unix:///run/x//docker.sock", "unix:///run/x/docker.sock"),
        ("unix://run/x/docker.sock", "unix:///run/x/docker.sock"),
        ("unix:///run/x/../x/docker.sock", "unix:///run/x/docker.sock"),
        ("UNIX:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("Unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("tcp://Host:2375/", "tcp://host:2375"),
        ("TCP://host:2375", "tcp://host:2375"),
        ("tcp://host:2375", "http://host:2375"),
        ("ssh://me@Box", "ssh://me@box:22"),
        ("SSH://me@box:22", "ssh://me@box"),
    ],
)
def test_one_engine_spelt_two_ways_has_one_key(one, other):
    assert engine_key(one) == engine_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("unix:///run/x/docker.sock", "unix:///run/y/docker.sock"),
        ("tcp://host:2375", "tcp://host:2376"),
        ("tcp://host:2376", "https://host:2376"),  # TLS or not: not one engine
        ("ssh://me@box", "ssh://you@box"),
        ("ssh://me@box", "ssh://me@box:2222"),
        ("unix:///run/x/docker.sock", "tcp://x:2375"),
    ],
)
def test_two_engines_have_two_keys(one, other):
    assert engine_key(one) != engine_key(other)


def test_a_linked_socket_path_is_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert engine_key(f"unix://{tmp_path}/link/docker.sock") == (
        f"unix://{tmp_path}/real/docker.sock"
    )
