"""Hand edits and damage of manifest.json and record.json are caught as a class.

freeze seals each top-level section of the manifest and run seals each record;
every reader recomputes the digests. Each case below is one a breaker found
getting through the field-by-field checks that came before.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "compare"))
from synthetic import record_data, sealed_json, write_record  # noqa: E402

from reprobox.abandoned_runs import close_abandoned_records
from reprobox.atomic import dump_json
from reprobox.compare import load_records
from reprobox.config import load_config
from reprobox.errors import EXIT_USAGE, InputError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.manifest import load_frozen
from reprobox.run_folders import LOG_NAME, hold_run_lock, keep_host_copy
from reprobox.seals import (
    RECORD_DIGEST_FIELD,
    SECTIONS_FIELD,
    check_manifest_sealed,
    loads_strict,
    seal_manifest,
    seal_record,
)
from reprobox.share import check_published

FREEZE_AGAIN = "run `reprobox freeze"


@pytest.fixture
def frozen(six_project):
    """six_project frozen for real (fake resolver); returns its config."""
    (six_project / "reprobox.toml").write_text(
        (six_project / "reprobox.toml").read_text()
        + 'seed = 7\n[metrics]\ncompare = ["acc"]\n'
        "tolerances = { acc = { abs = 0.01 } }\n"
    )
    cfg = load_config(six_project)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    return cfg


def _manifest_path(cfg) -> Path:
    return cfg.state_dir / "manifest.json"


def _edit_manifest(cfg, change) -> None:
    path = _manifest_path(cfg)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(dump_json(data))  # the digests are left as freeze wrote them


def _one_line(error: InputError) -> str:
    text = str(error)
    assert "\n" not in text
    assert error.exit_code == EXIT_USAGE
    return text


def test_freeze_writes_a_digest_per_section_and_a_fresh_freeze_loads(frozen):
    manifest = json.loads(_manifest_path(frozen).read_text())
    sections = manifest[SECTIONS_FIELD]
    assert set(sections) == set(manifest) - {SECTIONS_FIELD, "published"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in sections.values())
    assert load_frozen(frozen).manifest == manifest


@pytest.mark.parametrize(
    ("section", "change"),
    [
        ("requirements_sha256", lambda m: m.update(requirements_sha256=None)),
        ("packages", lambda m: m["packages"]["pins"].update(six="1.16.0")),
        ("packages", lambda m: m["packages"].update(source="env")),
        ("packages", lambda m: m["packages"].update(system=["curl"])),
        ("indexes", lambda m: m["indexes"].update(index_url="https://evil/simple")),
        ("determinism", lambda m: m["determinism"].update(tf_op_determinism=True)),
        ("gpu", lambda m: m["gpu"].update(enabled=True)),
        ("seed", lambda m: m.update(seed=3)),
        ("metrics", lambda m: m["metrics"]["tolerances"]["acc"].update(abs=1.0)),
    ],
)
def test_an_edited_section_is_named_by_every_loader(frozen, section, change):
    _edit_manifest(frozen, change)
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert _one_line(info.value) == (
        f"{_manifest_path(frozen)}: manifest section '{section}' was edited after "
        f"freeze ({FREEZE_AGAIN} {frozen.root}` again)"
    )


def test_a_removed_or_added_section_is_named(frozen):
    _edit_manifest(frozen, lambda m: m.pop("host"))
    with pytest.raises(InputError, match="section 'host' was removed after freeze"):
        load_frozen(frozen)
    write_frozen(frozen, freeze_project(frozen, environ={}))
    _edit_manifest(frozen, lambda m: m.update(extra=1))
    with pytest.raises(InputError, match="section 'extra' was added after freeze"):
        load_frozen(frozen)


def test_a_seal_added_for_no_section_is_not_only_called_a_removal():
    # A key added to sections_sha256 read "section 'extra' was removed after
    # freeze", which sends the user looking for a section that never was.
    manifest = seal_manifest({"schema_version": 2, "seed": 1})
    manifest["sections_sha256"]["extra"] = "0" * 64
    with pytest.raises(InputError) as info:
        check_manifest_sealed("m.json", manifest, "fix")
    assert info.value.message == (
        "m.json: manifest section 'extra' was removed after freeze, or a seal for "
        "it added to 'sections_sha256'"
    )


def test_freeze_seals_the_manifest_it_writes_not_the_one_it_made(frozen):
    # A result changed between freeze_project and write_frozen (a relock) is
    # written with digests of what is written, and loads.
    result = freeze_project(frozen, environ={})
    result.manifest["packages"]["lock_sha256"] = "0" * 64
    result.lock += "# relocked\n"
    write_frozen(frozen, result)
    manifest = json.loads(_manifest_path(frozen).read_text())
    assert manifest[SECTIONS_FIELD] == seal_manifest(manifest)[SECTIONS_FIELD]
    check_manifest_sealed(_manifest_path(frozen), manifest, "fix")


def test_published_is_not_sealed_but_keeps_its_own_checks(frozen):
    entry = {
        "ref": "127.0.0.1:5000/six@sha256:" + "a" * 64,
        "image_id": "sha256:" + "b" * 64,
        "source_image_id": "sha256:" + "c" * 64,
        "reference_run": "20240101T000000Z-aaaaaa",
    }
    _edit_manifest(frozen, lambda m: m.update(published=[entry]))
    manifest = load_frozen(frozen).manifest  # push may add it after freeze
    assert check_published(_manifest_path(frozen), manifest) == [entry]


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        (
            [{"reference_run": "../../etc"}],
            "published[0].reference_run is '../../etc', not a run id or null",
        ),
        (  # bw 6: it said "is None", Python's word, in a JSON file
            [{"source_image_id": None}],
            "published[0].source_image_id is null, not sha256:<64 hex>",
        ),
        (
            [{}, {"image_id": "sha256:" + "d" * 64}],
            "published[1] names repository 127.0.0.1:5000/six again (as published[0])",
        ),
    ],
)
def test_published_entries_that_push_never_writes_are_refused(entries, words):
    base = {
        "ref": "127.0.0.1:5000/six@sha256:" + "a" * 64,
        "image_id": "sha256:" + "b" * 64,
        "source_image_id": "sha256:" + "c" * 64,
    }
    manifest = {"published": [{**base, **e} for e in entries]}
    with pytest.raises(InputError) as info:
        check_published(Path("m/manifest.json"), manifest)
    assert info.value.message.startswith(f"m/manifest.json: {words}")


def test_a_repeated_key_in_the_manifest_is_named(frozen):
    path = _manifest_path(frozen)
    path.write_text(path.read_text().replace('"seed": 7', '"seed": 7, "seed": 3'))
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert _one_line(info.value).startswith(
        f'{path}: key "seed" appears twice in one object'
    )


def test_a_manifest_that_is_a_folder_is_not_called_missing(frozen):
    path = _manifest_path(frozen)
    path.unlink()
    path.mkdir()
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert _one_line(info.value).startswith(f"{path}: manifest is a folder")


def test_a_manifest_of_schema_1_cannot_be_checked_so_it_is_refused(frozen):
    _edit_manifest(frozen, lambda m: m.update(schema_version=1))
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert "manifest has schema_version 1, written before manifests carried" in (
        info.value.message
    )
    assert info.value.hint.startswith(FREEZE_AGAIN)


def test_a_manifest_without_its_digests_is_refused(frozen):
    _edit_manifest(frozen, lambda m: m.pop(SECTIONS_FIELD))
    with pytest.raises(InputError, match="'sections_sha256' is missing or damaged"):
        load_frozen(frozen)


def test_compare_takes_no_tolerance_from_an_edited_manifest(frozen, tmp_path):
    from reprobox.cli_compare import _project_settings

    runs = frozen.state_dir / "runs"
    record = write_record(runs, record_data("A"))
    metrics, manifest = _project_settings([record])
    assert manifest == frozen.state_dir / "manifest.json"
    assert metrics["tolerances"] == {"acc": {"abs": 0.01, "rel": None}}
    _edit_manifest(frozen, lambda m: m["metrics"]["tolerances"]["acc"].update(abs=1.0))
    with pytest.raises(InputError, match="section 'metrics' was edited"):
        _project_settings([record])


def test_the_check_does_not_depend_on_key_order_or_layout():
    manifest = seal_manifest({"schema_version": 2, "b": {"y": 1, "x": [1.5]}})
    reordered = dict(reversed(list(json.loads(json.dumps(manifest)).items())))
    check_manifest_sealed("m", reordered, "fix")  # no error


# --- run records -------------------------------------------------------------


def test_a_record_whose_metric_was_edited_is_refused(tmp_path):
    path = write_record(tmp_path, record_data("A"))
    data = json.loads(path.read_text())
    data["metrics"]["accuracy"] = 0.999
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        load_records([path])
    assert _one_line(info.value) == (
        f"{path}: run record was edited after reprobox wrote it (record_sha256 no "
        "longer matches) (rerun it, or move the record out of the runs folder)"
    )


def test_a_record_without_its_digest_or_of_schema_1_is_refused(tmp_path):
    path = tmp_path / "A" / "record.json"
    path.parent.mkdir()
    path.write_text(json.dumps(record_data("A")))
    with pytest.raises(InputError, match="run record has no record_sha256"):
        load_records([path])
    path.write_text(sealed_json(record_data("A", schema_version=1)))
    with pytest.raises(InputError, match="run record has schema_version 1, written"):
        load_records([path])


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"exit_code": 1}, "status is succeeded but exit_code is 1"),
        ({"status": "failed", "exit_code": 0}, "status is failed but exit_code is 0"),
        ({"status": "running", "exit_code": 0}, "status is running but exit_code"),
        ({"status": None}, "status must be one of running, succeeded"),
        ({"started_at": "yesterday"}, "started_at is 'yesterday', not an ISO-8601"),
        ({"started_at": None}, "started_at is null, not an ISO-8601 time"),
        ({"finished_at": "2024-13-01T00:00:00Z"}, "finished_at is '2024-13-01T"),
    ],
)
def test_a_record_whose_fields_cannot_be_together_is_refused(tmp_path, changes, words):
    # Sealed after the change: the digest alone would not say what is wrong.
    path = write_record(tmp_path, record_data("A", **changes))
    with pytest.raises(InputError) as info:
        load_records([path])
    assert _one_line(info.value).startswith(f"{path}: {words}")


@pytest.mark.parametrize("run_id", ["../../etc", "a/b", "", ".."])
def test_a_run_id_that_is_no_folder_name_is_refused(tmp_path, run_id):
    path = tmp_path / "record.json"
    path.write_text(sealed_json(record_data(run_id)))
    with pytest.raises(InputError) as info:
        load_records([path])
    assert "not a run id" in _one_line(info.value)


def test_a_record_in_another_run_s_folder_is_refused(tmp_path):
    path = tmp_path / "20240101T000000Z-bbbbbb" / "record.json"
    path.parent.mkdir()
    path.write_text(sealed_json(record_data("20240101T000000Z-aaaaaa")))
    with pytest.raises(InputError) as info:
        load_records([tmp_path])
    assert _one_line(info.value).startswith(
        f"{path}: run_id is '20240101T000000Z-aaaaaa', but its run folder is "
        "'20240101T000000Z-bbbbbb'"
    )
    # bp F11: the fix said to move the record out of the runs folder, which
    # does not help a folder copied under a new name.
    assert info.value.hint == (
        "a copied run folder keeps its name: copy it as "
        "'20240101T000000Z-aaaaaa', or rerun it"
    )


def test_a_repeated_metric_key_is_named(tmp_path):
    path = write_record(tmp_path, record_data("A"))
    text = path.read_text().replace(
        '"accuracy": 0.9688', '"accuracy": 0.9688, "accuracy": 0.1'
    )
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_records([path])
    assert _one_line(info.value).startswith(
        f'{path}: key "accuracy" appears twice in one object'
    )


def test_nan_metrics_keep_their_digest_through_writing(tmp_path):
    data = record_data("A", metrics={"loss": float("nan"), "acc": float("inf")})
    path = tmp_path / "A" / "record.json"
    path.parent.mkdir()
    path.write_text(dump_json(seal_record(data)))
    [record] = load_records([path])
    assert record.data["metrics"] == {"loss": "NaN", "acc": "Infinity"}


def test_closing_an_abandoned_run_seals_the_record_anew(tmp_path):
    runs = tmp_path / "runs"
    run_id = "20240101T000000Z-aaaaaa"
    (runs / run_id).mkdir(parents=True)
    started = record_data(
        run_id, status="running", exit_code=None, finished_at=None, duration_s=None
    )
    fd = hold_run_lock(runs, run_id)
    keep_host_copy(runs, run_id, started)
    # It got as far as its container: the start record and a log are there (a
    # folder with nothing in it is a run killed before anything ran, removed).
    write_record(runs, started)
    (runs / run_id / LOG_NAME).write_text("epoch 1\n")
    os.close(fd)  # its reprobox is gone: the lock is free
    assert close_abandoned_records(runs) == [run_id]
    [record] = load_records([runs])
    assert record.status == "interrupted"
    assert RECORD_DIGEST_FIELD in record.data


def test_loads_strict_names_the_file_and_key():
    with pytest.raises(InputError) as info:
        loads_strict('{"a": {"b": 1, "b": 2}}', "x.json")
    assert info.value.message.startswith('x.json: key "b" appears twice')


def test_a_bug_mid_run_closes_the_record_from_reprobox_s_own_copy(
    tmp_path, monkeypatch
):
    # The run folder is the container's: what it put in record.json must not
    # be what reprobox rewrites, and seals, as the run's record.
    from reprobox import runner
    from reprobox.run_options import RunOptions, RunTarget
    from reprobox.runner import run_in_container

    def buggy_run(engine, target, run_id, run_dir, **kwargs):
        started = record_data(
            run_id, status="running", exit_code=None, finished_at=None
        )
        runner.write_record(run_dir / "record.json", started)
        keep_host_copy(target.runs_dir, run_id, started)
        forged = {**started, "metrics": {"accuracy": 1.0}}
        (run_dir / "record.json").write_text(sealed_json(forged))
        raise RuntimeError("a bug")

    monkeypatch.setattr(runner, "_run_locked", buggy_run)
    target = RunTarget(project="digits", runs_dir=tmp_path / "runs")
    with pytest.raises(RuntimeError):
        run_in_container(
            target,
            object(),
            image_ref="reprobox/digits:0",
            image_id="sha256:" + "1" * 64,
            manifest={"environment": {}, "determinism": {"profile": "default"}},
            manifest_sha256="0" * 64,
            opts=RunOptions(),
        )
    [record] = load_records([tmp_path / "runs"])
    assert record.status == "failed"
    assert dict(record.metrics) == {"loss": 0.1202998384, "accuracy": 0.9688}


def test_a_section_name_that_is_no_plain_word_is_quoted_on_one_line():
    manifest = seal_manifest({"schema_version": 2})
    manifest["bad\nname"] = 1
    with pytest.raises(InputError) as info:
        check_manifest_sealed("m.json", manifest, "fix")
    assert info.value.message == (
        'm.json: manifest section "bad\\nname" was added after freeze'
    )


def test_a_frozen_file_that_became_a_folder_says_how_to_mend_it(frozen):
    # by 4a: ".reprobox/Dockerfile: Is a directory", with no fix.
    dockerfile = frozen.state_dir / "Dockerfile"
    dockerfile.unlink()
    dockerfile.mkdir()
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert info.value.message == (
        f"{dockerfile}: Dockerfile is a folder, not a file reprobox wrote"
    )
    assert (
        info.value.hint
        == f"move it away, then run `reprobox freeze {frozen.root}` again"
    )


def test_a_frozen_lock_that_became_a_fifo_is_refused_not_read(frozen):
    # brk r42 (BF 1): build, run, push and export blocked on it forever.
    lock = frozen.state_dir / "requirements.lock"
    lock.unlink()
    os.mkfifo(lock)
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert info.value.message == (
        f"{lock}: lock is a FIFO (named pipe), not a file reprobox wrote"
    )


def test_a_manifest_of_the_wrong_shape_says_how_to_mend_it(frozen):
    # by 4b: "not a reprobox manifest (no schema_version)", with no fix.
    _manifest_path(frozen).write_text("[1]")
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert "(no schema_version)" in info.value.message
    assert info.value.hint is not None


def _make_fifo(path: Path) -> None:
    os.mkfifo(path)


def _make_socket(path: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_make_fifo, "a FIFO (named pipe)"),
        (_make_socket, "a socket"),
        (Path.mkdir, "a folder"),
    ],
)
def test_a_manifest_that_is_no_regular_file_is_named_with_the_fix(frozen, make, kind):
    # A FIFO said only "not a regular file", and no fix in reprobox's terms.
    path = _manifest_path(frozen)
    path.unlink()
    make(path)
    with pytest.raises(InputError) as info:
        load_frozen(frozen)
    assert _one_line(info.value) == (
        f"{path}: manifest is {kind}, not a file reprobox wrote (move it away, "
        f"then run `reprobox freeze {frozen.root}` again)"
    )
