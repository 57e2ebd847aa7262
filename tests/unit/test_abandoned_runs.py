"""Records left "running" by a killed reprobox are closed by the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from label_filters import labelled

from reprobox.abandoned_runs import close_abandoned_records
from reprobox.atomic import dump_json
from reprobox.run_folders import LOG_NAME, hold_run_lock, release_run_lock
from reprobox.run_owner import give_back

HOLDER = """
import sys, time
from pathlib import Path
from reprobox.run_folders import hold_run_lock, keep_host_copy
hold_run_lock(Path(sys.argv[1]), sys.argv[2])
keep_host_copy(Path(sys.argv[1]), sys.argv[2],
               {"run_id": sys.argv[2], "status": "running", "finished_at": None})
print("held", flush=True)
time.sleep(600)
"""


def _running_record(runs: Path, run_id: str) -> Path:
    (runs / run_id).mkdir(parents=True)
    path = runs / run_id / "record.json"
    path.write_text(
        dump_json({"run_id": run_id, "status": "running", "finished_at": None})
    )
    (runs / run_id / LOG_NAME).write_text("epoch 1\nepoch 2\n")
    return path


def _start_holder(runs: Path, run_id: str) -> subprocess.Popen:
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's reprobox
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(runs), run_id],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_record_of_killed_owner_is_closed(tmp_path):
    runs = tmp_path / "runs"
    record_path = _running_record(runs, "20260101T000001Z-000001")
    holder = _start_holder(runs, "20260101T000001Z-000001")
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    assert close_abandoned_records(runs) == ["20260101T000001Z-000001"]
    record = json.loads(record_path.read_text())
    assert record["status"] == "interrupted"
    assert record["finished_at"] is not None
    assert record["error"]["message"].startswith("the reprobox process running it")
    assert record["error"]["log_tail"] == "epoch 1\nepoch 2"
    assert not (runs / ".20260101T000001Z-000001.lock").exists()
    assert close_abandoned_records(runs) == []  # once only


def test_record_of_live_owner_is_left_running(tmp_path):
    runs = tmp_path / "runs"
    record_path = _running_record(runs, "20260101T000002Z-000002")
    holder = _start_holder(runs, "20260101T000002Z-000002")
    try:
        assert close_abandoned_records(runs) == []
        assert json.loads(record_path.read_text())["status"] == "running"
        assert (runs / ".20260101T000002Z-000002.lock").exists()
    finally:
        holder.kill()
        holder.wait()


def test_running_record_without_lock_is_closed_as_interrupted(tmp_path):
    # A run takes its lock before its first record and drops it only after its
    # last: with no lock (removed by hand, or copied here) its reprobox is gone.
    runs = tmp_path / "runs"
    record_path = _running_record(runs, "20260101T000003Z-000003")
    assert close_abandoned_records(runs) == ["20260101T000003Z-000003"]
    record = json.loads(record_path.read_text())
    assert record["status"] == "interrupted"
    assert "its lock file is gone" in record["error"]["message"]
    assert record["error"]["log_tail"] == "epoch 1\nepoch 2"
    assert close_abandoned_records(runs) == []  # once only


def test_lockless_record_of_another_project_or_run_is_left_running(tmp_path):
    runs = tmp_path / "runs"
    mine = _running_record(runs, "20260101T000003Z-000004")  # names no project
    moved = runs / "20260101T000003Z-000005"
    moved.mkdir()
    (moved / "record.json").write_text(
        dump_json({"run_id": "20260101T000003Z-000004", "status": "running"})
    )
    assert close_abandoned_records(runs, "proj") == []
    assert json.loads(mine.read_text())["status"] == "running"
    assert close_abandoned_records(runs) == ["20260101T000003Z-000004"]
    assert json.loads((moved / "record.json").read_text())["status"] == "running"


def test_finished_record_keeps_its_status(tmp_path):
    runs = tmp_path / "runs"
    (runs / "20260101T000004Z-000004").mkdir(parents=True)
    (runs / "20260101T000004Z-000004" / "record.json").write_text(
        dump_json({"run_id": "20260101T000004Z-000004", "status": "succeeded"})
    )
    fd = hold_run_lock(runs, "20260101T000004Z-000004")
    os.close(fd)  # the owner died after writing its final record
    assert close_abandoned_records(runs) == []
    assert json.loads((runs / "20260101T000004Z-000004" / "record.json").read_text())[
        "status"
    ] == ("succeeded")
    assert not (runs / ".20260101T000004Z-000004.lock").exists()


def test_release_removes_the_lock_file(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    fd = hold_run_lock(runs, "20260101T000005Z-000005")
    assert (runs / ".20260101T000005Z-000005.lock").exists()
    release_run_lock(runs, "20260101T000005Z-000005", fd)
    assert not (runs / ".20260101T000005Z-000005.lock").exists()


def test_missing_runs_folder(tmp_path):
    assert close_abandoned_records(tmp_path / "nope") == []


def test_killed_owner_closed_within_a_second(tmp_path):
    """The kernel drops the flock as the process dies: no pid guessing."""
    runs = tmp_path / "runs"
    _running_record(runs, "20260101T000006Z-000006")
    holder = _start_holder(runs, "20260101T000006Z-000006")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and not close_abandoned_records(runs):
        time.sleep(0.05)
    assert json.loads((runs / "20260101T000006Z-000006" / "record.json").read_text())[
        "status"
    ] == ("interrupted")


@pytest.mark.skipif(os.geteuid() != 0, reason="lending a folder to uid 1000 needs root")
def test_run_folder_is_given_back_without_following_links(tmp_path):

    runs = tmp_path / "runs"
    run_dir = runs / "20260101T000007Z-000007"
    (run_dir / "sub").mkdir(parents=True)
    secret = tmp_path / "outside-secret"
    secret.write_text("keep me private")
    secret.chmod(0o600)
    capture = run_dir / "capture.json"
    capture.write_text("{}")
    capture.chmod(0o600)
    (run_dir / "sub" / "x.txt").write_text("x")
    (run_dir / "link").symlink_to(secret)
    (run_dir / "linkdir").symlink_to(tmp_path)
    os.mkfifo(run_dir / "fifo")
    for path in (run_dir, run_dir / "sub", capture, run_dir / "sub" / "x.txt"):
        os.chown(path, 1000, 1000)
    os.lchown(run_dir / "link", 1000, 1000)

    give_back(run_dir)

    owner = runs.stat()
    for path in (run_dir, run_dir / "sub", capture, run_dir / "sub" / "x.txt"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (owner.st_uid, owner.st_gid), path
    assert capture.stat().st_mode & 0o777 == 0o644
    assert (run_dir / "sub").stat().st_mode & 0o777 == 0o755
    assert secret.stat().st_mode & 0o777 == 0o600  # the link was not followed
    assert (run_dir / "link").lstat().st_uid == owner.st_uid  # the link itself
    assert (run_dir / "fifo").lstat().st_uid == owner.st_uid


def test_a_record_forged_inside_the_container_is_closed_from_the_host_copy(tmp_path):
    """After a SIGKILL, record.json is whatever the script left: not trusted."""
    runs = tmp_path / "runs"
    record_path = _running_record(runs, "20260101T000008Z-000008")
    holder = _start_holder(runs, "20260101T000008Z-000008")
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text("HOST-SECRET-CONTENT")
    # What a hostile training script can do to its own run folder:
    record_path.write_text(
        dump_json(
            {
                "run_id": "../../escape",
                "status": "succeeded",
                "metrics": {"acc": 0.999},
                "project": "other",
            }
        )
    )
    (runs / "20260101T000008Z-000008" / LOG_NAME).unlink()
    (runs / "20260101T000008Z-000008" / LOG_NAME).symlink_to(host_file)
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    assert close_abandoned_records(runs) == ["20260101T000008Z-000008"]
    record = json.loads(record_path.read_text())
    assert (
        record["run_id"] == "20260101T000008Z-000008"
        and record["status"] == "interrupted"
    )
    assert "metrics" not in record and "project" not in record
    assert record["error"]["log_tail"] == ""  # the planted link was not followed
    assert "HOST-SECRET" not in record_path.read_text()


def test_an_engine_that_is_not_docker_is_one_engine_error():
    """A server answering every request with a version object: no traceback."""
    from types import SimpleNamespace

    from reprobox.engine import Engine, remove_orphans
    from reprobox.errors import EngineError

    class NotDocker:
        @property
        def labels(self):
            raise TypeError("string indices must be integers")

    client = SimpleNamespace(
        containers=SimpleNamespace(list=lambda **kwargs: [NotDocker()])
    )
    engine = Engine(client=client, host="tcp://127.0.0.1:47124")
    with pytest.raises(EngineError, match="not Docker's API") as info:
        remove_orphans(engine, "proj")
    assert info.value.exit_code == 3


RID = "20260101T000009Z-000009"


def test_a_damaged_host_copy_still_closes_the_run(tmp_path):
    runs = tmp_path / "runs"
    record_path = _running_record(runs, RID)
    holder = _start_holder(runs, RID)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    (runs / f".{RID}.lock").write_text("garbage{")
    record_path.write_text(dump_json({"run_id": RID, "status": "succeeded"}))
    assert close_abandoned_records(runs, "proj") == [RID]
    record = json.loads(record_path.read_text())
    assert (record["status"], record["project"]) == ("interrupted", "proj")
    assert "damaged" in record["warnings"][0]


def test_lock_files_that_are_not_run_ids_are_ignored(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("....lock", "...lock", ".x.lock"):
        (runs / name).write_text(dump_json({"run_id": "..", "status": "running"}))
    assert close_abandoned_records(runs, "proj") == []
    assert sorted(p.name for p in tmp_path.rglob("record.json")) == []


def test_another_projects_copy_is_not_closed_here(tmp_path):
    runs = tmp_path / "runs"
    record_path = _running_record(runs, RID)
    holder = _start_holder(runs, RID)  # its copy names no project
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert close_abandoned_records(runs, "mine") == []
    assert json.loads(record_path.read_text())["status"] == "running"


@pytest.mark.skipif(os.geteuid() != 0, reason="lending a folder to uid 1000 needs root")
def test_a_tree_deeper_than_path_max_is_given_back_without_recursion(tmp_path):
    from reprobox.run_owner import GIVE_BACK_DEPTH

    runs = tmp_path / "runs"
    run_dir = runs / RID
    run_dir.mkdir(parents=True)
    fd = os.open(run_dir, os.O_RDONLY)
    # 400 levels of 40-character names: paths far past PATH_MAX, and deeper
    # than the walk goes (not deeper still: pytest's own clean-up of old tmp
    # folders uses shutil.rmtree, which recurses).
    try:
        for _ in range(400):
            os.mkdir("d" * 40, dir_fd=fd)
            os.chown("d" * 40, 1000, 1000, dir_fd=fd)
            child = os.open("d" * 40, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    os.chown(run_dir, 1000, 1000)
    warnings = give_back(run_dir)
    assert warnings == [
        f"folders deeper than {GIVE_BACK_DEPTH} levels in the run folder stay "
        "owned by the container's uid 1000"
    ]
    assert run_dir.stat().st_uid == runs.stat().st_uid
    assert (run_dir / ("d" * 40)).stat().st_uid == runs.stat().st_uid


@pytest.mark.skipif(os.geteuid() != 0, reason="lending a folder to uid 1000 needs root")
def test_what_the_container_made_world_writable_is_not_once_given_back(tmp_path):

    run_dir = tmp_path / "runs" / "20260101T000008Z-000008"
    (run_dir / "open").mkdir(parents=True)
    made = run_dir / "open" / "weights.bin"
    made.write_text("w")
    for path, mode in ((run_dir / "open", 0o777), (made, 0o4777)):
        os.chown(path, 1000, 1000)
        path.chmod(mode)

    give_back(run_dir)

    assert (run_dir / "open").stat().st_mode & 0o7777 == 0o755
    assert made.stat().st_mode & 0o7777 == 0o755  # kept runnable, nothing more


def _keep_copy(runs: Path, run_id: str, fields: dict) -> None:
    """Write the lock file's copy of a running record, as a run keeps it."""
    record = {"run_id": run_id, "status": "running", "project": "proj", **fields}
    (runs / f".{run_id}.lock").write_text(dump_json(record))


class FakeContainer:
    def __init__(self, run_id: str, owner: str):
        from reprobox.engine import LABEL_PREFIX, OWNER_LABEL, RUN_LABEL

        self.id = run_id.replace("T", "0").replace("Z-", "00") * 2
        self.labels = {
            RUN_LABEL: run_id,
            OWNER_LABEL: owner,
            f"{LABEL_PREFIX}.project": "proj",
        }
        self.removed = False
        self.attrs = {"Config": {"Env": ["HOME=/tmp"]}}

    def reload(self):
        pass

    def kill(self):
        pass

    def wait(self, timeout=None):
        return {"StatusCode": 0}

    def logs(self, stream=False, follow=False):
        return iter([b"epoch 1\n", b"epoch 2\n"])

    def remove(self, force=False):
        self.removed = True


class FakeEngine:
    """An engine holding containers, listed by label as Docker filters them."""

    def __init__(self, containers, host=None):
        from types import SimpleNamespace

        self.host = host
        self.all = containers
        self.client = SimpleNamespace(containers=SimpleNamespace(list=self._list))

    def _list(self, all, filters):
        return [c for c in self.all if labelled(c, filters) and not c.removed]


def test_sweep_removes_a_closed_runs_container_whatever_its_owner_label(tmp_path):
    from reprobox.engine import owner_label
    from reprobox.recovery import sweep_killed_runs

    runs = tmp_path / "runs"
    killed, starting = RID, "20260101T000010Z-000010"
    record_path = _running_record(runs, killed)
    _running_record(runs, starting)
    holder = _start_holder(runs, killed)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    _keep_copy(runs, killed, {"project": "proj"})
    other = _start_holder(runs, starting)  # a run still starting elsewhere
    dead_owner = f"{os.uname().nodename}:1:0"
    # The owner label of the killed run looks alive (a zombie, a reused pid);
    # that of the starting one looks dead: the locks decide, not the labels.
    closed_one = FakeContainer(killed, owner_label())
    live_one = FakeContainer(starting, dead_owner)
    notes: list[str] = []
    try:
        sweep_killed_runs(
            FakeEngine([closed_one, live_one]), runs, "proj", notes.append
        )
    finally:
        other.kill()
        other.wait()
    assert (closed_one.removed, live_one.removed) == (True, False)
    assert notes == [
        f"removed container of interrupted run {killed}",
        f"marked run {killed} interrupted: the reprobox that ran it ended "
        "without closing its record (killed, or its disk was full)",
    ]
    assert json.loads(record_path.read_text())["status"] == "interrupted"


def test_sweep_removes_the_container_on_the_engine_the_record_names(
    tmp_path, monkeypatch
):
    from reprobox import recovery

    runs = tmp_path / "runs"
    _running_record(runs, RID)
    holder = _start_holder(runs, RID)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    _keep_copy(runs, RID, {"engine": {"host": "UNIX:///run/other//docker.sock"}})
    there = FakeContainer(RID, "elsewhere:1:1")
    engines = {}

    def connect(host=None, context=None):
        engines[host] = FakeEngine([there], host=host)
        return engines[host]

    monkeypatch.setattr(recovery, "connect", connect)
    here = FakeEngine([])
    notes: list[str] = []
    recovery.sweep_killed_runs(here, runs, None, notes.append)
    assert list(engines) == ["UNIX:///run/other//docker.sock"]
    assert there.removed
    assert notes[0] == (
        f"UNIX:///run/other//docker.sock: removed container of interrupted run {RID}"
    )
    # bt 5: a verify runs folder is closed by verify, not by run, build or push.
    record = json.loads((runs / RID / "record.json").read_text())
    assert record["error"]["message"].endswith("closed by a later `reprobox verify`")


@pytest.mark.parametrize("owner_gone", [True, False])
def test_a_lockless_run_keeps_its_containers_output_when_its_owner_is_gone(
    tmp_path, owner_gone
):
    # brk r44 (BI 1): a run whose odd lock was moved away was closed with the
    # dead reprobox's log, and the owner-label sweep then removed its
    # container: all it printed after, and its exit code, were lost.
    from reprobox.recovery import sweep_killed_runs

    runs = tmp_path / "runs"
    record_path = _running_record(runs, RID)
    record_path.write_text(
        dump_json({"run_id": RID, "status": "running", "project": "proj"})
    )
    (runs / RID / "container.log").write_text("epoch 1\n")
    owner = f"{os.uname().nodename}:1:0" if owner_gone else "elsewhere:1:1"
    container = FakeContainer(RID, owner)
    notes: list[str] = []
    sweep_killed_runs(FakeEngine([container]), runs, "proj", notes.append)

    record = json.loads(record_path.read_text())
    assert record["status"] == "interrupted"
    assert "its lock file is gone" in record["error"]["message"]
    log = (runs / RID / "container.log").read_text()
    if owner_gone:
        assert (log, record["error"]["log_tail"]) == (
            "epoch 1\nepoch 2\n",
            "epoch 1\nepoch 2",
        )
        assert container.removed
        assert notes[-1] == f"removed container of interrupted run {RID}"
    else:  # another machine's run: neither stopped nor read nor removed
        assert (log, record["error"]["log_tail"]) == ("epoch 1\n", "epoch 1")
        assert not container.removed
