"""Faults against the real engine: kills mid-write, concurrent runs, signals
during a build, and the OOM killer.

Orphans of a SIGKILLed run and a failing training command are covered by
test_interrupt.py and not repeated here.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import labelled_containers

from reprobox.seals import seal_record

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
REPO = Path(__file__).resolve().parents[2]
EXIT_INTERRUPTED = 130
KILL_TRIES = 12
OOM_SCRIPT = """print("allocating 400 MB", flush=True)
blocks = []
for step in range(40):
    blocks.append(bytearray(10 * 1024 * 1024))
    print(f"holding {(step + 1) * 10} MB", flush=True)
print("survived", flush=True)
"""


def reprobox(cli, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the reprobox CLI in the clean env and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "reprobox", *args],
        env=cli.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def start(cli, *args: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    """Start the reprobox CLI in the clean env."""
    return subprocess.Popen(
        [sys.executable, "-m", "reprobox", *args],
        env=cli.env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def shown(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def new_project(
    cli,
    engine_cleanup,
    tmp_path: Path,
    base: str = "hard-tiny",
    files: dict[str, str] | None = None,
) -> tuple[Path, str]:
    """Copy a test project under a unique name, overwrite files, freeze it."""
    path, name = cli.copy_project(TEST_PROJECTS / base, tmp_path, base)
    engine_cleanup.add(name)
    for rel, text in (files or {}).items():
        (path / rel).write_text(text)
    froze = reprobox(cli, "-q", "freeze", str(path))
    assert froze.returncode == 0, shown(froze)
    return path, name


def containers(docker_client, name: str) -> list:
    return labelled_containers(docker_client, name)


def remove_containers(docker_client, name: str) -> None:
    for container in containers(docker_client, name):
        container.remove(force=True)


def whole_json_files(state: Path, names: tuple[str, ...]) -> list[Path]:
    """Check that every file called one of names under state parses; return them."""
    found = [p for name in names for p in state.rglob(name)]
    for path in found:
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            pytest.fail(f"{path} is half-written: {exc}: {path.read_text()[:300]!r}")
    return found


def temp_leftovers(state: Path) -> list[Path]:
    """Return temp files of interrupted atomic writes; they must stay hidden."""
    left = [p for p in state.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    for path in left:
        assert path.name.startswith("."), f"visible temp file {path}"
    return left


def kill_at_random(cli, args: tuple[str, ...], lifetime: float, rng) -> float:
    """Start reprobox with args, SIGKILL it at a random moment; return the moment."""
    moment = rng.uniform(0.05, lifetime)
    proc = start(cli, *args, stderr=subprocess.DEVNULL)
    time.sleep(moment)
    proc.kill()
    proc.communicate(timeout=30)
    return moment


def timed(cli, *args: str) -> float:
    started = time.monotonic()
    done = reprobox(cli, *args)
    assert done.returncode == 0, shown(done)
    return time.monotonic() - started


def test_sigkill_never_leaves_half_written_json(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(cli, engine_cleanup, tmp_path)
    state = project / ".reprobox"
    rng = random.Random()
    freeze_time = timed(cli, "-q", "freeze", str(project))
    run_time = timed(cli, "-q", "run", str(project))
    leftovers = 0
    try:
        for attempt in range(KILL_TRIES):
            # Each freeze locks another requirement set, so manifest, lock and
            # Dockerfile really change while the kill lands.
            pins = "six==1.17.0\n" if attempt % 2 else "six==1.16.0\n"
            (project / "requirements.txt").write_text(pins)
            at = kill_at_random(cli, ("-q", "freeze", str(project)), freeze_time, rng)
            manifests = whole_json_files(state, ("manifest.json",))
            assert manifests in ([], [state / "manifest.json"]), (at, manifests)
            leftovers += len(temp_leftovers(state))

        (project / "requirements.txt").write_text("six==1.17.0\n")
        assert reprobox(cli, "-q", "freeze", str(project)).returncode == 0
        for _ in range(KILL_TRIES):
            at = kill_at_random(cli, ("-q", "run", str(project)), run_time, rng)
            records = whole_json_files(state, ("record.json",))
            for path in records:
                record = json.loads(path.read_text())
                assert record["status"] in (
                    "running",
                    "succeeded",
                    "failed",
                    "interrupted",
                ), (at, path)
                if record["status"] == "interrupted":  # closed by a later run
                    assert "ended without closing" in record["error"]["message"], (
                        at,
                        path,
                    )
            leftovers += len(temp_leftovers(state))
    finally:
        remove_containers(docker_client, name)
    print(
        f"\n[kill] {KILL_TRIES} freezes (~{freeze_time:.1f}s) and runs "
        f"(~{run_time:.1f}s) killed at random; {leftovers} hidden temp files left"
    )
    final = reprobox(cli, "-q", "run", str(project), "--json")
    assert final.returncode == 0, shown(final)
    assert json.loads(final.stdout)["status"] == "succeeded"
    assert containers(docker_client, name) == []
    # The last run closed every record a killed reprobox had left "running".
    statuses = sorted(
        json.loads(p.read_text())["status"] for p in state.glob("runs/*/record.json")
    )
    assert "running" not in statuses, statuses
    assert list(state.glob("runs/.*.lock")) == []


def test_two_runs_at_once_keep_both_records(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(cli, engine_cleanup, tmp_path)
    assert reprobox(cli, "-q", "build", str(project)).returncode == 0
    procs = [start(cli, "-q", "run", str(project), "--json") for _ in range(2)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    records = [json.loads(out) for out, _ in outputs]
    ids = {record["run_id"] for record in records}
    assert len(ids) == 2, ids
    on_disk = {
        p.parent.name: json.loads(p.read_text())
        for p in (project / ".reprobox/runs").glob("*/record.json")
    }
    assert set(on_disk) == ids
    for record in records:
        assert on_disk[record["run_id"]] == record
        assert record["status"] == "succeeded" and record["metrics"] == {"rows": 3.0}
        log = project / ".reprobox/runs" / record["run_id"] / "container.log"
        assert log.read_text().splitlines() == ["hard-tiny read 3 rows"]
    assert containers(docker_client, name) == []


def docker_build_processes(name: str) -> list[str]:
    """Return the command lines of docker build processes for the project."""
    found = subprocess.run(
        ["pgrep", "-af", f"build.*reprobox/{name}:"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


@pytest.mark.parametrize(
    "signum,command",
    [(signal.SIGINT, "build"), (signal.SIGTERM, "run")],
    ids=["SIGINT-build", "SIGTERM-run"],
)
def test_signal_during_build_stops_it(
    cli, engine_cleanup, docker_client, tmp_path, signum, command
):
    # numpy and pandas take seconds to install. A base image of this test's own
    # (the local base plus a layer of its own: BuildKit keys a local base by
    # its layers, not its labels) leaves no finished layer to reuse, even if a
    # run of this test was once not stopped and built to the end.
    base = f"reprobox-test-base:{random.getrandbits(48):012x}"
    docker_client.images.build(
        fileobj=io.BytesIO(
            b"FROM reprobox-base:bookworm-py3.11\n"
            + f"RUN echo {base} > /etc/reprobox-test-base\n".encode()
        ),
        tag=base,
        rm=True,
    )
    try:
        _signal_during_build(
            cli, engine_cleanup, docker_client, tmp_path, signum, command, base
        )
    finally:
        docker_client.images.remove(base, force=True)


def _signal_during_build(
    cli, engine_cleanup, docker_client, tmp_path, signum, command, base
):
    project, name = new_project(
        cli,
        engine_cleanup,
        tmp_path,
        files={"requirements.txt": "numpy==1.26.4\npandas==2.1.4\nsix==1.17.0\n"},
    )
    toml = project / "reprobox.toml"
    toml.write_text(
        toml.read_text().replace('"reprobox-base:bookworm-py3.11"', f'"{base}"')
    )
    froze = reprobox(cli, "-q", "freeze", str(project))
    assert froze.returncode == 0, shown(froze)
    proc = start(cli, command, str(project))
    seen: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line.rstrip("\n"))
        if "pip install" in line and line.startswith("#"):
            break
        assert time.monotonic() < deadline, "\n".join(seen[-20:])
    time.sleep(1.0)
    assert proc.poll() is None, "the build ended before the signal: " + seen[-1]
    assert docker_build_processes(name), "no docker build process to interrupt"
    sent = time.monotonic()
    proc.send_signal(signum)
    rest = proc.communicate(timeout=60)[1]
    took = time.monotonic() - sent
    print(
        f"\n[{signal.Signals(signum).name} {command}] exit {proc.returncode} "
        f"{took:.1f}s after the signal, sent {len(seen)} build lines in"
    )

    assert proc.returncode == EXIT_INTERRUPTED, rest[-2000:]
    assert "Traceback" not in rest, rest[-3000:]
    assert rest.strip().splitlines()[-1].startswith("reprobox: "), rest[-500:]
    time.sleep(1)
    assert docker_build_processes(name) == []
    assert containers(docker_client, name) == []
    assert docker_client.images.list(name=f"reprobox/{name}") == []
    assert not (project / ".reprobox/runs").exists() or not any(
        (project / ".reprobox/runs").iterdir()
    )


def test_out_of_memory_fails_the_run_and_says_so(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(
        cli, engine_cleanup, tmp_path, files={"train.py": OOM_SCRIPT}
    )
    done = reprobox(cli, "run", str(project), "--memory", "64m", "--json")
    assert done.returncode == 1, shown(done)
    record = json.loads(done.stdout)
    assert record["status"] == "failed"
    assert record["exit_code"] == 137
    assert "out of memory" in record["error"]["message"]
    tail = record["error"]["log_tail"].splitlines()
    assert tail[0] == "allocating 400 MB" and tail[-1].startswith("holding ")
    assert "survived" not in record["error"]["log_tail"]
    assert record["options"]["memory"] == "64m"
    error_lines = [ln for ln in done.stderr.splitlines() if ln.startswith("reprobox: ")]
    assert error_lines[-1].startswith("reprobox: error: run ")
    assert "out of memory" in error_lines[-1]
    assert "Traceback" not in done.stderr
    # The killed script ran no exit hook: no guess that it chose os._exit.
    assert not [w for w in record["warnings"] if "os._exit" in w], record["warnings"]
    assert "os._exit" not in done.stderr, shown(done)
    path = project / ".reprobox/runs" / record["run_id"] / "record.json"
    assert json.loads(path.read_text()) == record
    assert containers(docker_client, name) == []
    shutil.rmtree(project / ".reprobox/runs")


WRITES_INTO_APP = """\
import os, sys
print("x" * 200_000, flush=True)  # one long line: the record keeps it cut short
os.makedirs("outputs", exist_ok=True)
"""


def test_a_script_writing_into_app_is_told_where_outputs_go(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(
        cli, engine_cleanup, tmp_path, files={"train.py": WRITES_INTO_APP}
    )
    done = reprobox(cli, "run", str(project), "--json")
    assert done.returncode == 1, shown(done)
    record = json.loads(done.stdout)
    assert record["exit_code"] == 1
    assert "PermissionError" in record["error"]["log_tail"]
    assert record["error"]["message"].startswith("training command exited with 1 (")
    assert "write outputs under $REPROBOX_OUT" in record["error"]["message"]
    long_line = next(
        ln for ln in record["error"]["log_tail"].splitlines() if ln.startswith("xxx")
    )
    assert len(long_line) == 1000 and long_line.endswith("…")
    assert containers(docker_client, name) == []
    shutil.rmtree(project / ".reprobox/runs")


def running_container(docker_client, name: str, proc, timeout: float = 180):
    """Wait for the project's container to run and log; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for container in containers(docker_client, name):
            if container.status == "running" and b"sleeper started" in container.logs():
                return container
        assert proc.poll() is None, f"reprobox exited {proc.returncode} first"
        time.sleep(0.05)
    pytest.fail(f"no running container of {name} after {timeout}s")


def kill_unreaped(proc: subprocess.Popen) -> None:
    """SIGKILL proc and wait until it is a zombie, not yet reaped by its parent.

    Until the parent waits, the process keeps its /proc entry (pid and start
    time), as under a parent slow to reap; only its run lock is surely freed.
    """
    proc.kill()
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{proc.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed reprobox did not die"
        time.sleep(0.01)


def closed_as_killed(runs: Path, run_id: str) -> dict:
    """Return the record of a killed run, checking that it was closed."""
    record = json.loads((runs / run_id / "record.json").read_text())
    assert record["status"] == "interrupted", record
    assert "ended without closing" in record["error"]["message"]
    assert "sleeper started" in record["error"]["log_tail"]
    assert not (runs / f".{run_id}.lock").exists()
    return record


def test_a_run_killed_seconds_after_its_container_started_is_cleaned_up_at_once(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(cli, engine_cleanup, tmp_path, base="sleeper")
    built = reprobox(cli, "-q", "build", str(project))
    assert built.returncode == 0, shown(built)
    proc = start(cli, "-q", "run", str(project), stderr=subprocess.DEVNULL)
    try:
        container = running_container(docker_client, name, proc)
        time.sleep(2)
        kill_unreaped(proc)
        after = reprobox(cli, "build", str(project))
    finally:
        proc.kill()
        proc.wait()
        leftover = containers(docker_client, name)
        remove_containers(docker_client, name)
    run_id = container.labels["org.reprobox.run-id"]
    assert after.returncode == 0, shown(after)
    assert f"removed container of interrupted run {run_id}" in after.stderr, shown(
        after
    )
    assert leftover == [], [c.status for c in leftover]
    closed_as_killed(project / ".reprobox/runs", run_id)


def test_verify_closes_and_removes_a_killed_verify_in_its_runs_dir(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(cli, engine_cleanup, tmp_path, base="sleeper")
    ref = reprobox(
        cli, "-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", "--json"
    )
    assert ref.returncode == 0, shown(ref)
    quick = json.loads(ref.stdout)
    # The same run, as if it had slept its default 60 s: verify reruns by it.
    slow = seal_record({**quick, "options": {**quick["options"], "env": {}}})
    (tmp_path / "quick.json").write_text(json.dumps(quick))
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    image = quick["image"]["ref"]
    runs = tmp_path / "verify-runs"
    proc = start(
        cli,
        "-q",
        "verify",
        image,
        "--reference",
        str(tmp_path / "slow.json"),
        "--runs-dir",
        str(runs),
        stderr=subprocess.DEVNULL,
    )
    try:
        container = running_container(docker_client, name, proc)
        kill_unreaped(proc)
        run_id = container.labels["org.reprobox.run-id"]
        assert json.loads((runs / run_id / "record.json").read_text())["status"] == (
            "running"
        )
        again = reprobox(
            cli,
            "verify",
            image,
            "--reference",
            str(tmp_path / "quick.json"),
            "--runs-dir",
            str(runs),
        )
    finally:
        proc.kill()
        proc.wait()
        leftover = containers(docker_client, name)
        remove_containers(docker_client, name)
    # The sleeper has no metrics to compare, so its rerun is never "verified";
    # what matters is that the rerun ran after the sweep.
    assert again.returncode == 1, shown(again)
    assert "no run recorded any metric, so nothing was checked" in again.stdout, shown(
        again
    )
    reruns = {p.parent.name for p in runs.glob("*/record.json")}
    assert len(reruns) == 2, reruns
    assert f"removed container of interrupted run {run_id}" in again.stderr
    assert leftover == [], [c.status for c in leftover]
    closed_as_killed(runs, run_id)
    assert list(runs.glob(".*.lock")) == []


PRINTS_ITS_TOKEN = """\
import html, os, sys, xml.sax.saxutils
token = os.environ["HARD_API_TOKEN"]
# The engine sends a line in chunks of 16 KiB: the first 10 characters of the
# value's UTF-16 form, after b'\\x00, end the first chunk.
print("long", "x" * (16384 - 5 - 16) + str(token.encode("utf-16-be")), flush=True)
print("token is", token, flush=True)
print("html", html.escape(token), flush=True)
print("xml", xml.sax.saxutils.escape(token), flush=True)
print("utf16", token.encode("utf-16-le"), flush=True)
print("utf32", token.encode("utf-32"), flush=True)
sys.exit(3)
"""


def test_a_hidden_env_value_the_script_prints_stays_hidden(
    cli, engine_cleanup, docker_client, tmp_path
):
    """The value, raw, escaped for HTML or XML, or as UTF-16 or UTF-32 bytes,
    even cut between two chunks, is in none of the run's files, the record's
    log tail or what reprobox printed."""
    token = f"Zq\"8x\\Wm/3@k%Lp!2&Rv'{random.getrandbits(64):016x}<"
    project, name = new_project(
        cli, engine_cleanup, tmp_path, files={"train.py": PRINTS_ITS_TOKEN}
    )
    # bw 2: a numerics variable the hook writes into capture.json, given a
    # vendor-shaped token, was kept there raw.
    flags = f"ghp_{random.getrandbits(160):040x}"
    done = reprobox(
        cli,
        "run",
        str(project),
        "--env",
        f"HARD_API_TOKEN={token}",
        "--env",
        f"XLA_FLAGS={flags}",
        "--json",
    )
    assert done.returncode == 1, shown(done)
    record = json.loads(done.stdout)
    assert record["options"]["env"]["HARD_API_TOKEN"] == "***"
    assert record["options"]["env"]["XLA_FLAGS"] == "***"
    hidden_lines = [
        "token is ***",
        "html ***",
        "xml ***",
        "utf16 b'***\\x00'",
        "utf32 b'\\xff\\xfe\\x00\\x00***\\x00\\x00\\x00'",
    ]
    # The tail cuts the long line short; the log keeps it whole.
    assert record["error"]["log_tail"].splitlines()[1:] == hidden_lines
    run_dir = project / ".reprobox/runs" / record["run_id"]
    long_line = "long " + "x" * (16384 - 5 - 16) + "b'\\x00***'"
    log = (run_dir / "container.log").read_text()
    assert log.splitlines() == [long_line, *hidden_lines]
    # What a form shows of the value once its first and last characters,
    # which the ends of a form may hold, are cut off.
    inner = token[1:-1]
    forms = [
        inner,
        html.escape(inner),
        str(inner.encode("utf-16-le"))[2:-1],
        str(inner.encode("utf-32-le"))[2:-1],
    ]
    forms += [json.dumps(form)[1:-1] for form in forms]  # as record.json has them
    forms.append(flags)
    capture = json.loads((run_dir / "capture.json").read_text())
    assert capture["env"]["XLA_FLAGS"] == "***"
    for path in run_dir.iterdir():
        text = path.read_text(errors="replace")
        assert [form for form in forms if form in text] == [], path
    assert [form for form in forms if form in done.stderr + done.stdout] == []
    assert long_line in done.stderr and hidden_lines[-1] in done.stderr
    assert containers(docker_client, name) == []
    shutil.rmtree(project / ".reprobox/runs")


PRINTS_AFTER_ITS_REPROBOX_DIED = """\
import os, pathlib, time
print("sleeper started", flush=True)
go = pathlib.Path(os.environ["REPROBOX_OUT"], "go")
while not go.exists():
    time.sleep(0.05)
for n in range(40):
    print(f"epoch {n} loss {1 / (n + 1):.4f}", flush=True)
print("token is", os.environ["HARD_API_TOKEN"], flush=True)
print("training over", flush=True)
"""


def start_a_run_that_prints_when_told(
    cli, engine_cleanup, tmp_path: Path, token: str
) -> tuple[Path, str, subprocess.Popen]:
    """Build a project of PRINTS_AFTER_ITS_REPROBOX_DIED and start its run
    (-q, HARD_API_TOKEN=token); return the project, its name and the run."""
    project, name = new_project(
        cli,
        engine_cleanup,
        tmp_path,
        files={"train.py": PRINTS_AFTER_ITS_REPROBOX_DIED},
    )
    built = reprobox(cli, "-q", "build", str(project))
    assert built.returncode == 0, shown(built)
    proc = start(
        cli,
        "-q",
        "run",
        str(project),
        "--env",
        f"HARD_API_TOKEN={token}",
        stderr=subprocess.DEVNULL,
    )
    return project, name, proc


def test_a_run_killed_before_its_script_printed_keeps_the_whole_log(
    cli, engine_cleanup, docker_client, tmp_path
):
    # brk: killed at 1.2 s; the next command closed the record with an empty
    # log_tail and a 0-byte container.log, though `docker logs` had every line.
    token = f"tok-{random.getrandbits(64):016x}"
    project, name, proc = start_a_run_that_prints_when_told(
        cli, engine_cleanup, tmp_path, token
    )
    try:
        container = running_container(docker_client, name, proc)
        kill_unreaped(proc)
        run_id = container.labels["org.reprobox.run-id"]
        run_dir = project / ".reprobox/runs" / run_id
        (run_dir / "go").write_text("")  # the script prints only now
        deadline = time.monotonic() + 60
        while container.status != "exited":
            assert time.monotonic() < deadline, "the script did not finish"
            time.sleep(0.1)
            container.reload()
        assert b"training over" in container.logs()
        after = reprobox(cli, "build", str(project))
    finally:
        proc.kill()
        proc.wait()
        leftover = containers(docker_client, name)
        remove_containers(docker_client, name)
    assert after.returncode == 0, shown(after)
    assert leftover == [], [c.status for c in leftover]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "interrupted", record
    assert not (run_dir.parent / f".{run_id}.lock").exists()
    epochs = [f"epoch {n} loss {1 / (n + 1):.4f}" for n in range(40)]
    assert record["error"]["log_tail"].splitlines() == [
        *epochs[-18:],
        "token is ***",
        "training over",
    ]
    log = (run_dir / "container.log").read_text()
    assert log.splitlines() == [
        "sleeper started",
        *epochs,
        "token is ***",
        "training over",
    ]
    for path in run_dir.iterdir():
        assert token not in path.read_text(errors="replace"), path
    assert token not in after.stderr and token not in after.stdout


def test_a_killed_run_behind_an_odd_lock_keeps_its_container_until_closed(
    cli, engine_cleanup, docker_client, tmp_path
):
    # brk r44 (BI 1): the record of a run whose lock was a FIFO was left
    # running, as said, but the owner-label sweep removed its container; once
    # the FIFO was moved away the record was closed with the dead reprobox's
    # log: what the script printed after, and its exit code, were lost.
    project, name, proc = start_a_run_that_prints_when_told(
        cli, engine_cleanup, tmp_path, "t0k3n-x"
    )
    try:
        container = running_container(docker_client, name, proc)
        proc.kill()
        proc.wait()
        run_id = container.labels["org.reprobox.run-id"]
        runs = project / ".reprobox/runs"
        lock = runs / f".{run_id}.lock"
        lock.unlink()
        os.mkfifo(lock)
        (runs / run_id / "go").write_text("")
        deadline = time.monotonic() + 60
        while container.status != "exited":
            assert time.monotonic() < deadline, "the script did not finish"
            time.sleep(0.1)
            container.reload()
        state = container.attrs["State"]
        kept = reprobox(cli, "-q", "build", str(project))
        left = [c.id for c in containers(docker_client, name)]
        record_then = json.loads((runs / run_id / "record.json").read_text())
        lock.rename(tmp_path / "moved-away")
        closed = reprobox(cli, "build", str(project))
        after = containers(docker_client, name)
    finally:
        remove_containers(docker_client, name)
    assert kept.returncode == 0, shown(kept)
    assert kept.stderr.splitlines() == [
        f"reprobox: warning: {lock}: run lock is a FIFO (named pipe), not a file "
        f"reprobox wrote: left as it is, and so are run {run_id}'s record and "
        "container (move it away; the next `reprobox run`, `build` or `push` "
        "then closes that record as interrupted if it still says running, with "
        "the container's output as its log)"
    ], shown(kept)
    assert left == [container.id]
    assert record_then["status"] == "running"
    assert closed.returncode == 0, shown(closed)
    assert f"removed container of interrupted run {run_id}" in closed.stderr
    assert after == []
    record = json.loads((runs / run_id / "record.json").read_text())
    assert record["status"] == "interrupted"
    assert "its lock file is gone" in record["error"]["message"]
    assert record["exit_code"] == 0
    # The container's wall time, as the engine says it: start to exit (BO r47
    # found duration_s left null in such a closed record).
    ran = [
        datetime.fromisoformat(state[key][:26].rstrip("Z") + "+00:00")
        for key in ("StartedAt", "FinishedAt")
    ]
    assert abs(record["duration_s"] - (ran[1] - ran[0]).total_seconds()) < 0.002
    assert record["duration_s"] > 0
    # And finished_at is when the container stopped, not when the later
    # build closed the record (BQ r48).
    stopped = datetime.fromisoformat(record["finished_at"])
    assert abs((stopped - ran[1]).total_seconds()) < 0.001  # µs rounding
    # brk r45 (BK 6): the script had ended; its facts are in the record.
    assert record["machine"]["python"].startswith("3.11"), record["machine"]
    epochs = [f"epoch {n} loss {1 / (n + 1):.4f}" for n in range(40)]
    assert (runs / run_id / "container.log").read_text().splitlines() == [
        "sleeper started",
        *epochs,
        "token is ***",
        "training over",
    ]
    assert record["error"]["log_tail"].splitlines()[-2:] == [
        "token is ***",
        "training over",
    ]


@pytest.mark.registry
def test_a_push_killed_outright_has_its_registry_tag_removed_by_the_next_command(
    cli, engine_cleanup, docker_client, tmp_path
):
    from conftest_cross import REGISTRY

    project, name = new_project(cli, engine_cleanup, tmp_path, base="sleeper")
    # A layer of random bytes the registry has never seen: the push takes a
    # while, so the kill lands between the tag and the push's end.
    (project / "blob.bin").write_bytes(random.randbytes(48 << 20))
    built = reprobox(cli, "build", str(project), "--json")
    assert built.returncode == 0, shown(built)
    tag = json.loads(built.stdout)["tag"]
    pushed = f"{REGISTRY}/reprobox/{name}:{tag.rsplit(':', 1)[1]}"
    markers = project / ".reprobox" / "pushing"
    proc = start(
        cli, "push", str(project), "--registry", REGISTRY, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not docker_client.images.list(name=pushed):
            assert proc.poll() is None, f"push exited {proc.returncode} first"
            assert time.monotonic() < deadline, f"no {pushed} after 120 s"
            time.sleep(0.01)
        kill_unreaped(proc)
        # Two: one for <tag>-sealed (written before the seal, which found no
        # run to seal here), one for the registry-named tag.
        assert len(list(markers.iterdir())) == 2, "the push ended before the kill"
        after = reprobox(cli, "build", str(project))
        left = docker_client.images.list(name=pushed)
    finally:
        proc.kill()
        proc.wait()
        if docker_client.images.list(name=pushed):
            docker_client.images.remove(pushed, noprune=True)
    assert after.returncode == 0, shown(after)
    assert f"removed tag {pushed}: the push that made it was killed" in after.stderr, (
        shown(after)
    )
    assert left == []
    assert list(markers.iterdir()) == []
    assert docker_client.images.list(name=f"reprobox/{name}")  # the build's own tag


def under_strace_killed_at_rename(cli, nth: int, *args: str):
    """Run reprobox under strace, SIGKILLed at its nth rename (no child traced)."""
    return subprocess.run(
        ["strace", "-qq", "-o", "/dev/null", "-e", "trace=rename", "-e",
         f"inject=rename:signal=SIGKILL:when={nth}",
         sys.executable, "-m", "reprobox", *args],
        env=cli.env(), cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_a_run_killed_at_each_rename_is_closed_with_every_fact_it_had(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(cli, engine_cleanup, tmp_path, base="sleeper", files={})
    assert reprobox(cli, "-q", "build", str(project)).returncode == 0
    runs = project / ".reprobox" / "runs"
    for nth in (1, 2, 3):
        killed = under_strace_killed_at_rename(
            cli, nth, "-q", "run", str(project), "-e", "SLEEPER_SECONDS=0"
        )
        assert killed.returncode != 0, shown(killed)
        after = reprobox(cli, "build", str(project))
        assert after.returncode == 0, shown(after)
        left = sorted(p.name for p in runs.iterdir()) if runs.exists() else []
        if nth == 1:  # nothing ran: nothing is left, not even a lock temp
            assert left == [], left
            continue
        [run_id] = left
        record = json.loads((runs / run_id / "record.json").read_text())
        assert record["started_at"] and record["image"]["id"], record
        assert record["seed"] == 1 and record["engine"]["host"] == "default"
        assert not any("damaged" in w for w in record["warnings"]), record
        if nth == 3:  # killed as the final record was renamed: that record stands
            assert record["status"] == "succeeded", record
            assert "its final record" in after.stderr, shown(after)
        else:
            assert record["status"] == "interrupted", record
        assert not [p for p in (runs / run_id).iterdir() if p.name.startswith(".")]
        shutil.rmtree(runs)
    assert containers(docker_client, name) == []


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_freeze_killed_at_each_rename_is_named_not_blamed_on_the_user(
    cli, engine_cleanup, tmp_path, nth
):
    project, _ = new_project(cli, engine_cleanup, tmp_path, base="sleeper")
    (project / "requirements.txt").write_text(
        (project / "requirements.txt").read_text() + "# edited\n"
    )
    killed = under_strace_killed_at_rename(cli, nth, "-q", "freeze", str(project))
    assert killed.returncode != 0, shown(killed)
    build = reprobox(cli, "build", str(project))
    assert build.returncode == 2, shown(build)
    assert "an earlier `reprobox freeze` was interrupted" in build.stderr, shown(build)
    assert reprobox(cli, "-q", "freeze", str(project)).returncode == 0
    assert temp_leftovers(project / ".reprobox") == []
    assert not (project / ".reprobox" / ".freeze.pending").exists()
    assert reprobox(cli, "-q", "build", str(project)).returncode == 0


@pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat")
def test_an_engine_that_drops_mid_run_is_engine_trouble_and_no_failed_run(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = new_project(cli, engine_cleanup, tmp_path, base="sleeper")
    assert reprobox(cli, "-q", "build", str(project)).returncode == 0
    sock = tmp_path / "px.sock"
    proxy = subprocess.Popen(
        ["socat", f"UNIX-LISTEN:{sock},fork", "UNIX-CONNECT:/var/run/docker.sock"]
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        run = start(
            cli, "run", str(project), "-H", f"unix://{sock}", "-e",
            "SLEEPER_SECONDS=6",
        )  # fmt: skip
        time.sleep(3)
        proxy.kill()  # the listener goes; the open log stream lives on
        proxy.wait()
        _, err = run.communicate(timeout=120)
    finally:
        proxy.kill()
        proxy.wait()
    assert run.returncode == 3, err
    assert f"lost the connection to the engine at 'unix://{sock}'" in err, err
    assert "Connection aborted" not in err and "Refused" not in err, err
    [run_dir] = [p for p in (project / ".reprobox/runs").iterdir() if p.is_dir()]
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "interrupted" and record["exit_code"] is None
    assert record["error"]["message"].startswith("lost the connection"), record
    after = reprobox(cli, "build", str(project))
    assert after.returncode == 0, shown(after)
    assert containers(docker_client, name) == []
    assert json.loads((run_dir / "record.json").read_text())["status"] == (
        "interrupted"
    )


def test_verify_on_a_full_runs_folder_says_nothing_was_left(
    cli, engine_cleanup, tmp_path
):
    # bq F4: verify said "the next `reprobox run` or `build` closes this run's
    # record" though it had left no record (and run and build never read
    # verify's runs folder).
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    project, _ = new_project(cli, engine_cleanup, tmp_path, base="sleeper")
    ran = reprobox(cli, "run", str(project), "--env", "SLEEPER_SECONDS=0", "--json")
    assert ran.returncode == 0, shown(ran)
    record = json.loads(ran.stdout)
    reference = project / ".reprobox/runs" / record["run_id"] / "record.json"
    full = tmp_path / "vfull"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)],
                   check=True)  # fmt: skip
    try:
        with open(full / "fill", "wb", buffering=0) as fh, contextlib.suppress(OSError):
            for _ in range(64):
                fh.write(b"\0" * 4096)
        done = reprobox(cli, "verify", record["image"]["ref"], "--runs-dir",
                        str(full), "--reference", str(reference))  # fmt: skip
        left = sorted(os.listdir(full))
    finally:
        subprocess.run(["umount", str(full)], check=True)
    assert done.returncode == 2, shown(done)
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"reprobox: error: {full}/"), shown(done)
    assert "cannot write the run's files: No space left on device" in line
    assert "free space there" in line
    assert "closes this run's record" not in done.stderr, shown(done)
    assert left == ["fill"]


LOUD_SCRIPT = """\
import json, os, time
with open(os.path.join(os.environ["REPROBOX_OUT"], "metrics.json"), "w") as fh:
    json.dump({"accuracy": 0.5}, fh)
for i in range(int(os.environ["N"])):
    print(f"line {i:03d} " + "x" * 1000, flush=True)
print("training done", flush=True)
time.sleep(float(os.environ["LINGER"]))
"""


@pytest.mark.parametrize("linger", ["0", "60"])
def test_a_runs_folder_filling_up_mid_run_closes_the_run_as_interrupted(
    cli, engine_cleanup, docker_client, tmp_path, linger
):
    # Breaker: the log write failed on a full runs folder and the run was
    # closed as "failed" with no exit code and no log tail, as if the
    # training had said no.
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    project, name = new_project(
        cli, engine_cleanup, tmp_path, base="sleeper", files={"train.py": LOUD_SCRIPT}
    )
    built = reprobox(cli, "-q", "build", str(project))
    assert built.returncode == 0, shown(built)
    runs = project / ".reprobox/runs"
    runs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(runs)],
                   check=True)  # fmt: skip
    try:
        (runs / "fill").write_bytes(b"\0" * 60 * 1024)
        began = time.monotonic()
        done = reprobox(
            cli, "run", str(project), "--env", "N=100", "--env", f"LINGER={linger}"
        )
        took = time.monotonic() - began
        (runs / "fill").unlink()
        after = reprobox(cli, "build", str(project))
        run_ids = [p.name for p in runs.iterdir() if p.is_dir()]
        assert len(run_ids) == 1, run_ids
        record = json.loads((runs / run_ids[0] / "record.json").read_text())
        log = (runs / run_ids[0] / "container.log").read_text()
    finally:
        subprocess.run(["umount", "-l", str(runs)], check=False)
    assert done.returncode == 2, shown(done)
    assert "No space left on device" in done.stderr, shown(done)
    assert "Traceback" not in done.stderr, shown(done)
    assert after.returncode == 0, shown(after)
    assert record["status"] == "interrupted", record
    assert record["finished_at"] is not None
    assert "No space left on device" in record["error"]["message"]
    # The training (whose output goes to the engine, not the full disk) is
    # stopped, or had ended with 0: the record knows it only in that case.
    if linger == "0":
        assert record["exit_code"] in (0, None), record
    else:  # still sleeping when the disk filled: stopped, no exit code
        assert record["exit_code"] is None, record
        assert took < 45, took
    assert record["metrics"] == {"accuracy": 0.5}, record["warnings"]
    # The tail is the engine's: past what the full disk let container.log keep.
    tail = record["error"]["log_tail"].splitlines()
    assert tail and tail[0].startswith("line "), record["error"]
    # Besides the training's lines, only reprobox's own word from inside the
    # container that the full disk stopped a file it writes (capture.json,
    # when the disk filled before the training ended).
    odd = [
        line
        for line in tail
        if not line.startswith(("line ", "training done"))
        and not (
            line.startswith("reprobox: could not write ")
            and line.endswith("No space left on device")
        )
    ]
    assert odd == [], odd
    kept = [line for line in log.splitlines() if line.startswith("line ")]
    assert kept and kept[0].startswith("line 000 "), log[:100]
    assert tail[-1][:8] > kept[-1][:8] or tail[-1] == "training done"
    assert containers(docker_client, name) == []
