"""A `reprobox freeze` that ends while a command reads, builds or records.

A run read the manifest, a freeze replaced it, and the build read it again:
the record paired the old seed and digest with the new freeze's image. Each
command now reads the frozen files once and works from that read.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from reprobox import build as build_module
from reprobox import cli_run, cli_share, engine, manifest
from reprobox.atomic import atomic_write_files
from reprobox.build import build_project, check_frozen_inputs
from reprobox.cli import app
from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.manifest import FREEZE_MARKER, load_frozen
from reprobox.publication import record_publication
from reprobox.share import MANIFEST_SHA_LABEL

ENTRY = {
    "ref": "127.0.0.1:5000/reprobox/p@sha256:" + "b" * 64,
    "image_id": "sha256:" + "c" * 64,
    "source_image_id": "sha256:" + "d" * 64,
    "reference_run": None,
}


@pytest.fixture
def project(six_project):
    """The six project, its config passing X from the freezing shell."""
    config = six_project / "reprobox.toml"
    config.write_text(config.read_text() + 'pass_env = ["X"]\n')
    return six_project


def freeze(root: Path, x: str):
    """Freeze root with X=x in the shell; return its config."""
    cfg = load_config(root)
    write_frozen(cfg, freeze_project(cfg, environ={"X": x}))
    return cfg


def stage_builds(monkeypatch) -> list[dict]:
    """Fake the engine's part of a build; return what each build staged."""
    built: list[dict] = []

    def build_image(engine, path, tag, *, labels, **kwargs):
        built.append(
            {"labels": labels, "dockerfile": (Path(path) / "Dockerfile").read_text()}
        )
        return "sha256:" + "e" * 64

    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(build_module, "build_image", build_image)
    return built


def test_a_build_given_a_freeze_builds_it_though_the_files_were_frozen_again(
    project, monkeypatch
):
    cfg = freeze(project, "1")
    frozen = check_frozen_inputs(cfg)
    freeze(project, "2")
    assert load_frozen(cfg).manifest_sha256 != frozen.manifest_sha256
    built = stage_builds(monkeypatch)

    build_project(cfg, None, secrets=lambda: contextlib.nullcontext({}), frozen=frozen)

    [one] = built
    assert one["labels"][MANIFEST_SHA_LABEL] == frozen.manifest_sha256
    assert 'X="1"' in one["dockerfile"] and 'X="2"' not in one["dockerfile"]


def test_a_build_given_no_freeze_reads_the_files_as_they_are(project, monkeypatch):
    cfg = freeze(project, "1")
    freeze(project, "2")
    built = stage_builds(monkeypatch)
    build_project(cfg, None, secrets=lambda: contextlib.nullcontext({}))
    assert built[0]["labels"][MANIFEST_SHA_LABEL] == load_frozen(cfg).manifest_sha256
    assert 'X="2"' in built[0]["dockerfile"]


def test_a_freeze_ending_between_the_reads_of_the_files_is_named(project, monkeypatch):
    cfg = freeze(project, "1")
    read = manifest._read_frozen

    def read_after_a_freeze(path, *args):
        if path.name == "Dockerfile":
            freeze(project, "2")
        return read(path, *args)

    monkeypatch.setattr(manifest, "_read_frozen", read_after_a_freeze)
    with pytest.raises(InputError) as caught:
        load_frozen(cfg)
    assert caught.value.message == (
        f"{cfg.state_dir}: a `reprobox freeze` replaced the frozen files while "
        "they were being read"
    )
    assert caught.value.hint == "run this command again once that freeze has ended"


def test_a_dockerfile_edited_by_hand_is_still_called_edited(project):
    cfg = freeze(project, "1")
    dockerfile = cfg.state_dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN true\n")
    with pytest.raises(InputError, match="was changed after freeze"):
        load_frozen(cfg)


class Images:
    """An engine whose one image carries the given manifest-sha256 label."""

    def __init__(self, label: str | None):
        labels = {MANIFEST_SHA_LABEL: label} if label else {}
        attrs = {"Config": {"Labels": labels}}
        self.client = SimpleNamespace(
            images=SimpleNamespace(get=lambda ref: SimpleNamespace(attrs=attrs))
        )


def test_an_image_of_the_manifest_the_run_loaded_is_run(project):
    frozen = load_frozen(freeze(project, "1"))
    cli_run.check_image_of_manifest(
        Images(frozen.manifest_sha256), "sha256:x", "reprobox/p:1", frozen
    )


@pytest.mark.parametrize("label", ["f" * 64, None])
def test_an_image_of_another_manifest_is_not_run(project, label):
    frozen = load_frozen(freeze(project, "1"))
    with pytest.raises(InputError) as caught:
        cli_run.check_image_of_manifest(
            Images(label), "sha256:x", "reprobox/p:1", frozen
        )
    assert caught.value.message == (
        f"{frozen.manifest_path}: image reprobox/p:1 carries manifest sha256 "
        f"{str(label)[:12]}, not {frozen.manifest_sha256[:12]} of the manifest "
        "this run loaded, so its record would mix two freezes"
    )
    assert caught.value.hint.startswith("run `reprobox run` again")


def test_a_push_is_recorded_in_the_manifest_it_was_built_from(project):
    cfg = freeze(project, "1")
    frozen = load_frozen(cfg)
    freeze(project, "1")  # the same freeze again: the image is still its own
    record_publication(frozen, ENTRY)
    on_disk = load_frozen(cfg)
    assert on_disk.manifest["published"] == [ENTRY]
    assert on_disk.manifest_sha256 == frozen.manifest_sha256


def test_a_push_is_not_recorded_in_a_manifest_frozen_again_meanwhile(project):
    cfg = freeze(project, "1")
    frozen = load_frozen(cfg)
    freeze(project, "2")
    before = frozen.manifest_path.read_bytes()
    with pytest.raises(InputError) as caught:
        record_publication(frozen, ENTRY)
    assert caught.value.message == (
        f"{frozen.manifest_path}: a `reprobox freeze` replaced the manifest while "
        f"{ENTRY['ref']} was pushed; that image is of the earlier freeze, so it "
        "is not recorded as published"
    )
    assert frozen.manifest_path.read_bytes() == before


def test_a_push_is_not_recorded_while_a_freeze_writes(project):
    cfg = freeze(project, "1")
    frozen = load_frozen(cfg)
    before = frozen.manifest_path.read_bytes()
    writing = []

    def files():
        # Inside freeze's write, under its lock: the push must not write now.
        with pytest.raises(
            InputError, match=r"a push recording its digest\) is writing the frozen"
        ):
            record_publication(frozen, ENTRY)
        writing.append(True)
        return [(frozen.manifest_path, before.decode())]

    atomic_write_files(files, cfg.state_dir / FREEZE_MARKER)
    assert writing == [True]
    assert "published" not in json.loads(frozen.manifest_path.read_bytes())


def test_a_unit_write_reads_what_it_replaces_under_its_lock(tmp_path):
    marker = tmp_path / ".pending"
    seen = []

    def files():
        seen.append(marker.exists())
        return [(tmp_path / "a", "one")]

    atomic_write_files(files, marker)
    assert seen == [True]
    assert (tmp_path / "a").read_text() == "one"
    assert not marker.exists()


def test_a_unit_write_refused_by_its_files_leaves_no_marker(tmp_path):
    marker = tmp_path / ".pending"

    def files():
        raise InputError("changed meanwhile")

    with pytest.raises(InputError, match="changed meanwhile"):
        atomic_write_files(files, marker)
    assert not marker.exists()


class Built(Exception):
    """What the fake build raises once it has seen what it was given."""


@pytest.mark.parametrize(
    ("module", "args"),
    [
        (cli_run, ["run"]),
        (cli_share, ["push", "--registry", "127.0.0.1:5000"]),
        (cli_share, ["export", "-o", "bundle.tar"]),
    ],
)
def test_a_command_builds_the_freeze_it_loaded(
    project, monkeypatch, tmp_path, module, args
):
    cfg = freeze(project, "1")
    loaded = load_frozen(cfg).manifest_sha256
    given = []

    def build(cfg, engine, ca_cert, force=False, frozen=None):
        freeze(project, "2")  # ends as the build starts
        given.append(frozen)
        raise Built

    fake = SimpleNamespace(host=None, client=SimpleNamespace(info=lambda: {}))
    monkeypatch.setattr(engine, "connect", lambda host=None, context=None: fake)
    monkeypatch.setattr(module, "_build", build)
    monkeypatch.setattr(module, "tidy_killed_runs", lambda cfg, engine: None)
    monkeypatch.chdir(tmp_path)
    argv = [args[0], str(project), *args[1:]]
    result = CliRunner().invoke(app, argv, env={"X": "1"})
    assert isinstance(result.exception, Built), result.output
    [frozen] = given
    assert frozen.manifest_sha256 == loaded
    assert 'X="1"' in frozen.dockerfile_text
    assert load_frozen(cfg).manifest_sha256 != loaded


def test_a_run_refuses_a_config_edited_since_freeze_before_any_engine(
    project, monkeypatch
):
    # The breaker's case: seed edited, then `freeze & run`; a run that read
    # the new config and the old manifest used to find out only at its build.
    cfg = freeze(project, "1")
    config = project / "reprobox.toml"
    config.write_text(config.read_text() + "seed = 51\n")
    monkeypatch.setattr(engine, "connect", lambda *a, **k: pytest.fail("connected"))
    result = CliRunner().invoke(app, ["run", str(project)])
    assert isinstance(result.exception, InputError), result.output
    assert result.exception.message == (
        f"{config} changed since freeze; the build would mix old and new settings"
    )
    assert result.exception.hint == f"run `reprobox freeze {cfg.root}` again"
