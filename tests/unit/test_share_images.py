"""Which image a run, a ship, a verify and an import take: checked, never assumed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from types import SimpleNamespace

import docker.errors
import pytest

from reprobox.bundles import BUNDLE_INDEX, export_bundle, import_bundle
from reprobox.cli_run import _run_image
from reprobox.compare import RECORD_SCHEMA_VERSION
from reprobox.errors import EngineError, InputError
from reprobox.manifest import SCHEMA_VERSION
from reprobox.seals import seal_manifest, seal_record
from reprobox.share import (
    REFERENCE_LABEL,
    check_published,
    check_registry,
    pull_by_digest,
    push_image,
    ship_image,
    with_publication,
)
from reprobox.verify import sealed_copy, verify_image

BUILT = "sha256:" + "b" * 64
SEALED = "sha256:" + "5" * 64
OTHER = "sha256:" + "e" * 64
TAG = "reprobox/digits:0123456789abcdef"
_MANIFEST = json.dumps(seal_manifest({"schema_version": SCHEMA_VERSION}))
LABELS = {
    "org.reprobox.project": "digits",
    "org.reprobox.context-digest": "0123456789abcdef" + "0" * 48,
    "org.reprobox.manifest": _MANIFEST,
    "org.reprobox.manifest-sha256": hashlib.sha256(_MANIFEST.encode()).hexdigest(),
}
LAYERS = ["sha256:" + "1" * 64, "sha256:" + "2" * 64]
REF = "127.0.0.1:5000/reprobox/digits@sha256:" + "d" * 64


class FakeImage:
    def __init__(self, engine, image_id, layers, labels, cmd=("python",)):
        self.engine, self.id = engine, image_id
        self.labels = dict(labels)
        self.attrs = {
            "Id": image_id,
            "Config": {"Labels": self.labels, "Cmd": list(cmd), "OnBuild": None},
            "RootFS": {"Layers": list(layers)},
        }

    @property
    def tags(self):
        return sorted(t for t, i in self.engine.tags.items() if i == self.id)

    def tag(self, repo, tag):
        if self.engine.tag_error:
            raise docker.errors.APIError(
                "500 Server Error for http+docker://localhost/v1.41/images/x/tag",
                explanation="invalid reference format",
            )
        self.engine.tags[f"{repo}:{tag}"] = self.id


class FakeEngine:
    """An engine holding images by id and tags; it records pulls and loads."""

    def __init__(self, host="fake"):
        self.host = host
        self.by_id: dict[str, FakeImage] = {}
        self.tags: dict[str, str] = {}
        self.pulls: list[str] = []
        self.loads = 0
        self.pull_error = False
        self.tag_error = False
        self.removed: list[str] = []
        images = SimpleNamespace(get=self._get, pull=self._pull, remove=self._remove)
        api = SimpleNamespace(get_image=self._get_image, load_image=self._load)
        info = lambda: {"ID": f"daemon at {host}"}  # noqa: E731
        self.client = SimpleNamespace(images=images, api=api, info=info)

    def add(self, image_id, layers=LAYERS, labels=LABELS, tag=None, **kw):
        self.by_id[image_id] = FakeImage(self, image_id, layers, labels, **kw)
        if tag:
            self.tags[tag] = image_id
        return self.by_id[image_id]

    def _get(self, ref):
        found = self.by_id.get(self.tags.get(ref, ref))
        if found is None:
            raise docker.errors.ImageNotFound(ref)
        return found

    def _remove(self, image, noprune):
        del self.by_id[image]
        self.removed.append(image)

    def _pull(self, repo, tag):
        self.pulls.append(f"{repo}@{tag}")
        if self.pull_error:
            said = self.pull_error if isinstance(self.pull_error, str) else None
            raise docker.errors.APIError(
                "500", explanation=said or "connection refused"
            )
        raise AssertionError("no pull expected to succeed in this test")

    def _get_image(self, image, chunk_size):
        yield b"image"

    def _load(self, chunks, quiet):
        self.loads += 1
        return []


def sealed_labels():
    record = seal_record({"schema_version": RECORD_SCHEMA_VERSION, "run_id": "r1"})
    return {**LABELS, REFERENCE_LABEL: json.dumps(record)}


# --- F1: a push replaces its own repository's entry, not a neighbour's ------


def test_a_push_keeps_the_entry_of_a_registry_whose_name_starts_the_same():
    team = {"ref": "127.0.0.1:5000/team/reprobox/digits@sha256:" + "a" * 64}
    old_root = {"ref": "127.0.0.1:5000/reprobox/digits@sha256:" + "c" * 64}
    new_root = {"ref": REF}
    assert with_publication([team, old_root], new_root) == [new_root, team]


# --- F2: registry names Docker would refuse, refused first ------------------


@pytest.mark.parametrize("bad", ["-x", "-x:5000", "host-.example", "team", "a_b.io"])
def test_registry_hosts_docker_refuses_are_refused(bad):
    with pytest.raises(InputError, match="--registry"):
        check_registry(bad)


def test_a_registry_path_too_long_for_docker_is_refused():
    long = "127.0.0.1:5000/" + "/".join(["abcdefghij"] * 21)
    assert check_registry(long) == long  # fine alone
    with pytest.raises(InputError, match="over Docker's 255"):
        check_registry(long, "digits")


def test_a_tag_the_engine_refuses_is_one_input_error(tmp_path):
    engine = FakeEngine()
    engine.add(BUILT)
    engine.tag_error = True
    with pytest.raises(InputError) as info:
        push_image(
            engine, BUILT, "127.0.0.1:5000", "digits", "0123456789abcdef", tmp_path
        )
    assert "invalid reference format" in str(info.value)
    assert "http+docker" not in str(info.value) and "\n" not in str(info.value)


# --- F3: published entries are checked for their shape ----------------------


@pytest.mark.parametrize(
    ("published", "field"),
    [
        ([{}], "published[0].ref"),
        ([{"source_image_id": BUILT}], "published[0].ref"),
        ([{"ref": REF, "source_image_id": BUILT}], "published[0].image_id"),
        (
            [{"ref": REF, "image_id": 5, "source_image_id": BUILT}],
            "published[0].image_id",
        ),
        ([{"ref": REF, "image_id": SEALED}], "published[0].source_image_id"),
        (["x"], "published[0]"),
        ({"ref": REF}, "published"),
    ],
)
def test_a_damaged_published_entry_is_one_line_naming_the_field(published, field):
    path = Path("/p/.reprobox/manifest.json")
    with pytest.raises(InputError) as info:
        check_published(path, {"published": published})
    message = str(info.value)
    assert message.startswith(f"{path}: {field} is ") and "\n" not in message


@pytest.mark.parametrize(
    ("extra", "shown"),
    [
        ({"note": "mine"}, "note"),
        ({"Ref": REF}, "Ref"),
        ({"a\nb": 1}, "'a\\nb'"),
    ],
)
def test_a_published_entry_with_a_key_push_never_writes_is_refused(extra, shown):
    # brk: an unknown key passed silently, where unknown keys elsewhere are refused.
    path = Path("/p/.reprobox/manifest.json")
    good = {"ref": REF, "image_id": SEALED, "source_image_id": BUILT}
    assert check_published(path, {"published": [good]}) == [good]
    with pytest.raises(InputError) as info:
        check_published(path, {"published": [good, {**good, **extra}]})
    assert info.value.message == (
        f"{path}: published[1].{shown} is not a field reprobox writes (only "
        "image_id, ref, reference_run, source_image_id)"
    )
    assert info.value.hint.endswith("`reprobox push` again")


def test_run_with_a_damaged_published_entry_names_it_not_a_key_error():
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    manifest = {"published": [{"source_image_id": BUILT}]}
    with pytest.raises(InputError, match=r"manifest.json: published\[0\].ref"):
        _run_image(manifest, engine, built, "manifest.json")


def entry(image_id=SEALED):
    return {
        "ref": REF,
        "image_id": image_id,
        "source_image_id": BUILT,
        "reference_run": "r1",
    }


# --- F4: an unreachable registry falls back to the local build --------------


def test_a_local_run_falls_back_to_the_build_when_the_registry_is_unreachable(
    capsys, monkeypatch
):
    from reprobox.cli import _state

    monkeypatch.setitem(_state, "quiet", True)  # a warning shows under -q
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    engine.pull_error = True
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    got = _run_image({"published": [entry()]}, engine, built, "m.json")
    assert got == (TAG, BUILT, None)
    assert engine.pulls == [REF]
    assert capsys.readouterr().err == (
        f"reprobox: warning: cannot pull the published image {REF} (pull of "
        f"{REF} failed: connection refused); running the local build {TAG}, "
        f"which has the same layers; the record names {TAG}\n"
    )


def test_the_sealed_image_is_used_when_it_is_this_build():
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    # push leaves the digest it pushed among the sealed image's RepoDigests
    engine.add(SEALED, labels=sealed_labels()).attrs["RepoDigests"] = [REF]
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    assert _run_image({"published": [entry()]}, engine, built, "m.json") == (
        TAG,
        SEALED,
        REF,
    )


@pytest.mark.parametrize(
    "other",
    [
        {"layers": ["sha256:" + "6" * 64]},
        {"cmd": ("sh", "-c", "evil")},
        {"labels": {**LABELS, "org.reprobox.manifest": '{"x": 1}'}},
    ],
)
def test_a_published_image_that_is_not_this_build_is_refused(other):
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    engine.add(OTHER, **other)
    built = SimpleNamespace(tag=TAG, image_id=BUILT)
    with pytest.raises(InputError, match="is not this build sealed"):
        _run_image({"published": [entry(OTHER)]}, engine, built, "m.json")


# --- ship: an engine that has this build sealed at the tag keeps it ---------


def test_ship_keeps_the_sealed_import_already_at_the_tag():
    local, remote = FakeEngine(), FakeEngine("engine2")
    local.add(BUILT, tag=TAG)
    remote.add(SEALED, labels=sealed_labels(), tag=TAG)
    shipped = ship_image(local, remote, BUILT, TAG)
    assert (shipped.how, shipped.image_id) == ("present", SEALED)
    assert remote.loads == 0 and remote.tags[TAG] == SEALED


def test_ship_streams_over_an_image_at_the_tag_with_other_layers():
    local, remote = FakeEngine(), FakeEngine("engine2")
    local.add(BUILT, tag=TAG)
    remote.add(OTHER, layers=["sha256:" + "6" * 64], tag=TAG)

    def load(chunks, quiet):
        remote.loads += 1
        remote.add(BUILT)
        return []

    remote.client.api.load_image = load
    shipped = ship_image(local, remote, BUILT, TAG)
    assert (shipped.how, shipped.image_id) == ("stream", BUILT)
    assert remote.tags[TAG] == BUILT
    # brk 33 item 3: the image the tag moved off (that engine's own build of
    # these sources, other bytes) is not left `<none>`: nothing else names it.
    assert remote.removed == [OTHER]


# --- ship: the published image runs, beside an unsealed copy at the tag ----


def pull_adds(engine, image_id, labels=None):
    """Make engine's pulls by digest give image_id, untagged."""

    def pull(repo, tag):
        engine.pulls.append(f"{repo}@{tag}")
        return engine.add(image_id, labels=labels or sealed_labels())

    engine.client.images.pull = pull


def test_ship_pulls_the_published_image_beside_the_unsealed_build_at_the_tag():
    # brk AK 1: the engine named with --host held this build unsealed at its
    # tag (a run there before the push); the shipment took that copy.
    local, remote = FakeEngine(), FakeEngine("engine2")
    local.add(BUILT, tag=TAG)
    local.add(SEALED, labels=sealed_labels())
    remote.add(BUILT, tag=TAG)
    pull_adds(remote, SEALED)
    shipped = ship_image(local, remote, SEALED, TAG, published=REF)
    assert (shipped.how, shipped.image_id, shipped.fallback) == (
        "registry",
        SEALED,
        None,
    )
    assert remote.pulls == [REF] and remote.loads == 0
    # The build keeps its tag; the sealed image goes beside it, as import puts it.
    assert remote.tags == {TAG: BUILT, f"{TAG}-sealed": SEALED}


def test_ship_beside_keeps_a_sealed_tag_that_names_another_copy():
    local, remote = FakeEngine(), FakeEngine("engine2")
    local.add(BUILT, tag=TAG)
    local.add(SEALED, labels=sealed_labels())
    remote.add(BUILT, tag=TAG)
    remote.add(OTHER, tag=f"{TAG}-sealed")
    pull_adds(remote, SEALED)
    shipped = ship_image(local, remote, SEALED, TAG, published=REF)
    assert (shipped.how, shipped.image_id) == ("registry", SEALED)
    # brk 33 item 1: the pulled image was left `<none>`; as import names it.
    assert remote.tags == {
        TAG: BUILT,
        f"{TAG}-sealed": OTHER,
        f"{TAG}-sealed-{SEALED[7:19]}": SEALED,
    }
    assert remote.removed == []


def test_ship_falls_back_to_the_copy_at_the_tag_only_when_the_pull_fails():
    local, remote = FakeEngine(), FakeEngine("engine2")
    local.add(BUILT, tag=TAG)
    local.add(SEALED, labels=sealed_labels())
    remote.add(BUILT, tag=TAG)
    remote.pull_error = True
    shipped = ship_image(local, remote, SEALED, TAG, published=REF)
    assert (shipped.how, shipped.image_id) == ("present", BUILT)
    assert shipped.fallback == f"pull of {REF} failed: connection refused"
    assert remote.pulls == [REF] and remote.loads == 0
    assert remote.tags == {TAG: BUILT}


def test_ship_refuses_a_pull_that_gives_another_image():
    local, remote = FakeEngine(), FakeEngine("engine2")
    local.add(BUILT, tag=TAG)
    local.add(SEALED, labels=sealed_labels())
    remote.add(BUILT, tag=TAG)
    pull_adds(remote, OTHER)
    with pytest.raises(EngineError, match=f"expected {SEALED}"):
        ship_image(local, remote, SEALED, TAG, published=REF)
    assert remote.tags == {TAG: BUILT}


def test_ship_asks_no_registry_when_the_published_image_is_there():
    local, remote = FakeEngine(), FakeEngine("engine2")
    local.add(SEALED, labels=sealed_labels())
    remote.add(BUILT, tag=TAG)
    remote.add(SEALED, labels=sealed_labels())
    shipped = ship_image(local, remote, SEALED, TAG, published=REF)
    assert (shipped.how, shipped.image_id, shipped.fallback) == (
        "present",
        SEALED,
        None,
    )
    assert remote.pulls == [] and remote.tags == {TAG: BUILT}


def run_on_remote(project, monkeypatch, local, remote, *flags):
    """Run `reprobox [flags] run PROJECT -H engine2` on fake engines; return
    (what the run was given, the CLI's stderr)."""
    from typer.testing import CliRunner

    from reprobox import cli_run, engine, recovery, runner
    from reprobox.cli import _state, app

    class Ran(Exception):
        pass

    given = {}

    def run_in_container(target, engine_, *, image_ref, image_id, **kwargs):
        given.update(engine=engine_, ref=image_ref, id=image_id)
        raise Ran

    engines = {None: local, "engine2": remote}
    built = SimpleNamespace(tag=TAG, image_id=BUILT, built=False)
    monkeypatch.setattr(
        engine, "connect", lambda host=None, context=None: engines[host]
    )
    monkeypatch.setattr(engine, "engine_id", lambda engine_: None)
    monkeypatch.setattr(cli_run, "_build", lambda *a, **k: built)
    monkeypatch.setattr(cli_run, "check_image_of_manifest", lambda *a: None)
    monkeypatch.setattr(cli_run, "tidy_killed_runs", lambda *a: None)
    monkeypatch.setattr(cli_run, "tidy_killed_imports", lambda *a, **k: None)
    monkeypatch.setattr(recovery, "remove_dead_runs_containers", lambda *a, **k: None)
    monkeypatch.setattr(runner, "run_in_container", run_in_container)
    monkeypatch.setitem(_state, "quiet", False)
    argv = [*flags, "run", str(project), "-H", "engine2"]
    result = CliRunner().invoke(app, argv)
    assert isinstance(result.exception, Ran), result.output
    return given, result.stderr


@pytest.fixture
def published_project(six_project):
    """The six project frozen, with one published entry: REF, SEALED of BUILT."""
    from reprobox.config import load_config
    from reprobox.freeze import freeze_project, write_frozen
    from reprobox.manifest import load_frozen
    from reprobox.publication import record_publication

    cfg = load_config(six_project)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    record_publication(load_frozen(cfg), entry())
    return six_project


def local_with_published():
    """The engine that built and pushed: BUILT at the tag, SEALED knowing REF."""
    local = FakeEngine("local")
    local.add(BUILT, tag=TAG)
    local.add(SEALED, labels=sealed_labels()).attrs["RepoDigests"] = [REF]
    return local


def test_run_host_runs_the_published_image_where_the_build_is_unsealed(
    published_project, monkeypatch
):
    remote = FakeEngine("engine2")
    remote.add(BUILT, tag=TAG)
    pull_adds(remote, SEALED)
    given, stderr = run_on_remote(
        published_project, monkeypatch, local_with_published(), remote
    )
    assert given == {"engine": remote, "ref": REF, "id": SEALED}
    assert "engine2: image registry" in stderr and "warning" not in stderr
    assert remote.tags == {TAG: BUILT, f"{TAG}-sealed": SEALED}


def test_run_host_that_cannot_pull_runs_its_copy_and_warns_under_quiet(
    published_project, monkeypatch
):
    remote = FakeEngine("engine2")
    remote.add(BUILT, tag=TAG)
    remote.pull_error = True
    given, stderr = run_on_remote(
        published_project, monkeypatch, local_with_published(), remote, "-q"
    )
    # The record names the image that ran: the tag and its id, not REF.
    assert given == {"engine": remote, "ref": TAG, "id": BUILT}
    assert stderr == (
        f"reprobox: warning: engine2: running its own copy of this build, {TAG} "
        f"({BUILT[7:19]}, the same layers), not the published {REF}, which it "
        f"cannot pull (pull of {REF} failed: connection refused); the record "
        f"names {TAG}\n"
    )


# --- verify of a build's tag on the engine that sealed it -------------------


def test_verify_of_a_tag_finds_its_sealed_copy():
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    engine.add(SEALED, labels=sealed_labels(), tag=TAG + "-sealed")
    assert sealed_copy(engine, TAG, BUILT) == SEALED
    assert sealed_copy(engine, BUILT, BUILT) is None  # an id is one image


def test_verify_ignores_a_sealed_tag_of_another_build():
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    engine.add(OTHER, layers=["sha256:" + "6" * 64], tag=TAG + "-sealed")
    assert sealed_copy(engine, TAG, BUILT) is None


# --- verify by digest: the pulled image is tagged as import tags one --------


def _verify_pulled(engine, tmp_path, labels=None) -> InputError:
    pull_adds(engine, SEALED, labels=labels or LABELS)  # a bare manifest: stops
    with pytest.raises(InputError) as info:
        verify_image(engine, REF, runs_dir=tmp_path / "v")
    assert engine.pulls == [REF]
    return info.value


def test_verify_by_digest_tags_the_pulled_image_with_its_build_tag(tmp_path):
    # brk 36 A: the pull by digest left the image <none> on engine 2.
    engine = FakeEngine("engine2")
    _verify_pulled(engine, tmp_path)
    assert engine.tags == {TAG: SEALED}


def test_verify_by_digest_puts_the_pull_beside_another_image_of_the_build(tmp_path):
    engine = FakeEngine("engine2")
    engine.add(BUILT, tag=TAG)
    _verify_pulled(engine, tmp_path)
    assert engine.tags == {TAG: BUILT, f"{TAG}-sealed": SEALED}


def test_verify_by_digest_removes_a_pulled_image_that_names_no_build(tmp_path):
    engine = FakeEngine("engine2")
    foreign = {"org.reprobox.manifest": _MANIFEST}
    error = _verify_pulled(engine, tmp_path, labels=foreign)
    assert error.message == (
        f"image {REF} was not made by reprobox (its labels name no project and "
        "build); the pulled image was removed again"
    )
    assert engine.removed == [SEALED] and engine.tags == {}


# --- import: the bundle index, its member names, and the tag it takes ------


def image_archive(labels, layers=LAYERS):
    config = json.dumps(
        {
            "config": {"Labels": labels, "Cmd": ["python"]},
            "rootfs": {"diff_ids": layers},
        }
    ).encode()
    config_id = hashlib.sha256(config).hexdigest()
    manifest = [{"Config": f"{config_id}.json", "RepoTags": None, "Layers": []}]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (
            ("manifest.json", json.dumps(manifest).encode()),
            (f"{config_id}.json", config),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), "sha256:" + config_id


def write_bundle(path, members, index=None, raw_index=None):
    index = index or {
        "schema_version": 1,
        "image_id": members.pop("_id", SEALED),
        "tag": TAG,
        "files": {n: hashlib.sha256(d).hexdigest() for n, d in members.items()},
    }
    with tarfile.open(path, "w") as tar:
        text = raw_index if raw_index is not None else json.dumps(index).encode()
        for name, data in [(BUNDLE_INDEX, text), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_deeply_nested_index_is_one_input_error(tmp_path):
    path = write_bundle(tmp_path / "b.tar", {}, raw_index=b"[" * 100_000)
    with pytest.raises(InputError, match="not a reprobox bundle"):
        import_bundle(FakeEngine(), path)


def test_a_member_name_with_a_line_break_stays_on_one_line(tmp_path):
    members = {"image.tar": b"x", "evil\nname": b"y"}
    path = write_bundle(tmp_path / "b.tar", members)
    with pytest.raises(InputError) as info:
        import_bundle(FakeEngine(), path)
    assert "'evil\\nname' is not allowed" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "change",
    [{"image_id": "sha256:x\ny"}, {"tag": "reprobox/x:a\nb"}, {"files": {"a": 1}}],
)
def test_index_values_that_messages_quote_must_be_plain(tmp_path, change):
    index = {
        "schema_version": 1,
        "image_id": SEALED,
        "tag": TAG,
        "files": {"image.tar": "0" * 64},
    }
    path = write_bundle(tmp_path / "b.tar", {"image.tar": b"x"}, {**index, **change})
    with pytest.raises(InputError, match="damaged or not reprobox's"):
        import_bundle(FakeEngine(), path)


def test_a_bundle_cannot_replace_a_build_with_other_layers(tmp_path):
    archive, image = image_archive(LABELS, layers=["sha256:" + "6" * 64])
    path = write_bundle(tmp_path / "b.tar", {"image.tar": archive, "_id": image})
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    with pytest.raises(InputError, match="already names another image"):
        import_bundle(engine, path)
    assert engine.loads == 0 and engine.tags[TAG] == BUILT


def test_a_bundle_of_the_same_build_goes_beside_it_as_sealed(tmp_path):
    archive, image = image_archive(sealed_labels())
    record = sealed_labels()[REFERENCE_LABEL].encode()
    members = {"image.tar": archive, "reference-record.json": record, "_id": image}
    path = write_bundle(tmp_path / "b.tar", members)
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG, cmd=("python",))

    def load(chunks, quiet):
        engine.loads += 1
        engine.add(image, labels=sealed_labels())
        return []

    engine.client.api.load_image = load
    index, _ = import_bundle(engine, path)
    # The build keeps its tag: moved, it would be left <none> on this engine.
    assert engine.loads == 1 and engine.tags[TAG] == BUILT
    assert engine.tags[TAG + "-sealed"] == image
    assert index["tagged"] == TAG + "-sealed"


@pytest.mark.parametrize("when", ["loaded", "cut", "all-sent"])
def test_a_stop_during_the_load_tags_what_the_engine_made_of_it(tmp_path, when):
    # brk: a Ctrl-C once the engine had the whole image said "nothing was
    # half-written" and left the image it went on to load <none>.
    archive, image = image_archive(LABELS)
    path = write_bundle(tmp_path / "b.tar", {"image.tar": archive, "_id": image})
    engine = FakeEngine()

    def load(chunks, quiet):
        if when == "loaded":
            engine.add(image)
        if when != "cut":
            for _ in chunks:  # every byte handed over
                pass
        raise KeyboardInterrupt

    engine.client.api.load_image = load
    told, left = [], []
    with pytest.raises(KeyboardInterrupt):
        import_bundle(
            engine,
            path,
            lambda tag, made: told.append((tag, made)),
            on_left=left.append,
        )
    if when == "loaded":
        assert engine.tags == {TAG: image} and told == [(TAG, True)]
    else:
        assert engine.tags == {} and told == []
    # brk 36 B: the stop said "nothing was half-written" with the marker kept
    # and the engine perhaps loading an image still without a tag.
    assert left == (
        [
            f"the engine may hold the bundle's image {image[7:19]} untagged, or "
            "still be loading it: the next reprobox command on this engine tags "
            f"it {TAG}, or removes it should that tag name another image by then"
        ]
        if when == "all-sent"
        else []
    )
    # bu 5: a marker stays only where the engine may still finish the load:
    # it had every byte, and the image is not there yet.
    markers = Path(os.environ["XDG_STATE_HOME"]) / "reprobox" / "importing"
    assert len(list(markers.iterdir())) == (1 if when == "all-sent" else 0)


def test_import_of_a_folder_says_it_is_a_folder(tmp_path):
    from typer.testing import CliRunner

    from reprobox.cli import app

    result = CliRunner().invoke(app, ["import", str(tmp_path)])
    assert isinstance(result.exception, InputError)  # main() makes it exit 2
    assert result.exception.message == f"{tmp_path}: is a folder, not a bundle file"


def test_engine_error_is_not_swallowed_by_the_fallback_when_not_the_pull():
    engine = FakeEngine()
    built = SimpleNamespace(tag=TAG, image_id=BUILT)

    def broken(ref):
        raise docker.errors.APIError("500", explanation="engine down")

    engine.client.images.get = broken
    with pytest.raises(EngineError, match="engine down"):
        _run_image({"published": [entry()]}, engine, built, "m.json")


# --- build trusts an existing tag only for an image with this build's labels


@pytest.fixture
def frozen_project(six_project):
    from reprobox.config import load_config
    from reprobox.freeze import freeze_project, write_frozen

    tmp_path = six_project
    cfg = load_config(tmp_path)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    return cfg


def build_with(cfg, engine, monkeypatch):
    import contextlib

    from reprobox import build as build_module

    built = []

    def fake_build(engine_, context_dir, tag, *, labels, secrets, on_line):
        built.append(tag)
        engine.add(BUILT, labels=labels, tag=tag)
        return BUILT

    monkeypatch.setattr(build_module, "build_image", fake_build)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    result = build_module.build_project(
        cfg, engine, secrets=lambda: contextlib.nullcontext({})
    )
    return result, built


def test_build_replaces_an_image_at_its_tag_whose_labels_are_another_build(
    frozen_project, monkeypatch
):
    from reprobox.build import context_entries, context_tag
    from reprobox.manifest import load_frozen

    engine = FakeEngine()
    tag, digest = context_tag(
        frozen_project, context_entries(frozen_project, load_frozen(frozen_project))
    )
    # A hand-made image with the project and context digest labels alone.
    forged = {
        "org.reprobox.project": frozen_project.name,
        "org.reprobox.context-digest": digest,
    }
    engine.add(OTHER, labels=forged, tag=tag)
    result, built = build_with(frozen_project, engine, monkeypatch)
    assert built == [tag] and result.built and result.image_id == BUILT
    assert engine.tags[tag] == BUILT
    assert engine.removed == [OTHER]  # not left `<none>` (brk 33 item 3)


def test_build_keeps_its_own_image_at_its_tag(frozen_project, monkeypatch):
    engine = FakeEngine()
    first, _ = build_with(frozen_project, engine, monkeypatch)
    engine.by_id[BUILT].labels["org.reprobox.version"] = "0.0.1"  # an older reprobox
    engine.by_id[BUILT].labels[REFERENCE_LABEL] = "{}"  # sealed: still this build
    again, built = build_with(frozen_project, engine, monkeypatch)
    assert first.built and not again.built and built == []


# --- F17: docker load must read the archive as reprobox checked it ----------


def archive_of(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, "other.json"
                tar.addfile(info)
                continue
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ([("./manifest.json", b"[]")], "odd or repeated name './manifest.json'"),
        ([("manifest.json", b"[]")], "odd or repeated name 'manifest.json'"),
        ([("a/../b", b"")], "odd or repeated name"),
        ([("repositories", None)], "repositories is not a plain file"),
        (
            [
                (
                    "index.json",
                    json.dumps(
                        {
                            "manifests": [
                                {
                                    "annotations": {
                                        "io.containerd.image.name": "victim:1"
                                    }
                                }
                            ]
                        }
                    ).encode(),
                )
            ],
            "names tags: ['victim:1']",
        ),
    ],
)
def test_an_archive_docker_would_read_otherwise_is_refused(tmp_path, extra, why):
    clean, image = image_archive(LABELS)
    with tarfile.open(fileobj=io.BytesIO(clean)) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    archive = archive_of(members + extra)
    path = write_bundle(tmp_path / "b.tar", {"image.tar": archive, "_id": image})
    engine = FakeEngine()
    with pytest.raises(InputError) as info:
        import_bundle(engine, path)
    assert why in info.value.message and engine.loads == 0


def test_a_run_with_the_local_engine_as_host_leaves_the_build_tag_alone():
    engine = FakeEngine()
    engine.add(BUILT, tag=TAG)
    engine.add(SEALED, labels=sealed_labels(), tag=TAG + "-sealed")
    shipped = ship_image(engine, engine, SEALED, TAG)
    # The run is of the sealed image, as its published ref says: the record's
    # image id must be that one, while the build's tag stays where it is.
    assert (shipped.how, shipped.image_id) == ("present", SEALED)
    assert engine.tags[TAG] == BUILT


# --- F14/F15: import --into and export -o are checked before anything moves


def test_import_into_a_read_only_folder_is_one_line_before_the_engine(
    tmp_path, monkeypatch
):
    # brk: "ro2/.reprobox: Read-only file system", after the image was loaded.
    import errno
    import os
    import tempfile

    from typer.testing import CliRunner

    from reprobox import engine as engine_module
    from reprobox.cli import app

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine was reached")

    ro = tmp_path / "ro2"
    ro.mkdir()
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # a read-only mount: root fails too
        if dir is not None and Path(dir) == ro:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(ro))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(engine_module, "connect", no_engine)
    bundle = tmp_path / "b.tar"
    bundle.write_bytes(b"x")
    result = CliRunner().invoke(app, ["import", str(bundle), "--into", str(ro)])
    assert isinstance(result.exception, InputError), result.output
    assert str(result.exception) == (
        f"--into {ro}: cannot write in {ro}: it is on a read-only file system "
        "(give a folder you can write as --into, or import without --into)"
    )
    assert os.listdir(ro) == []


def test_import_into_a_file_is_refused_before_the_engine(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from reprobox import engine as engine_module
    from reprobox.cli import app

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine was reached")

    monkeypatch.setattr(engine_module, "connect", no_engine)
    bundle, afile = tmp_path / "b.tar", tmp_path / "afile"
    bundle.write_bytes(b"x")
    afile.write_text("keep")
    result = CliRunner().invoke(app, ["import", str(bundle), "--into", str(afile)])
    assert isinstance(result.exception, InputError)
    assert result.exception.message == f"--into {afile}: {afile} is not a folder"


@pytest.mark.parametrize("name", ["reprobox.toml", "notes.txt"])
def test_export_never_replaces_a_file_that_is_not_a_bundle(tmp_path, name):
    from reprobox.cli_share import _check_export_target

    target = tmp_path / name
    target.write_text("command = 'x'\n")
    cfg = SimpleNamespace(root=tmp_path / "elsewhere")
    with pytest.raises(InputError, match="exists and is not a reprobox bundle"):
        _check_export_target(cfg, target)
    assert target.read_text() == "command = 'x'\n"


def test_export_may_replace_an_earlier_bundle(tmp_path):
    from reprobox.cli_share import _check_export_target

    old = write_bundle(tmp_path / "old.tar", {"image.tar": b"x"})
    _check_export_target(SimpleNamespace(root=tmp_path / "elsewhere"), old)


def _user_tar(path, names):
    with tarfile.open(path, "w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"mine"))
    return path


@pytest.mark.parametrize(
    "names",
    [
        [BUNDLE_INDEX, "thesis.tex"],  # brk: replaced, thesis.tex lost
        ["image.tar", "thesis.tex"],
        ["thesis.tex", BUNDLE_INDEX],
        [BUNDLE_INDEX],
        ["image.tar", BUNDLE_INDEX, "image.tar"],
        ["image.tar", "Dockerfile", BUNDLE_INDEX],  # the index does not list it
    ],
)
def test_export_never_replaces_a_tar_that_only_starts_like_a_bundle(tmp_path, names):
    from reprobox.cli_share import _check_export_target

    target = _user_tar(tmp_path / "backup2.tar", names)
    before = target.read_bytes()
    with pytest.raises(InputError) as info:
        _check_export_target(SimpleNamespace(root=tmp_path / "elsewhere"), target)
    assert str(info.value) == (
        f"--output {target} exists and is not a reprobox bundle; export replaces "
        "only an earlier bundle (choose another -o, or remove that file yourself)"
    )
    assert target.read_bytes() == before


def test_export_may_replace_a_bundle_as_export_writes_it(tmp_path):
    from reprobox.cli_share import _check_export_target

    files = {"manifest.json": "{}\n", "reference-record.json": "{}\n"}
    engine = FakeEngine()
    engine.add(SEALED)
    old = tmp_path / "old.tar"
    export_bundle(engine, SEALED, TAG, old, files)
    _check_export_target(SimpleNamespace(root=tmp_path / "elsewhere"), old)


# --- F10: a server that is not Docker is named as such, by the address used


class NotDocker:
    def ping(self):
        return True

    def version(self):
        return {"Version": 5, "Os": ["x"], "ApiVersion": "1.41"}


@pytest.mark.parametrize("given", ["host", "env"])
def test_a_server_that_is_not_docker_is_named_by_its_address(given, monkeypatch):
    from reprobox import engine as engine_module

    address = "unix:///tmp/not-docker.sock"
    monkeypatch.setattr(engine_module.docker, "from_env", lambda: NotDocker())
    monkeypatch.setattr(engine_module.docker, "DockerClient", lambda **kw: NotDocker())
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    if given == "env":
        monkeypatch.setenv("DOCKER_HOST", address)
    with pytest.raises(EngineError) as info:
        engine_module.connect(address if given == "host" else None)
    assert info.value.message == (
        f"the engine at {address} answered with something that is not Docker's API"
    )
    assert "pass --host" not in str(info.value)


def test_an_engine_that_does_not_answer_gets_no_pass_host_hint_when_given(monkeypatch):
    from reprobox import engine as engine_module

    def refuse(**kw):
        raise docker.errors.DockerException("Connection refused")

    monkeypatch.setattr(engine_module.docker, "DockerClient", refuse)
    with pytest.raises(EngineError) as info:
        engine_module.connect("unix:///tmp/none.sock")
    assert info.value.hint == "check the address given"


def test_import_into_a_full_disk_names_the_folder_and_leaves_none(
    tmp_path, monkeypatch
):
    import errno

    from typer.testing import CliRunner

    from reprobox import bundles, cli_share
    from reprobox import engine as engine_module
    from reprobox.cli import app

    texts = {"manifest.json": "{}\n", "requirements.lock": "six\n"}
    index = {"tag": "reprobox/p:abc", "image_id": "sha256:" + "3" * 64}
    monkeypatch.setattr(engine_module, "connect", lambda *a, **kw: object())
    monkeypatch.setattr(
        bundles,
        "import_bundle",
        lambda engine, path, on_tagged=None, note=None, on_left=None: (index, texts),
    )
    real_write = cli_share.atomic_write_text

    def fills(path, text):
        if path.name == "requirements.lock":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, text)

    monkeypatch.setattr(cli_share, "atomic_write_text", fills)
    bundle, into = tmp_path / "b.tar", tmp_path / "x"
    bundle.write_bytes(b"x")
    result = CliRunner().invoke(app, ["import", str(bundle), "--into", str(into)])
    assert isinstance(result.exception, InputError)
    assert result.exception.message == (
        f"--into {into}: cannot write the bundle's files into "
        f"{into / '.reprobox' / 'imported'}: No space left on device; the image "
        "was imported as reprobox/p:abc"
    )
    assert "free space" in result.exception.hint
    assert not into.exists()  # no empty .reprobox/imported/ left behind


def test_run_host_on_a_bundles_image_records_no_digest_the_engine_lacks(
    published_project, monkeypatch
):
    # brk 33 item 6: engine 2 held the published image loaded from a bundle
    # (no RepoDigests); the record claimed REF and its digest, with no word.
    remote = FakeEngine("engine2")
    remote.add(SEALED, labels=sealed_labels(), tag=TAG)
    given, stderr = run_on_remote(
        published_project, monkeypatch, local_with_published(), remote, "-q"
    )
    assert given == {"engine": remote, "ref": TAG, "id": SEALED}
    assert remote.pulls == []
    assert stderr == (
        f"reprobox: warning: engine2: the published image {REF} is there by id "
        f"({SEALED[7:19]}, loaded from a bundle?) but that engine lists no "
        "registry digest for it; the record names it as that engine knows it "
        "(by a registry digest it lists for the image, else by its tag), not by "
        "the published ref\n"
    )


@pytest.mark.parametrize(
    ("engine_said", "said"),
    [
        (  # dockerd 20.10, a registry answering 200 with a body cut short
            "unexpected EOF",
            "its registry gave a reply cut short: unexpected EOF",
        ),
        (
            "received unexpected HTTP status: 200 OK",
            "its registry gave a malformed reply: HTTP 200 OK, a success status, "
            "but not the one the registry API answers that step with",
        ),
        ("manifest unknown", "manifest unknown"),  # a refusal, in its own words
        ("invalid reference format", "invalid reference format"),  # no reply's
    ],
)
def test_a_pull_a_registry_ends_with_a_broken_reply_says_so(engine_said, said):
    # AZ 4, as push says it: a reply cut short was no cause the pull named.
    engine = FakeEngine()
    engine.pull_error = engine_said
    with pytest.raises(EngineError) as info:
        pull_by_digest(engine, REF)
    assert info.value.message == f"pull of {REF} failed: {said}"
