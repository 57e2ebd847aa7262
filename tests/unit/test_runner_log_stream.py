"""The container's output stream reaches the log, record and terminal whole,
its --env secrets hidden even where a chunk boundary cuts one."""

from __future__ import annotations

import json

import pytest

from reprobox import run_record, runner
from reprobox.run_options import RunOptions, RunTarget, container_env

MANIFEST = {
    "project": {"name": "p", "command": ["python", "train.py"]},
    "environment": {},
    "data": [],
    "determinism": {"profile": "default"},
}
TOKEN = "hf_Q7x9LmPz2KsT4vWb"


class _Container:
    id = "c" * 64
    attrs = {"State": {"OOMKilled": False}}

    def __init__(self, chunks: list[bytes], kept: list[bytes]):
        self.chunks = chunks  # what the follow stream gives
        self.kept = kept  # what the engine's log holds once it stops, if more

    def logs(self, stream=False, follow=False):
        return iter(self.kept if self.kept and not follow else self.chunks)

    def wait(self):
        return {"StatusCode": 1}

    def reload(self):
        pass


class _Engine:
    def describe(self):
        return {"host": "fake", "server_version": "0", "os": "linux", "arch": "x"}


@pytest.fixture
def kept_log() -> list[bytes]:
    """Return the list of chunks the engine keeps, where more than it streamed."""
    return []


@pytest.fixture
def started(monkeypatch, kept_log):
    """Return the list whose chunks the next fake container prints."""
    chunks: list[bytes] = []
    monkeypatch.setattr(
        runner, "start_container", lambda engine, spec: _Container(chunks, kept_log)
    )
    monkeypatch.setattr(runner, "remove_container", lambda container: None)
    monkeypatch.setattr(runner, "remove_run_containers", lambda engine, run_id: 0)
    monkeypatch.setattr(run_record, "image_layers_digest", lambda engine, image: None)
    monkeypatch.setattr(run_record, "recorded_name", lambda e, i, ref: (ref, None))
    monkeypatch.setattr(run_record, "image_label", lambda engine, image, label: None)
    return chunks


def test_a_secret_and_a_character_cut_between_chunks_arrive_whole(tmp_path, started):
    # "é" is two bytes in UTF-8: the cut falls between them.
    started += [b"caf\xc3", b"\xa9 token=hf_Q7x9Lm", b"Pz2KsT4vWb\nlower=hf_q7", b"x9"]
    shown: list[str] = []
    record = runner.run_in_container(
        RunTarget(project="p", runs_dir=tmp_path),
        _Engine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=MANIFEST,
        manifest_sha256="0" * 64,
        opts=RunOptions(extra_env={"HF_TOKEN": TOKEN}),
        on_log=shown.append,
    )

    log = (tmp_path / record["run_id"] / "container.log").read_text()
    # The last chunk ends the stream with what could still begin the token.
    assert log == "café token=***\nlower=hf_q7x9"
    assert record["error"]["log_tail"] == "café token=***\nlower=hf_q7x9"
    assert shown == ["café token=***", "lower=hf_q7x9"]
    assert record["options"]["env"] == {"HF_TOKEN": "***"}
    assert TOKEN not in json.dumps(record)


def _run(tmp_path, env: dict[str, str], shown: list[str]) -> dict:
    return runner.run_in_container(
        RunTarget(project="p", runs_dir=tmp_path),
        _Engine(),
        image_ref="reprobox/p:0",
        image_id="sha256:" + "1" * 64,
        manifest=MANIFEST,
        manifest_sha256="0" * 64,
        opts=RunOptions(extra_env=env),
        on_log=shown.append,
    )


@pytest.mark.parametrize("env", [{}, {"HF_TOKEN": TOKEN}], ids=["plain", "secret"])
def test_the_last_piece_the_follow_stream_missed_is_logged_and_shown(
    tmp_path, started, kept_log, env
):
    # The engine let the follower go before it kept the unterminated end.
    started += [b"first line\n"]
    kept_log += [b"first line\n", b"ERROR: final words hf_Q7x9", b"LmPz2KsT4vWb"]
    shown: list[str] = []

    record = _run(tmp_path, env, shown)

    end = "ERROR: final words " + ("***" if env else TOKEN)
    log = (tmp_path / record["run_id"] / "container.log").read_text()
    assert log == f"first line\n{end}"
    assert record["error"]["log_tail"] == f"first line\n{end}"
    assert shown == ["first line", end]


@pytest.mark.parametrize("note", ["{v}", "note-{v}-x", "https://u:{v}@db.example/x"])
def test_a_secret_under_a_harmless_name_is_hidden_in_the_record(
    tmp_path, started, note
):
    # cf 1: DB_PASSWORD=V hid V in the log, while options.env.RUN_NOTE=V (or a
    # longer value holding it) stayed in the record, compare and push's label.
    secret = "Kx9mPq2vRt7wLz4n"
    started += [f"tag is {secret}\n".encode()]
    env = {"DB_PASSWORD": secret, "RUN_NOTE": note.format(v=secret), "LR": "0.1"}
    record = _run(tmp_path, env, [])
    assert record["options"]["env"] == {
        "DB_PASSWORD": "***",
        "LR": "0.1",
        "RUN_NOTE": "***",
    }
    assert secret not in json.dumps(record)
    hook = container_env(MANIFEST, RunOptions(extra_env=env))
    assert hook["REPROBOX_HIDDEN_ENV"] == "DB_PASSWORD,RUN_NOTE"
