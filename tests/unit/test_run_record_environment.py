"""A run record keeps the variables its image sets, as the manifest froze them."""

from __future__ import annotations

import json

from reprobox import run_record, runner
from reprobox.run_options import RunOptions, RunTarget

TOKEN = "hf_Q7x9LmPz2KsT4vWb"


class _Container:
    id = "c" * 64
    attrs = {"State": {"OOMKilled": False}}

    def logs(self, stream=False, follow=False):
        return iter([b"done\n"])

    def wait(self):
        return {"StatusCode": 0}

    def reload(self):
        pass


class _Engine:
    def describe(self):
        return {"host": "fake", "server_version": "0", "os": "linux", "arch": "x"}


def _run(monkeypatch, tmp_path, environment: dict[str, str]) -> dict:
    monkeypatch.setattr(runner, "start_container", lambda engine, spec: _Container())
    monkeypatch.setattr(runner, "remove_container", lambda container: None)
    monkeypatch.setattr(runner, "remove_run_containers", lambda engine, run_id: 0)
    monkeypatch.setattr(run_record, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    monkeypatch.setattr(run_record, "image_label", lambda engine, image, label: None)
    manifest = {
        "project": {"name": "p", "command": ["python", "train.py"]},
        "environment": environment,
        "data": [],
        "determinism": {"profile": "default"},
    }
    return runner.run_in_container(
        RunTarget(project="p", runs_dir=tmp_path),
        _Engine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=manifest,
        manifest_sha256="0" * 64,
        opts=RunOptions(extra_env={"MY_FLAG": "1"}),
        on_log=None,
    )


def test_the_record_keeps_the_manifests_environment_sorted(monkeypatch, tmp_path):
    record = _run(
        monkeypatch, tmp_path, {"TF_DETERMINISTIC_OPS": "1", "MY_SHIFT": "0.02"}
    )
    written = json.loads((tmp_path / record["run_id"] / "record.json").read_text())
    assert list(written["environment"].items()) == [
        ("MY_SHIFT", "0.02"),
        ("TF_DETERMINISTIC_OPS", "1"),
    ]
    # --env stays where it was: the image's variables are not the run's.
    assert written["options"]["env"] == {"MY_FLAG": "1"}


def test_a_secret_looking_value_is_hidden_as_options_env_hides_one(
    monkeypatch, tmp_path
):
    # freeze never writes one; a manifest that holds one anyway is not copied.
    record = _run(monkeypatch, tmp_path, {"HF_TOKEN": TOKEN})
    written = (tmp_path / record["run_id"] / "record.json").read_text()
    assert json.loads(written)["environment"] == {"HF_TOKEN": "***"}
    assert TOKEN not in written
