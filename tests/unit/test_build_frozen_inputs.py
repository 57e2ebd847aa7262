"""Build refuses frozen inputs it cannot vouch for: a stripped manifest, another CA."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from reprobox import build as build_module
from reprobox.build import build_project, check_frozen_inputs
from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.seals import seal_manifest

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def frozen(six_project):
    tmp_path = six_project
    ca = tmp_path.parent / f"{tmp_path.name}-ca.pem"
    ca.write_text(CA)
    return tmp_path, ca


def _freeze(root: Path, ca: Path | None):
    cfg = load_config(root)
    write_frozen(cfg, freeze_project(cfg, environ={}, ca_cert=ca))
    return cfg


def _build(cfg, ca: Path | None, monkeypatch):
    built = []
    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(
        build_module, "build_image", lambda *a, **kw: built.append(a[2]) or "sha256:x"
    )
    secrets = {"ca_cert": ca} if ca else {}
    build_project(cfg, None, secrets=lambda: contextlib.nullcontext(secrets))
    return built


@pytest.mark.parametrize("key", ["config_sha256", "requirements_sha256"])
def test_a_manifest_without_its_input_digests_is_refused(frozen, key):
    root, _ = frozen
    cfg = _freeze(root, None)
    path = root / ".reprobox" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest[key]
    path.write_text(json.dumps(seal_manifest(manifest)))
    with pytest.raises(InputError, match=f"manifest field '{key}' is missing") as info:
        check_frozen_inputs(cfg)
    assert "freeze" in info.value.hint


def test_a_damaged_config_digest_is_refused(frozen):
    root, _ = frozen
    cfg = _freeze(root, None)
    path = root / ".reprobox" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["config_sha256"] = None
    path.write_text(json.dumps(seal_manifest(manifest)))
    with pytest.raises(InputError, match="'config_sha256' is damaged"):
        check_frozen_inputs(cfg)


def test_the_frozen_ca_builds(frozen, monkeypatch):
    root, ca = frozen
    cfg = _freeze(root, ca)
    assert len(_build(cfg, ca, monkeypatch)) == 1


def test_a_ca_edited_after_freeze_is_refused(frozen, monkeypatch):
    root, ca = frozen
    cfg = _freeze(root, ca)
    ca.write_text(CA + CA)
    with pytest.raises(InputError, match="changed since") as info:
        _build(cfg, ca, monkeypatch)
    assert "freeze" in info.value.hint


def test_another_ca_at_build_says_a_different_bundle_was_frozen(
    frozen, monkeypatch, tmp_path
):
    import hashlib

    root, ca = frozen
    cfg = _freeze(root, ca)
    other = tmp_path / "system-ca.crt"
    other.write_text(CA + CA)
    with pytest.raises(InputError) as info:
        _build(cfg, other, monkeypatch)
    frozen_sha = hashlib.sha256(ca.read_bytes()).hexdigest()
    message = info.value.message
    assert f"{other}" in message and "is not the one frozen" in message
    assert f"sha256 {frozen_sha[:12]}" in message
    assert "a different bundle was given at freeze" in message
    assert "--ca-cert" in info.value.hint


def test_a_ca_given_only_at_build_is_refused(frozen, monkeypatch):
    root, ca = frozen
    cfg = _freeze(root, None)
    with pytest.raises(InputError, match="which freeze did not"):
        _build(cfg, ca, monkeypatch)


def test_a_ca_given_only_at_freeze_is_refused(frozen, monkeypatch):
    root, ca = frozen
    cfg = _freeze(root, ca)
    with pytest.raises(
        InputError, match="records a CA bundle, but this build has none"
    ):
        _build(cfg, None, monkeypatch)


def test_a_big_project_file_is_noted_before_the_build(frozen, monkeypatch):
    root, _ = frozen
    monkeypatch.setattr(build_module, "BIG_FILE_BYTES", 2_000_000)  # a quick copy
    with open(root / "weights.bin", "wb") as fh:
        fh.truncate(3_000_000)
    with open(root / "small.bin", "wb") as fh:
        fh.truncate(2_000_000 - 1)
    cfg = _freeze(root, None)
    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(build_module, "build_image", lambda *a, **kw: "sha256:x")
    notes = []
    build_project(
        cfg, None, secrets=lambda: contextlib.nullcontext({}), on_note=notes.append
    )
    assert notes == [
        "weights.bin (3 MB) goes into the image: list it in `data` in "
        "reprobox.toml (mounted read-only and fingerprinted, not copied) or in "
        ".reproboxignore"
    ]


def test_a_nested_include_deleted_after_freeze_is_named_as_missing(frozen):
    # Round 39, BB 2: the error named reqs/base.txt alone; the file that
    # changed, reqs/more.txt, now gone, was not named and nothing said so.
    root, _ = frozen
    (root / "reqs").mkdir()
    (root / "requirements.txt").write_text("six==1.17.0\n-r reqs/base.txt\n")
    (root / "reqs" / "base.txt").write_text("-r more.txt\n")
    (root / "reqs" / "more.txt").write_text("")
    cfg = _freeze(root, None)
    (root / "reqs" / "more.txt").unlink()
    with pytest.raises(InputError) as info:
        check_frozen_inputs(cfg)
    assert info.value.message == (
        "reqs/more.txt, included by reqs/base.txt, is missing. "
        f"{root / 'requirements.txt'} or a file it includes (reqs/base.txt, "
        "reqs/more.txt) changed since freeze; the lock would not match it"
    )
    assert info.value.hint == f"run `reprobox freeze {root}` to lock again"
