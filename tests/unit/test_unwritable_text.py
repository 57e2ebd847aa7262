"""Text Python holds with half of a UTF-16 pair (a JSON "\\ud800" escape, a
byte surrogateescape kept) never crashes a record, manifest or digest write."""

from __future__ import annotations

import json
import math

import pytest

from reprobox import run_ending, run_record, runner
from reprobox.atomic import atomic_write_json, dump_json, writable_text
from reprobox.container_files import read_script_metrics
from reprobox.metric_names import metric_name_problem
from reprobox.run_options import RunOptions, RunTarget
from reprobox.seals import (
    check_manifest_sealed,
    check_record_sealed,
    seal_manifest,
    seal_record,
)

MANIFEST = {
    "project": {"name": "p", "command": ["python", "train.py"]},
    "environment": {},
    "data": [],
    "determinism": {"profile": "default"},
}
TOKEN = "hf_Q7x9LmPz2KsT4vWb"
WHERE = "the metrics file ($REPROBOX_METRICS)"


def read_record(path) -> dict:
    """Read a record as every reader does: UTF-8, its digest checked."""
    record = json.loads(path.read_bytes().decode("utf-8"))
    check_record_sealed(path, record)
    return record


class _Container:
    """A container that leaves files in the run folder and exits 0."""

    id = "c" * 64
    attrs = {"State": {"OOMKilled": False}}

    def __init__(self, run_dir, files: dict[str, str]):
        self.run_dir, self.files = run_dir, files

    def logs(self, stream=False, follow=False):
        for name, text in self.files.items():
            (self.run_dir / name).write_text(text, encoding="ascii")
        return iter([b"training\n"])

    def wait(self):
        return {"StatusCode": 0}

    def reload(self):
        pass


class _Engine:
    def describe(self):
        return {"host": "fake", "server_version": "0", "os": "linux", "arch": "x"}


@pytest.fixture
def leaves(monkeypatch) -> dict[str, str]:
    """Return the files (name: JSON text) the next fake container writes."""
    files: dict[str, str] = {}
    monkeypatch.setattr(
        runner,
        "start_container",
        lambda engine, spec: _Container(spec.mounts[0][0], files),
    )
    monkeypatch.setattr(runner, "remove_container", lambda container: None)
    monkeypatch.setattr(runner, "remove_run_containers", lambda engine, run_id: 0)
    monkeypatch.setattr(run_record, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    monkeypatch.setattr(run_record, "image_label", lambda engine, image, label: None)
    return files


def _run(tmp_path, env: dict[str, str] | None = None) -> dict:
    return runner.run_in_container(
        RunTarget(project="p", runs_dir=tmp_path),
        _Engine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=MANIFEST,
        manifest_sha256="0" * 64,
        opts=RunOptions(extra_env=env or {}),
    )


@pytest.mark.parametrize("escape", ["\\ud800", "\\udcff", "\\u200b", "\\u0007"])
def test_a_metric_name_no_one_can_type_is_left_out_and_the_run_succeeds(
    tmp_path, leaves, escape
):
    # brk r38 BA#1: {"\ud800": 1} ended `run` in a traceback from the record's
    # digest, the record "failed" with no exit code though training exited 0.
    leaves["metrics.json"] = f'{{"{escape}": 1, "acc": 0.5}}'
    record = _run(tmp_path)

    name = json.loads(f'"{escape}"')
    assert record["status"] == "succeeded"
    assert record["exit_code"] == 0
    assert record["metrics"] == {"acc": 0.5}
    assert record["machine"] is not None
    [note] = [w for w in record["warnings"] if w.startswith("metric ")]
    assert note == (
        f"metric {name!r} in {WHERE} has a name that {metric_name_problem(name)}, "
        "which --metric and --tol cannot name; left out"
    )
    written = read_record(tmp_path / record["run_id"] / "record.json")
    assert written == json.loads(dump_json(record))
    assert written["status"] == "succeeded"


def test_half_a_pair_in_the_capture_is_written_escaped_and_hidden(tmp_path, leaves):
    capture = {
        "schema_version": 1,
        "python": {"version": "3.11.9"},
        "history": [
            {"call": 0, "epochs": [{"epoch": 1, "\\ud800": 1.0, "loss": 0.25}]}
        ],
        "evaluations": [{"call": 0, "results": {"\\udfff": 2.0, "acc": 0.75}}],
        "packages": {"pkg\\ud800": "1.0"},
        "env": {"OMP_NUM_THREADS": "x\\udcff"},
        "hook_errors": [f"keras: boom \\ud800 {TOKEN}"],
    }
    # The hook writes ASCII JSON (json.dump's default): "\\ud800" escapes.
    leaves["capture.json"] = json.dumps(capture).replace("\\\\u", "\\u")
    record = _run(tmp_path, {"HF_TOKEN": TOKEN})

    assert record["status"] == "succeeded"
    assert record["history"] == [{"call": 0, "epochs": [{"epoch": 1, "loss": 0.25}]}]
    assert record["evaluations"] == [{"call": 0, "results": {"acc": 0.75}}]
    assert record["metrics"] == {"eval_acc": 0.75, "loss": 0.25}
    assert record["machine"]["packages"] == {"pkg\\ud800": "1.0"}
    assert record["machine"]["env"] == {"OMP_NUM_THREADS": "x\\xff"}
    assert "keras: boom \\ud800 ***" in record["warnings"]
    assert sorted(w for w in record["warnings"] if w.startswith("metric ")) == [
        "metric '\\ud800' in capture.json has a name that holds U+D800 (half of a "
        "UTF-16 pair, no character), which --metric and --tol cannot name; left out",
        "metric '\\udfff' in capture.json has a name that holds U+DFFF (half of a "
        "UTF-16 pair, no character), which --metric and --tol cannot name; left out",
    ]
    path = tmp_path / record["run_id"] / "record.json"
    assert read_record(path) == json.loads(dump_json(record))
    assert TOKEN not in path.read_text()


def test_a_bug_after_a_clean_exit_keeps_the_trainings_verdict(
    tmp_path, leaves, monkeypatch
):
    # The record said "failed", exit_code null, for a training that exited 0.
    def broken(capture):
        raise RuntimeError("reading went wrong")

    monkeypatch.setattr(run_ending, "machine_from_capture", broken)
    with pytest.raises(RuntimeError, match="reading went wrong"):
        _run(tmp_path)

    [path] = tmp_path.glob("*/record.json")
    record = read_record(path)
    assert (record["status"], record["exit_code"], record["error"]) == (
        "succeeded",
        0,
        None,
    )
    assert record["warnings"] == [
        "reprobox failed: RuntimeError: reading went wrong, after the training "
        "ended; its metrics, history and machine facts are missing"
    ]
    assert not list(tmp_path.glob("*.lock"))  # the run is over for the next one


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("plain é", "plain é"),
        ("\ud800", "\\ud800"),
        ("a\udcffb", "a\\xffb"),  # a byte surrogateescape kept: 0xff
        ("\udc7f\ude00", "\\udc7f\\ude00"),  # no byte of surrogateescape's
    ],
)
def test_writable_text_escapes_half_pairs_and_leaves_the_rest(given, written):
    assert writable_text(given) == written
    assert writable_text(written) == written  # read back, written the same


def test_every_json_writer_and_digest_takes_half_pairs(tmp_path):
    data = {"\ud800": "x\udcff", "\\ud800": 1, "list": ["\udfff"], "n": math.nan}
    text = dump_json(data)
    assert json.loads(text) == {
        "\\ud800": "x\\xff",
        "\\ud800 (2)": 1,  # a key the escape made equal to another keeps its value
        "list": ["\\udfff"],
        "n": "NaN",
    }
    sealed = seal_record({"schema_version": 2, "run_id": "r\udcff", **data})
    atomic_write_json(tmp_path / "record.json", sealed)
    check_record_sealed("r", json.loads((tmp_path / "record.json").read_text()))
    manifest = seal_manifest({"schema_version": 2, "project": {"root": "/p\udcff"}})
    check_manifest_sealed("m", json.loads(dump_json(manifest)), "freeze")


def test_a_repeated_key_in_the_metrics_file_is_named(tmp_path):
    # brk r38 BA#5: docs/schemas.md promises the key; the warning named none.
    path = tmp_path / "metrics.json"
    path.write_text('{"acc": 0.9, "acc": 0.1}')
    assert read_script_metrics(path) == (
        {},
        [f'{WHERE} repeats the key "acc" in one object; its metrics were ignored'],
    )
    path.write_text(
        '{"\\ud800\\n' + "x" * 100 + '": 1, "\\ud800\\n' + "x" * 100 + '": 2}'
    )
    [note] = read_script_metrics(path)[1]
    assert note == (
        f'{WHERE} repeats the key "\\ud800\\n{"x" * 50}… in one object; its '
        "metrics were ignored"
    )
    note.encode("utf-8")
