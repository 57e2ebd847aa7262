"""Loading the frozen files back, and refusing edited or half-frozen states."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reprobox.atomic import dump_json
from reprobox.config import ProjectConfig
from reprobox.errors import InputError
from reprobox.manifest import (
    SCHEMA_VERSION,
    check_data_unchanged,
    fingerprint_data,
    load_frozen,
    read_versioned_json,
    sha256_file,
)
from reprobox.seals import seal_manifest

LOCK = "numpy==2.0.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
DOCKERFILE = 'FROM python:3.11-slim-bookworm\nCMD ["python", "train.py"]\n'


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cfg(root: Path, data: tuple[str, ...] = ()) -> ProjectConfig:
    return ProjectConfig(
        root=root,
        source=root / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        data=data,
    )


def _manifest(**overrides) -> dict:
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "project": {"name": "proj", "command": ["python", "train.py"]},
        "packages": {"lock_sha256": _sha(LOCK.encode())},
        "python": "3.11",
        "base_image": {"ref": "python:3.11-slim-bookworm", "digest": None},
        "environment": {},
        "data": [],
        "determinism": {"profile": "default", "tf_op_determinism": False},
        "dockerfile_sha256": _sha(DOCKERFILE.encode()),
    }
    manifest.update(overrides)
    return manifest


def freeze_into(root: Path, manifest: dict | None = None) -> Path:
    """Write a consistent .reprobox/ folder; return it."""
    state = root / ".reprobox"
    state.mkdir(parents=True, exist_ok=True)
    (state / "requirements.lock").write_text(LOCK)
    (state / "Dockerfile").write_text(DOCKERFILE)
    (state / "manifest.json").write_text(
        dump_json(seal_manifest(manifest or _manifest()))
    )
    return state


def test_consistent_state_loads(tmp_path):
    state = freeze_into(tmp_path)
    frozen = load_frozen(_cfg(tmp_path))
    assert frozen.manifest == seal_manifest(_manifest())
    assert frozen.lock_text == LOCK
    assert frozen.manifest_path == state / "manifest.json"
    assert frozen.lock_path == state / "requirements.lock"
    assert frozen.dockerfile_path == state / "Dockerfile"
    assert frozen.manifest_sha256 == _sha((state / "manifest.json").read_bytes())


def test_missing_manifest_says_to_freeze(tmp_path):
    with pytest.raises(InputError) as info:
        load_frozen(_cfg(tmp_path))
    assert str(tmp_path / ".reprobox" / "manifest.json") in str(info.value)
    assert "missing" in str(info.value)
    assert "reprobox freeze" in info.value.hint


def test_corrupt_manifest_json(tmp_path):
    state = freeze_into(tmp_path)
    (state / "manifest.json").write_text('{"schema_version": 1, "project": ')
    with pytest.raises(InputError) as info:
        load_frozen(_cfg(tmp_path))
    assert "not valid JSON" in str(info.value)
    assert str(state / "manifest.json") in str(info.value)


def test_manifest_that_is_not_utf8(tmp_path):
    state = freeze_into(tmp_path)
    (state / "manifest.json").write_bytes(b'{"schema_version": 1, "x": "\xff"}')
    with pytest.raises(InputError, match="not valid JSON"):
        load_frozen(_cfg(tmp_path))


@pytest.mark.parametrize("text", ["[1, 2]", '{"project": {}}'])
def test_json_without_schema_version_is_refused(tmp_path, text):
    state = freeze_into(tmp_path)
    (state / "manifest.json").write_text(text)
    with pytest.raises(InputError, match="no schema_version"):
        load_frozen(_cfg(tmp_path))


@pytest.mark.parametrize(
    "value, shown", [('"1"', '"1"'), ("true", "true"), ("1.5", "1.5"), ("null", "null")]
)
def test_a_schema_version_of_the_wrong_type_is_named(tmp_path, value, shown):
    state = freeze_into(tmp_path)
    (state / "manifest.json").write_text(f'{{"schema_version": {value}}}')
    with pytest.raises(InputError) as info:
        load_frozen(_cfg(tmp_path))
    assert info.value.message == (
        f"{state / 'manifest.json'}: schema_version is {shown}, not a whole "
        "number: the manifest is damaged"
    )


def test_newer_schema_version_asks_for_an_upgrade(tmp_path):
    freeze_into(tmp_path, _manifest(schema_version=SCHEMA_VERSION + 1))
    with pytest.raises(InputError) as info:
        load_frozen(_cfg(tmp_path))
    assert f"schema_version {SCHEMA_VERSION + 1}" in str(info.value)
    assert info.value.hint == "upgrade reprobox"


@pytest.mark.parametrize(
    "field",
    [
        "project",
        "packages",
        "python",
        "base_image",
        "environment",
        "data",
        "determinism",
    ],
)
def test_missing_required_field_is_named(tmp_path, field):
    manifest = _manifest()
    del manifest[field]
    freeze_into(tmp_path, manifest)
    with pytest.raises(InputError, match=f"manifest field '{field}' is missing"):
        load_frozen(_cfg(tmp_path))


def test_edited_lock_no_longer_matches(tmp_path):
    state = freeze_into(tmp_path)
    (state / "requirements.lock").write_text(LOCK + "pandas==2.2.0\n")
    with pytest.raises(InputError) as info:
        load_frozen(_cfg(tmp_path))
    assert "requirements.lock was changed after freeze" in str(info.value)
    assert "reprobox freeze" in info.value.hint


def test_missing_lock(tmp_path):
    state = freeze_into(tmp_path)
    (state / "requirements.lock").unlink()
    with pytest.raises(InputError, match="requirements.lock is missing"):
        load_frozen(_cfg(tmp_path))


def test_edited_dockerfile_no_longer_matches(tmp_path):
    state = freeze_into(tmp_path)
    (state / "Dockerfile").write_text(DOCKERFILE + "RUN echo hi\n")
    with pytest.raises(InputError) as info:
        load_frozen(_cfg(tmp_path))
    assert "Dockerfile was changed after freeze" in str(info.value)
    assert "reprobox.toml" in info.value.hint


def test_missing_dockerfile(tmp_path):
    state = freeze_into(tmp_path)
    (state / "Dockerfile").unlink()
    with pytest.raises(InputError, match="Dockerfile is missing"):
        load_frozen(_cfg(tmp_path))


def test_manifest_sha256_is_of_the_stable_text_without_publication(tmp_path):
    """docs/schemas.md: the digest of the manifest as freeze writes it, minus
    `published`, so a push (which adds `published`) or a CRLF re-save keeps it."""
    state = freeze_into(tmp_path)
    written = (state / "manifest.json").read_bytes()
    assert load_frozen(_cfg(tmp_path)).manifest_sha256 == _sha(written)

    crlf = written.replace(b"\n", b"\r\n")
    (state / "manifest.json").write_bytes(crlf)
    assert load_frozen(_cfg(tmp_path)).manifest_sha256 == _sha(written)

    published = {
        **seal_manifest(_manifest()),
        "published": [{"ref": "r@sha256:" + "0" * 64}],
    }
    (state / "manifest.json").write_text(dump_json(published))
    assert load_frozen(_cfg(tmp_path)).manifest_sha256 == _sha(written)


def test_read_versioned_json_accepts_current_version(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema_version": 1, "a": 2}))
    assert read_versioned_json(path, "record", 1) == {"schema_version": 1, "a": 2}


def _data_project(tmp_path: Path) -> ProjectConfig:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "b.csv").write_bytes(b"x,y\n1,2\n")
    (tmp_path / "data" / "a.bin").write_bytes(bytes(range(256)) * 4099)
    return _cfg(tmp_path, data=("data/b.csv", "data/a.bin"))


def test_fingerprint_matches_hashlib_sorted_by_path(tmp_path):
    cfg = _data_project(tmp_path)
    a = (tmp_path / "data" / "a.bin").read_bytes()
    b = (tmp_path / "data" / "b.csv").read_bytes()
    assert fingerprint_data(cfg) == [
        {"path": "data/a.bin", "sha256": hashlib.sha256(a).hexdigest(), "size": len(a)},
        {"path": "data/b.csv", "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)},
    ]
    assert sha256_file(tmp_path / "data" / "a.bin") == hashlib.sha256(a).hexdigest()


def test_fingerprint_of_unreadable_data_is_an_input_error(tmp_path):
    cfg = _cfg(tmp_path, data=("gone.csv",))
    with pytest.raises(InputError, match="gone.csv: data file cannot be read"):
        fingerprint_data(cfg)


def test_unchanged_data_passes(tmp_path):
    cfg = _data_project(tmp_path)
    check_data_unchanged(cfg, {"data": fingerprint_data(cfg)})


def test_changed_data_is_refused(tmp_path):
    cfg = _data_project(tmp_path)
    manifest = {"data": fingerprint_data(cfg)}
    (tmp_path / "data" / "b.csv").write_bytes(b"x,y\n1,3\n")
    with pytest.raises(InputError) as info:
        check_data_unchanged(cfg, manifest)
    assert str(tmp_path / "data" / "b.csv") in str(info.value)
    assert "changed since freeze" in str(info.value)


def test_missing_data_is_refused(tmp_path):
    cfg = _data_project(tmp_path)
    manifest = {"data": fingerprint_data(cfg)}
    (tmp_path / "data" / "a.bin").unlink()
    with pytest.raises(InputError) as info:
        check_data_unchanged(cfg, manifest)
    assert str(tmp_path / "data" / "a.bin") in str(info.value)
    assert "missing" in str(info.value)


def test_data_added_after_freeze_is_refused(tmp_path):
    cfg = _data_project(tmp_path)
    manifest = {
        "data": [item for item in fingerprint_data(cfg) if item["path"] != "data/b.csv"]
    }
    with pytest.raises(InputError) as info:
        check_data_unchanged(cfg, manifest)
    assert "data/b.csv" in str(info.value)
    assert "added after freeze" in str(info.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_image": "str"}, "base_image"),
        ({"base_image": {"ref": 3}}, "base_image.ref"),
        ({"data": {"a": [1]}}, "data"),
        ({"data": [{"path": "x"}]}, "data[0]"),
        ({"project": {"name": "p", "command": "python t.py"}}, "project.command"),
        ({"environment": {"A": 1}}, "environment"),
        ({"determinism": []}, "determinism"),
        ({"published": {"ref": "x"}}, "published"),
        ({"packages": {"lock_sha256": None}}, "packages.lock_sha256"),
    ],
)
def test_damaged_manifest_field_is_named_not_a_traceback(tmp_path, change, field):
    freeze_into(tmp_path, _manifest(**change))
    with pytest.raises(InputError) as info:
        load_frozen(_cfg(tmp_path))
    assert f"manifest field '{field}' is " in info.value.message
    assert info.value.hint == "run `reprobox freeze` again"


def test_deeply_nested_manifest_is_refused_in_one_line(tmp_path):
    state = freeze_into(tmp_path)
    (state / "manifest.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InputError, match="nested too deeply"):
        load_frozen(_cfg(tmp_path))
