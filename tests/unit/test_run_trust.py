"""Which engines and which published digest `reprobox run` takes on trust."""

from __future__ import annotations

from types import SimpleNamespace

from reprobox.cli_run import _engine_key, _run_image
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


def test_one_socket_spelt_two_ways_is_one_engine(tmp_path):
    assert _engine_key("unix:///run/x//docker.sock") == _engine_key(
        "unix:///run/x/docker.sock"
    )
    assert _engine_key("tcp://Host:2375/") == _engine_key("tcp://host:2375")
    assert _engine_key("tcp://host:2375") != _engine_key("tcp://host:2376")
