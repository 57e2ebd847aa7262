"""A killed run's output, read from the engine by the command that closes it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import docker.errors
import pytest
from label_filters import labelled

from reprobox.atomic import dump_json
from reprobox.engine import LABEL_PREFIX, OWNER_LABEL, RUN_LABEL
from reprobox.recovery import sweep_killed_runs
from reprobox.run_folders import LOG_NAME

RID = "20260101T000011Z-000011"
TOKEN = "tok-5f0c9e1d2b3a4f5e"
EPOCHS = [f"epoch {n}" for n in range(30)]


class LeftContainer:
    """A stopped (or still training) container whose reprobox was killed."""

    def __init__(self, env: dict[str, str], chunks: list[bytes], calls: list):
        self.id = "c" * 64
        self.labels = {
            RUN_LABEL: RID,
            OWNER_LABEL: "host:1:1",
            f"{LABEL_PREFIX}.project": "proj",
        }
        self.attrs = {"Config": {"Env": [f"{k}={v}" for k, v in env.items()]}}
        self.chunks = chunks
        self.calls = calls
        self.removed = False
        self.log_error: Exception | None = None

    def reload(self):
        pass

    def kill(self):
        self.calls.append("kill")
        raise docker.errors.APIError("409 Client Error: is not running")

    def wait(self, timeout=None):
        self.calls.append("wait")
        return {"StatusCode": 0}

    def logs(self, stream=False, follow=False):
        assert (stream, follow) == (True, False)
        self.calls.append("logs")
        yield from self.chunks
        if self.log_error is not None:
            raise self.log_error

    def remove(self, force=False):
        self.calls.append("remove")
        self.removed = True


class OneContainerEngine:
    def __init__(self, container: LeftContainer):
        from types import SimpleNamespace

        self.host = None
        self.container = container
        self.client = SimpleNamespace(containers=SimpleNamespace(list=self._list))

    def _list(self, all, filters):
        found = labelled(self.container, filters) and not self.container.removed
        return [self.container] if found else []


def killed_run(runs: Path, copy: dict) -> Path:
    """Leave what a run killed mid-training leaves: its folder, a free lock."""
    run_dir = runs / RID
    run_dir.mkdir(parents=True)
    record = {"run_id": RID, "status": "running", "project": "proj", **copy}
    (run_dir / "record.json").write_text(dump_json(record))
    (run_dir / LOG_NAME).write_text("sleeper started\n")  # all it streamed
    (runs / f".{RID}.lock").write_text(dump_json(record))
    return run_dir


def output_with_token() -> list[bytes]:
    # The engine cuts its stream anywhere: in a line and in the token.
    text = "sleeper started\n" + "\n".join(EPOCHS) + f"\ntoken is {TOKEN}\ndone"
    data = text.encode()
    cut = data.index(TOKEN.encode()) + 5
    return [data[:40], data[40:cut], data[cut:]]


def sweep(runs: Path, container: LeftContainer) -> list[str]:
    notes: list[str] = []
    sweep_killed_runs(OneContainerEngine(container), runs, "proj", notes.append)
    return notes


def test_the_closing_command_logs_all_the_killed_run_printed_secrets_hidden(
    tmp_path,
):
    runs = tmp_path / "runs"
    env = {"HARD_API_TOKEN": TOKEN, "EPOCHS": "30"}
    copy = {"options": {"env": {"EPOCHS": "30", "HARD_API_TOKEN": "***"}}}
    run_dir = killed_run(runs, copy)
    calls: list[str] = []
    container = LeftContainer({"HOME": "/tmp", **env}, output_with_token(), calls)

    notes = sweep(runs, container)

    log = (run_dir / LOG_NAME).read_text()
    assert log.splitlines() == ["sleeper started", *EPOCHS, "token is ***", "done"]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "interrupted"
    # bt 5: the project's runs are closed by run, build and push (README).
    assert record["error"]["message"].endswith(
        "closed by a later `reprobox run`, `build` or `push`"
    )
    assert record["error"]["log_tail"].splitlines() == [
        *EPOCHS[-18:],
        "token is ***",
        "done",
    ]
    # Stopped before its output is read; removed only once the record is closed.
    assert calls == ["kill", "wait", "logs", "remove"]
    assert notes[0] == f"removed container of interrupted run {RID}"
    assert sorted(p.name for p in run_dir.iterdir()) == [LOG_NAME, "record.json"]
    for path in (*run_dir.iterdir(), runs / f".{RID}.lock"):
        assert not path.exists() or TOKEN not in path.read_text()


def test_a_record_too_damaged_to_name_its_env_hides_every_secret_of_the_container(
    tmp_path,
):
    runs = tmp_path / "runs"
    run_dir = killed_run(runs, {})
    (runs / f".{RID}.lock").write_text("garbage{")  # the copy is lost
    container = LeftContainer({"HARD_API_TOKEN": TOKEN}, output_with_token(), [])

    sweep(runs, container)

    record = json.loads((run_dir / "record.json").read_text())
    assert "token is ***" in record["error"]["log_tail"].splitlines()
    assert "token is ***\ndone" in (run_dir / LOG_NAME).read_text()


@pytest.mark.parametrize("planted", ["link", "folder"])
def test_what_the_script_planted_as_the_log_is_replaced_not_followed(tmp_path, planted):
    runs = tmp_path / "runs"
    run_dir = killed_run(runs, {"options": {"env": {}}})
    host_file = tmp_path / "host-file"
    host_file.write_text("the host's own\n")
    (run_dir / LOG_NAME).unlink()
    if planted == "link":
        (run_dir / LOG_NAME).symlink_to(host_file)
    else:
        (run_dir / LOG_NAME / "deep").mkdir(parents=True)
    container = LeftContainer({}, [b"line one\n", b"line two\n"], [])

    sweep(runs, container)

    assert host_file.read_text() == "the host's own\n"
    assert not (run_dir / LOG_NAME).is_symlink()
    assert (run_dir / LOG_NAME).read_text() == "line one\nline two\n"
    record = json.loads((run_dir / "record.json").read_text())
    assert record["error"]["log_tail"] == "line one\nline two"


def test_output_the_engine_cannot_give_leaves_the_log_as_the_run_wrote_it(
    tmp_path,
):
    runs = tmp_path / "runs"
    run_dir = killed_run(runs, {"options": {"env": {}}})
    container = LeftContainer({}, [b"half of it\n"], [])
    container.log_error = docker.errors.APIError(
        "configured logging driver does not support reading"
    )

    sweep(runs, container)

    assert (run_dir / LOG_NAME).read_text() == "sleeper started\n"
    record = json.loads((run_dir / "record.json").read_text())
    assert record["error"]["log_tail"] == "sleeper started"
    assert sorted(os.listdir(run_dir)) == [LOG_NAME, "record.json"]  # no temp
    assert container.removed


def test_a_closed_run_keeps_the_machine_facts_and_metrics_its_folder_holds(
    tmp_path,
):
    # brk r45 (BK 6): the training had ended, capture.json held its facts,
    # and the closed record said machine null. A metric named with a token
    # is left out, as a finished run leaves it out.
    ghp = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
    runs = tmp_path / "runs"
    run_dir = killed_run(runs, {"options": {"env": {"HARD_API_TOKEN": "***"}}})
    capture = {
        "python": {"version": "3.11.2"},
        "os": {"system": "Linux"},
        "env": {"OMP_NUM_THREADS": "1", "LEAK": TOKEN},
        "packages": {"six": "1.17.0", f"pkg_{ghp}": "1.0"},
    }
    (run_dir / "capture.json").write_text(json.dumps(capture))
    metrics = {"acc": 0.9, f"loss_{ghp}": 1.0}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    container = LeftContainer({"HARD_API_TOKEN": TOKEN}, [b"done\n"], [])

    sweep(runs, container)

    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "interrupted"
    assert record["machine"]["python"] == "3.11.2"
    assert record["machine"]["env"]["LEAK"] == "***"  # a --env secret, hidden
    assert record["metrics"] == {"acc": 0.9}
    assert record["machine"]["packages"] == {"six": "1.17.0"}
    assert ghp not in (run_dir / "record.json").read_text()


def test_names_holding_a_secret_value_are_left_out_not_renamed():
    # brk r46 (BN 1): two metric names holding parts of a secret --env value
    # were kept as "***" and "*** (2)", and compare matched them across runs.
    from reprobox.secret_masking import without_hidden_names

    def hide(text: str) -> str:
        return text.replace("acme_live_Zx8", "***").replace("beta_test_Qw3", "***")

    metrics = {"acme_live_Zx8": 4, "beta_test_Qw3": 7, "acc": 0.9}
    assert without_hidden_names(metrics, hide) == ({"acc": 0.9}, ["***", "***"])
    history = [{"epochs": [{"epoch": 0, "x_acme_live_Zx8": 1.0, "loss": 0.5}]}]
    assert without_hidden_names(history, hide) == (
        [{"epochs": [{"epoch": 0, "loss": 0.5}]}],
        ["[0].epochs[0].x_***"],
    )
