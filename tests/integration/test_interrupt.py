"""Stopping `reprobox run` by signal, and a failing training command, for real.

The sleeper project (tests/integration/projects/sleeper) prints a line and
sleeps SLEEPER_SECONDS (60 by default), so a signal always lands mid-run; it
depends on `six` alone and builds in seconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXIT_INTERRUPTED = 130
EXIT_RUN_FAILED = 1


@pytest.fixture(scope="module")
def sleeper(test_project):
    """Return the sleeper project, frozen and built under a unique name."""
    return test_project("sleeper")


@pytest.fixture(scope="module")
def failing(test_project):
    """Return the failing project (its training exits 3), frozen and built."""
    return test_project("failing")


def project_containers(docker_client, name: str) -> list[dict]:
    """Return (id, state, labels) of every container labelled with the project name."""
    found = docker_client.api.containers(
        all=True, filters={"label": f"org.reprobox.project={name}"}
    )
    return [
        {"id": c["Id"][:12], "state": c["State"], "labels": c["Labels"]} for c in found
    ]


def wait_for_container(
    docker_client,
    name: str,
    proc,
    *,
    states=("running",),
    log_line: str | None = None,
    timeout: float = 120,
) -> dict:
    """Wait until the run's container is in one of states (and logged log_line)."""
    known = {c["id"] for c in project_containers(docker_client, name)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for found in project_containers(docker_client, name):
            if found["id"] in known or found["state"] not in states:
                continue
            if log_line is None:
                return found
            logs = docker_client.api.logs(found["id"]).decode(errors="replace")
            if log_line in logs:
                return found
        if proc.poll() is not None:
            pytest.fail(f"reprobox exited {proc.returncode} before the container ran")
        time.sleep(0.01 if log_line is None else 0.2)
    pytest.fail(f"no {states} container of {name} after {timeout}s")


def run_ids(project: Path) -> set[str]:
    """Return the run ids that have a folder in the project."""
    runs = project / ".reprobox" / "runs"
    return {p.name for p in runs.iterdir()} if runs.is_dir() else set()


def start_run(cli, project, tmp_path: Path, *extra: str):
    """Start `reprobox run` on the project; return (process, stderr file)."""
    stderr = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
    with open(stderr, "w") as err:
        proc = cli.start(
            "run",
            str(project.path),
            *extra,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    return proc, stderr


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP],
    ids=["SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP"],
)
def test_signal_stops_run_and_removes_container(
    cli, sleeper, docker_client, tmp_path, signum
):
    before = run_ids(sleeper.path)
    proc, stderr = start_run(cli, sleeper, tmp_path)
    try:
        container = wait_for_container(
            docker_client, sleeper.name, proc, log_line="sleeper started"
        )
        time.sleep(0.5)  # let reprobox read the line too
        sent = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(
        f"\n[sleeper] {signal.Signals(signum).name}: reprobox exited "
        f"{proc.returncode} {took:.1f}s after the signal"
    )

    assert proc.returncode == EXIT_INTERRUPTED, stderr.read_text()
    assert took < 15
    left = project_containers(docker_client, sleeper.name)
    assert left == [], f"{container['id']} left; {stderr.read_text()[-2000:]}"
    new = run_ids(sleeper.path) - before
    assert len(new) == 1, new
    record_path = sleeper.path / ".reprobox" / "runs" / new.pop() / "record.json"
    record = json.loads(record_path.read_text())
    assert record["status"] == "interrupted"
    assert record["exit_code"] is None
    assert "sleeper started" in record["error"]["log_tail"]
    # brk r37 (AY 14): a SIGTERM was recorded as "interrupted by the user".
    assert record["error"]["message"] == (
        "interrupted by a stop signal (Ctrl-C, SIGTERM, SIGHUP or SIGQUIT)"
    )
    # brk: one line for every stop signal that lands at the same point.
    assert stderr.read_text().splitlines()[-1] == (
        f"reprobox: error: run {record['run_id']} interrupted; container removed; "
        f"record in {record_path}"
    )


@pytest.mark.parametrize("extra", [(), ("--repeat", "2")], ids=["one", "repeat"])
def test_interrupted_json_run_still_prints_the_closed_records(
    cli, sleeper, docker_client, tmp_path, extra
):
    before = run_ids(sleeper.path)
    proc, stderr = start_run(cli, sleeper, tmp_path, "--json", *extra)
    try:
        wait_for_container(
            docker_client, sleeper.name, proc, log_line="sleeper started"
        )
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == EXIT_INTERRUPTED, stderr.read_text()
    assert project_containers(docker_client, sleeper.name) == []
    [run_id] = run_ids(sleeper.path) - before  # the second repeat never started
    on_disk = json.loads(
        (sleeper.path / ".reprobox" / "runs" / run_id / "record.json").read_text()
    )
    printed = json.loads(out)
    if extra:
        assert printed["schema_version"] == 1
        assert printed["records"] == [on_disk]
        assert printed["errors"] == ["runs interrupted; every container was removed"]
    else:
        assert printed == on_disk
    assert on_disk["status"] == "interrupted"


def test_orphan_of_killed_run_is_removed_by_next_run(
    cli, sleeper, docker_client, tmp_path
):
    began = time.monotonic()
    proc, _ = start_run(cli, sleeper, tmp_path)
    try:
        orphan = wait_for_container(
            docker_client, sleeper.name, proc, log_line="sleeper started"
        )
        proc.kill()
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    orphan_run_id = orphan["labels"]["org.reprobox.run-id"]
    time.sleep(2)
    still = project_containers(docker_client, sleeper.name)
    assert [(c["id"], c["state"]) for c in still] == [(orphan["id"], "running")], (
        "the container should outlive a SIGKILLed run"
    )

    after = cli.run("run", str(sleeper.path), "--env", "SLEEPER_SECONDS=0", timeout=300)
    elapsed = time.monotonic() - began
    assert f"removed container of interrupted run {orphan_run_id}" in after.stderr, (
        after.describe()
    )
    assert (
        f"marked run {orphan_run_id} interrupted: the reprobox that ran it ended "
        "without closing its record (killed, or its disk was full)"
    ) in after.stderr, after.describe()
    assert project_containers(docker_client, sleeper.name) == []
    runs = sleeper.path / ".reprobox" / "runs"
    record = json.loads((runs / orphan_run_id / "record.json").read_text())
    assert record["status"] == "interrupted"
    assert record["finished_at"] is not None
    # The container's wall time: it ran through the 2 s above until the next
    # run stopped it, all within this test.
    assert 2 < record["duration_s"] < elapsed, record["duration_s"]
    assert "ended without closing" in record["error"]["message"]
    assert "sleeper started" in record["error"]["log_tail"]
    assert sorted(p.name for p in runs.glob(".*.lock")) == []


def test_failing_training_command_fails_the_run(cli, failing, docker_client):
    before = run_ids(failing.path)
    result = cli.run("run", str(failing.path), "--json", check=False, timeout=300)
    assert result.returncode == EXIT_RUN_FAILED, result.describe()
    record = json.loads(result.stdout)
    assert record["status"] == "failed"
    assert record["exit_code"] == 3
    tail = record["error"]["log_tail"].splitlines()
    assert tail[-1] == "failing: loss became NaN, giving up"
    assert "failing step 3" in tail
    assert "failing: loss became NaN, giving up" in result.stderr
    assert run_ids(failing.path) - before == {record["run_id"]}
    on_disk = failing.path / ".reprobox" / "runs" / record["run_id"] / "record.json"
    assert json.loads(on_disk.read_text()) == record
    assert project_containers(docker_client, failing.name) == []


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT],
    ids=["SIGINT", "SIGTERM", "SIGQUIT"],
)
def test_signal_while_container_starts_leaves_no_container(
    cli, sleeper, docker_client, tmp_path, signum
):
    for attempt in range(5):
        proc, stderr = start_run(cli, sleeper, tmp_path)
        try:
            wait_for_container(
                docker_client, sleeper.name, proc, states=("created", "running")
            )
            proc.send_signal(signum)
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == EXIT_INTERRUPTED, stderr.read_text()
        left = project_containers(docker_client, sleeper.name)
        for container in left:
            docker_client.api.remove_container(container["id"], force=True)
        shown = [(c["id"], c["state"]) for c in left]
        assert left == [], (
            f"attempt {attempt}: {shown} left after "
            f"{stderr.read_text().strip().splitlines()[-1]!r}"
        )


@pytest.mark.second_engine
def test_orphan_on_another_engine_is_removed_by_the_next_local_run(
    cli, sleeper, tmp_path
):
    """A run killed on --host left its container there; the next run, on any
    engine, closes the record and removes that container too."""
    import docker

    engine2 = "unix:///run/reprobox-engine2/docker.sock"
    client2 = docker.DockerClient(base_url=engine2)
    try:
        proc, _ = start_run(cli, sleeper, tmp_path, "--host", engine2)
        try:
            orphan = wait_for_container(
                client2, sleeper.name, proc, log_line="sleeper started", timeout=240
            )
            proc.kill()
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        run_id = orphan["labels"]["org.reprobox.run-id"]
        assert [c["id"] for c in project_containers(client2, sleeper.name)] == [
            orphan["id"]
        ]

        after = cli.run("build", str(sleeper.path), timeout=300)
        assert (
            f"{engine2}: removed container of interrupted run {run_id}" in after.stderr
        ), after.describe()
        assert project_containers(client2, sleeper.name) == []
        record = json.loads(
            (sleeper.path / ".reprobox" / "runs" / run_id / "record.json").read_text()
        )
        assert record["status"] == "interrupted"
        assert record["engine"]["host"] == engine2
    finally:
        for container in project_containers(client2, sleeper.name):
            client2.api.remove_container(container["id"], force=True)
        client2.close()


def test_a_console_reader_that_goes_away_does_not_stop_training(cli, sleeper):
    # `reprobox run 2>&1 | head -1`: the pipe closes while the container logs.
    proc = cli.start(
        "run",
        str(sleeper.path),
        "--env",
        "SLEEPER_SECONDS=3",
        "--json",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stderr.close()  # every later write to stderr gets EPIPE
    out, _ = proc.communicate(timeout=300)

    record = json.loads(out)
    assert proc.returncode == 0, record.get("error")
    assert record["status"] == "succeeded"
    log = sleeper.path / ".reprobox" / "runs" / record["run_id"] / "container.log"
    assert "sleeper done" in log.read_text()


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT],
    ids=["INT", "TERM", "QUIT"],
)
def test_signal_early_in_a_seed_sweep_stops_its_training(
    cli, sleeper, docker_client, tmp_path, signum
):
    # The worker thread may not have its container yet when the signal lands:
    # the cancellation must still reach the container once it exists.
    proc, stderr = start_run(cli, sleeper, tmp_path, "--seeds", "0-1")
    try:
        wait_for_container(
            docker_client, sleeper.name, proc, states=("created", "running")
        )
        sent = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == EXIT_INTERRUPTED, stderr.read_text()
    assert took < 20, f"training went on for {took:.0f}s after the signal"
    assert project_containers(docker_client, sleeper.name) == []
