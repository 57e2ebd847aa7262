"""Which engines and which published digest `reprobox run` takes on trust."""

from __future__ import annotations

import json
from types import SimpleNamespace

import docker.errors
import pytest

from reprobox.cli_run import _run_image
from reprobox.engine import engine_key
from reprobox.share import REFERENCE_LABEL

FULL = "sha256:" + "d" * 64
BUILT = "sha256:" + "b" * 64
SEALED = "sha256:" + "5" * 64
TAG = "reprobox/digits:0123456789abcdef"


def published(ref: str, reference_run: str | None = "20260101T000000Z-aaaaaa") -> dict:
    entry = {
        "ref": ref,
        "image_id": SEALED,
        "source_image_id": BUILT,
        "reference_run": reference_run,
    }
    return {"published": [entry]}


class DigestEngine:
    """An engine holding BUILT and SEALED; a pull by digest gives what
    registry (ref -> image id) holds, and adds the ref to its RepoDigests."""

    def __init__(self, repo_digests, registry=None):
        layers = {"RootFS": {"Layers": ["sha256:" + "1" * 64]}}
        self.attrs = {
            BUILT: {**layers, "Config": {"Labels": {}}},
            SEALED: {
                **layers,
                "Config": {"Labels": {REFERENCE_LABEL: "{}"}},
                "RepoDigests": list(repo_digests),
            },
        }
        self.sealed_attrs = {**self.attrs[SEALED], "RepoDigests": []}
        self.registry = registry or {}
        self.pulls: list[str] = []
        self.tags: dict[str, str] = {}  # the tags run made: tag -> image id

        def get(ref):
            ref = self.tags.get(ref, ref)
            if ref not in self.attrs:
                raise docker.errors.ImageNotFound(ref)

            def tag(repo, name):
                self.tags[f"{repo}:{name}"] = ref

            return SimpleNamespace(id=ref, attrs=self.attrs[ref], tag=tag)

        images = SimpleNamespace(get=get, pull=self._pull)
        self.client = SimpleNamespace(images=images, api=SimpleNamespace())

    def _pull(self, repo, tag):
        ref = f"{repo}@{tag}"
        self.pulls.append(ref)
        if ref not in self.registry:
            raise docker.errors.APIError("404", explanation="manifest unknown")
        got = self.registry[ref]
        self.attrs.setdefault(got, self.sealed_attrs)
        self.attrs[got].setdefault("RepoDigests", []).append(ref)
        return SimpleNamespace(id=got)


REAL = f"127.0.0.1:5000/reprobox/digits@{FULL}"


def test_a_published_digest_the_engine_does_not_know_is_not_recorded(capsys):
    edited = "127.0.0.1:5000/reprobox/digits@sha256:" + "a" * 64
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    engine = DigestEngine([REAL])
    assert _run_image(published(REAL), engine, built, "m.json") == (TAG, SEALED, REAL)
    said = capsys.readouterr().err
    assert f"running the published image {REAL} (this build, sealed)" in said
    assert engine.pulls == []  # the engine vouched for it: no registry asked
    # Edited to a digest this engine does not list for the sealed image: the
    # record cannot name it, and no registry is asked (a bundle's machine may
    # have none in reach, and every run would wait for it).
    assert _run_image(published(edited), engine, built, "m.json") == (TAG, SEALED, None)
    said = capsys.readouterr().err
    assert engine.pulls == []
    assert "running the published image" not in said
    assert (
        f"warning: m.json: published[0].ref {edited} is not a digest this engine "
        f"knows for {SEALED[7:19]}; the record names the image as this engine "
        "knows it (by a registry digest it lists for the image, else by its own "
        "tag or id), not by that ref"
    ) in said


def test_a_sealed_image_found_by_id_from_a_bundle_is_recorded_by_id(capsys):
    # The sealed image came by a bundle (docker load keeps no RepoDigests).
    engine = DigestEngine([], registry={REAL: SEALED})
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    assert _run_image(published(REAL), engine, built, "m.json") == (TAG, SEALED, None)
    assert engine.pulls == []
    assert "else by its own tag or id), not by that ref" in (capsys.readouterr().err)


def test_a_build_tag_naming_the_sealed_image_runs_it_as_published(capsys):
    # After `reprobox import` of the project's bundle on an engine without
    # the build, the tag names the sealed copy, and build takes it as is:
    # built.image_id is the entry's image_id, not its source_image_id.
    engine = DigestEngine([REAL])
    built = SimpleNamespace(tag=TAG, image_id=SEALED)
    assert _run_image(published(REAL), engine, built, "m.json") == (TAG, SEALED, REAL)
    said = capsys.readouterr().err
    assert f"running the published image {REAL} (this build, sealed)" in said
    assert "another build" not in said


def test_a_build_tag_naming_another_seal_of_the_build_runs_the_published(capsys):
    # The bundle imported was sealed again (after the published seal was
    # removed where it was made): its record ran on the entry's source build.
    resealed = "sha256:" + "7" * 64
    engine = DigestEngine([], registry={REAL: SEALED})
    del engine.attrs[SEALED]
    record = json.dumps({"run_id": "r1", "image": {"id": BUILT}})
    engine.attrs[resealed] = {
        **engine.attrs[BUILT],
        "Config": {"Labels": {REFERENCE_LABEL: record}},
    }
    built = SimpleNamespace(tag=TAG, image_id=resealed)
    engine.tags = {TAG: resealed}
    assert _run_image(published(REAL), engine, built, "m.json") == (TAG, SEALED, REAL)
    assert engine.pulls == [REAL]
    said = capsys.readouterr().err
    assert f"pulled and running the published image {REAL}" in said
    assert "warning" not in said
    # Pulled beside the build's tag, it is tagged as push leaves it: not bare.
    assert engine.tags == {TAG: resealed, f"{TAG}-sealed": SEALED}
    # Where that tag names another sealed copy already, it keeps it, and the
    # pulled image is named as import names it (brk 33: it was left <none>).
    engine.tags = {TAG: resealed, f"{TAG}-sealed": resealed}
    del engine.attrs[SEALED]
    assert _run_image(published(REAL), engine, built, "m.json") == (TAG, SEALED, REAL)
    assert engine.tags == {
        TAG: resealed,
        f"{TAG}-sealed": resealed,
        f"{TAG}-sealed-{SEALED[7:19]}": SEALED,
    }


def test_a_copy_sealed_with_a_run_of_the_published_image_is_this_build(capsys):
    # push and export seal the newest run, which may have run on the published
    # sealed image itself: that copy is this build too, not "another build".
    resealed = "sha256:" + "7" * 64
    engine = DigestEngine([REAL])
    record = json.dumps({"run_id": "r2", "image": {"id": SEALED}})
    engine.attrs[resealed] = {
        **engine.attrs[BUILT],
        "Config": {"Labels": {REFERENCE_LABEL: record}},
    }
    built = SimpleNamespace(tag=TAG, image_id=resealed)
    assert _run_image(published(REAL), engine, built, "m.json") == (TAG, SEALED, REAL)
    said = capsys.readouterr().err
    assert "another build" not in said and "warning" not in said


def test_a_sealed_build_of_another_source_is_another_build(capsys):
    resealed = "sha256:" + "7" * 64
    engine = DigestEngine([REAL])
    record = json.dumps({"run_id": "r1", "image": {"id": "sha256:" + "8" * 64}})
    engine.attrs[resealed] = {
        **engine.attrs[BUILT],
        "Config": {"Labels": {REFERENCE_LABEL: record}},
    }
    built = SimpleNamespace(tag=TAG, image_id=resealed)
    assert _run_image(published(REAL), engine, built, "m.json") == (
        TAG,
        resealed,
        None,
    )
    assert engine.pulls == []
    assert "is another build of this manifest" in capsys.readouterr().err


def test_a_published_image_of_another_build_is_named_in_a_warning(capsys):
    # A collaborator's own build of the same manifest: other layers, other id.
    engine = DigestEngine([REAL])
    fresh = "sha256:" + "c" * 64
    engine.attrs[fresh] = engine.attrs[BUILT]
    built = SimpleNamespace(tag=TAG, image_id=fresh)
    assert _run_image(published(REAL), engine, built, "m.json") == (TAG, fresh, None)
    said = capsys.readouterr().err
    assert said == (
        f"reprobox: warning: m.json: the published image {REAL} is another build "
        f"of this manifest; this run uses the local build {TAG}; "
        f"`reprobox verify {REAL}` runs the published one\n"
    )
    assert engine.pulls == []


def test_a_published_image_with_no_reference_run_is_not_offered_to_verify(capsys):
    # AP 10: the warning said `verify REF` runs the published one; verify then
    # refused it: an image shared before any run succeeded carries no record.
    engine = DigestEngine([REAL])
    fresh = "sha256:" + "c" * 64
    engine.attrs[fresh] = engine.attrs[BUILT]
    built = SimpleNamespace(tag=TAG, image_id=fresh)
    _run_image(published(REAL, reference_run=None), engine, built, "m.json")
    said = capsys.readouterr().err
    assert said == (
        f"reprobox: warning: m.json: the published image {REAL} is another build "
        f"of this manifest; this run uses the local build {TAG}; none carries a "
        "reference run, so `reprobox verify` has nothing to compare a rerun of it "
        "with (run, then push again)\n"
    )


def test_no_published_entry_no_warning(capsys):
    engine = DigestEngine([])
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    assert _run_image({}, engine, built, "m.json") == (TAG, BUILT, None)
    assert capsys.readouterr().err == ""


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


def test_gpu_preflight_warnings_show_under_quiet(monkeypatch, capsys):
    # A warning is never progress: -q hid these, printed with say().
    from reprobox import cli_run
    from reprobox.cli import _state
    from reprobox.gpu import preflight

    monkeypatch.setattr(
        preflight,
        "gpu_preflight",
        lambda manifest, gpus, remote: SimpleNamespace(warnings=["driver is old"]),
    )
    monkeypatch.setitem(_state, "quiet", True)
    cli_run._device_requests("all", {}, remote=False)
    assert capsys.readouterr().err == "reprobox: warning: driver is old\n"


def test_of_several_published_entries_the_newest_seal_is_run(capsys):
    # brk r45 (BK 5): pushed to team/ (sealing an older run), then to the
    # registry's root (sealing a newer one): run took the first entry listed,
    # the older seal.
    older = "127.0.0.1:5000/team/reprobox/digits@" + FULL
    newer = REAL
    entries = [
        published(older, "20260101T000000Z-aaaaaa")["published"][0],
        published(newer, "20260102T000000Z-bbbbbb")["published"][0],
    ]
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    engine = DigestEngine([older, newer])
    assert _run_image({"published": entries}, engine, built, "m.json")[2] == newer
    # Listed the other way round, the same one: not the order, the run.
    engine = DigestEngine([older, newer])
    assert _run_image({"published": entries[::-1]}, engine, built, "m.json")[2] == newer
