"""Engine logic that needs no engine: build logs, CLI choice, container owners."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from reprobox import engine
from reprobox.engine import (
    LABEL_PREFIX,
    OWNER_LABEL,
    RUN_LABEL,
    failing_step,
    find_build_cli,
    owner_label,
    remove_orphans,
)
from reprobox.errors import EngineError

PIP_STEP = (
    "RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked "
    "--mount=type=secret,id=ca_cert --mount=type=secret,id=pip_index "
    "set -eu; pip install --no-deps --require-hashes --no-input "
    "-r /opt/reprobox/requirements.lock"
)

# `docker build --progress=plain` output of a failing pip install (BuildKit).
PIP_FAILURE_LOG = f"""\
#0 building with "default" instance using docker driver

#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 1.91kB done
#1 DONE 0.0s

#2 [internal] load metadata for docker.io/library/python:3.11-slim-bookworm
#2 DONE 0.4s

#3 [internal] load .dockerignore
#3 transferring context: 2B done
#3 DONE 0.0s

#4 [1/7] FROM docker.io/library/python:3.11-slim-bookworm@sha256:{"0" * 64}
#4 CACHED

#5 [internal] load build context
#5 transferring context: 9.12kB done
#5 DONE 0.0s

#6 [2/7] RUN python3 -m venv /opt/venv &&     useradd --uid 1000 reprobox
#6 CACHED

#7 [3/7] COPY requirements.lock /opt/reprobox/requirements.lock
#7 DONE 0.0s

#8 [4/7] {PIP_STEP}
#8 1.204 ERROR: Could not find a version that satisfies the requirement nump==9.9
#8 1.205 ERROR: No matching distribution found for nump==9.9
#8 ERROR: process "/bin/sh -c set -eu; pip install ..." did not complete \
successfully: exit code: 1
------
 > [4/7] {PIP_STEP}:
1.204 ERROR: Could not find a version that satisfies the requirement nump==9.9
1.205 ERROR: No matching distribution found for nump==9.9
------
Dockerfile:24
--------------------
  23 |     # secrets and never reach a layer, an ENV or the build history.
  24 | >>> RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \\
  25 | >>>     --mount=type=secret,id=ca_cert \\
--------------------
error: failed to solve: process "/bin/sh -c set -eu; pip install ..." did not \
complete successfully: exit code: 1
"""

BASE_MISSING_LOG = """\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s

#2 [internal] load metadata for docker.io/library/python:3.99-slim
#2 ERROR: docker.io/library/python:3.99-slim: not found
------
 > [internal] load metadata for docker.io/library/python:3.99-slim:
------
Dockerfile:3
ERROR: failed to solve: python:3.99-slim: docker.io/library/python:3.99-slim: not found
"""

# A multi-stage build whose failing command itself holds brackets.
STAGED_LOG = """\
#9 [builder 3/4] RUN python -c "import sys; print(sys.argv[0])"; exit 3
#9 ERROR: process did not complete successfully: exit code: 3
------
 > [builder 3/4] RUN python -c "import sys; print(sys.argv[0])"; exit 3:
------
error: failed to solve: exit code: 3
"""

# A log cut off before BuildKit printed its summary (e.g. the CLI was killed).
TRUNCATED_LOG = """\
#6 [2/7] RUN python3 -m venv /opt/venv
#6 CACHED

#7 [3/7] COPY requirements.lock /opt/reprobox/requirements.lock
#7 DONE 0.0s

#8 [4/7] RUN pip install -r /opt/reprobox/requirements.lock
#8 3.1 Collecting numpy==2.0.0
"""


@pytest.mark.parametrize(
    ("log", "step"),
    [
        (PIP_FAILURE_LOG, f"[4/7] {PIP_STEP}"),
        (
            BASE_MISSING_LOG,
            "[internal] load metadata for docker.io/library/python:3.99-slim",
        ),
        (
            STAGED_LOG,
            '[builder 3/4] RUN python -c "import sys; print(sys.argv[0])"; exit 3',
        ),
        (TRUNCATED_LOG, "[4/7] RUN pip install -r /opt/reprobox/requirements.lock"),
        ("error: failed to solve: failed to read dockerfile\n", None),
        ("", None),
    ],
    ids=["pip-install", "base-missing", "multi-stage", "truncated", "no-step", "empty"],
)
def test_failing_step_from_plain_log(log, step):
    assert failing_step(log.splitlines()) == step


class FakeDocker:
    """Answers `docker buildx version` and `docker version` like one CLI would."""

    def __init__(self, cli: str, version: str, buildx: bool):
        self.cli, self.version, self.buildx = cli, version, buildx
        self.calls: list[list[str]] = []

    def __call__(self, argv, *, check=True, **kwargs):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if argv[0] != self.cli:
            return subprocess.CompletedProcess(argv, 1, "", "not this one")
        if argv[1:3] == ["buildx", "version"]:
            if self.buildx:
                return subprocess.CompletedProcess(
                    argv, 0, "github.com/docker/buildx v0.23.0 28ba0e7\n", ""
                )
            return subprocess.CompletedProcess(
                argv, 1, "", "docker: unknown command: docker buildx\n"
            )
        if argv[1] == "version":
            return subprocess.CompletedProcess(argv, 0, self.version + "\n", "")
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    """Make a fake docker executable the only candidate; return its path."""
    cli = tmp_path / "docker"
    cli.write_text("#!/bin/sh\nexit 99\n")
    cli.chmod(0o755)
    monkeypatch.setenv("REPROBOX_DOCKER_CLI", str(cli))
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    return str(cli)


@pytest.mark.parametrize(
    ("version", "buildx", "env"),
    [
        ("28.2.2", True, {}),
        ("24.0.7", True, {}),
        ("20.10.24+dfsg1", False, {"DOCKER_BUILDKIT": "1"}),
        ("19.03.15", False, {"DOCKER_BUILDKIT": "1"}),
    ],
)
def test_build_cli_choice(fake_cli, monkeypatch, version, buildx, env):
    fake = FakeDocker(fake_cli, version, buildx)
    monkeypatch.setattr(engine, "run_command", fake)
    assert find_build_cli() == (fake_cli, env)
    assert fake.calls[0] == [fake_cli, "buildx", "version"]


def test_old_cli_with_buildx_plugin_still_gets_buildkit(fake_cli, monkeypatch):
    monkeypatch.setattr(engine, "run_command", FakeDocker(fake_cli, "20.10.24", True))
    assert find_build_cli() == (fake_cli, {"DOCKER_BUILDKIT": "1"})


@pytest.mark.parametrize("version", ["28.2.2", "23.0.0", "", "garbage"])
def test_new_or_unknown_cli_without_buildx_is_refused(fake_cli, monkeypatch, version):
    monkeypatch.setattr(engine, "run_command", FakeDocker(fake_cli, version, False))
    with pytest.raises(EngineError) as info:
        find_build_cli()
    assert "BuildKit" in str(info.value)
    assert "buildx" in info.value.hint
    assert info.value.exit_code == 3


def test_first_working_candidate_wins(tmp_path, monkeypatch):
    old, new = tmp_path / "old-docker", tmp_path / "new-docker"
    for path in (old, new):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    monkeypatch.setenv("REPROBOX_DOCKER_CLI", str(new))
    monkeypatch.setattr(engine.shutil, "which", lambda name: str(old))
    answers = {
        str(new): FakeDocker(str(new), "28.0.0", False),
        str(old): FakeDocker(str(old), "20.10.24", False),
    }
    monkeypatch.setattr(
        engine,
        "run_command",
        lambda argv, **kw: (
            answers[str(argv[0])](argv, **kw)
            if str(argv[0]) in answers
            else subprocess.CompletedProcess(argv, 1, "", "")
        ),
    )
    assert find_build_cli() == (str(old), {"DOCKER_BUILDKIT": "1"})


def test_owner_label_names_this_process():
    node, pid, started = owner_label().split(":")
    assert node == os.uname().nodename
    assert pid == str(os.getpid())
    assert started.isdigit()


def test_own_process_is_alive():
    assert engine.owner_alive(owner_label()) is True


def test_finished_process_is_not_alive():
    # The child waits for its stdin, so its start time is read while it lives.
    child = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    label = f"{os.uname().nodename}:{child.pid}:{engine._start_time(child.pid)}"
    assert engine.owner_alive(label) is True
    child.communicate(b"\n")
    assert engine.owner_alive(label) is False


def test_a_label_made_from_a_dead_process_is_never_alive():
    # A start time read as the process died is "?", as is any dead pid's.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert engine.owner_alive(f"{os.uname().nodename}:{child.pid}:?") is False


def test_reused_pid_with_other_start_time_is_not_alive():
    assert engine.owner_alive(f"{os.uname().nodename}:{os.getpid()}:1") is False


@pytest.mark.parametrize("owner", ["", "garbage", "a:b", "a:b:c:d"])
def test_malformed_owner_is_not_alive(owner):
    assert engine.owner_alive(owner) is False


def test_other_machines_runs_are_left_alone():
    assert engine.owner_alive("some-other-host:1:1") is True


class FakeContainer:
    def __init__(self, cid: str, labels: dict):
        self.id, self.labels, self.removed = cid, labels, False

    def remove(self, force=False):
        assert force
        self.removed = True


def test_remove_orphans_removes_only_dead_owners():
    alive = FakeContainer("a" * 64, {OWNER_LABEL: owner_label(), RUN_LABEL: "run-a"})
    dead = FakeContainer(
        "b" * 64, {OWNER_LABEL: f"{os.uname().nodename}:1:0", RUN_LABEL: "run-b"}
    )
    unlabeled = FakeContainer("c" * 64, {})
    seen = {}

    def list_containers(all, filters):
        seen.update(all=all, filters=filters)
        return [alive, dead, unlabeled]

    client = SimpleNamespace(containers=SimpleNamespace(list=list_containers))
    fake_engine = SimpleNamespace(client=client)
    assert remove_orphans(fake_engine, "digits") == ["run-b", "c" * 12]
    # AO 2: only run containers are asked for. A push's seal runs a builder
    # container that inherits the image's project label (so does a user's own
    # `docker run` of the image); it was removed as an "interrupted run".
    assert seen == {
        "all": True,
        "filters": {"label": [f"{LABEL_PREFIX}.project=digits", RUN_LABEL]},
    }
    assert (alive.removed, dead.removed, unlabeled.removed) == (False, True, True)


def test_killed_process_not_yet_reaped_is_not_alive():
    # A SIGKILLed reprobox stays a zombie, start time and all, until its
    # parent reaps it; its container must not be spared meanwhile.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    label = f"{os.uname().nodename}:{child.pid}:{engine._start_time(child.pid)}"
    assert engine.owner_alive(label) is True
    child.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().split(")")[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never died"
        time.sleep(0.01)
    try:
        assert engine.owner_alive(label) is False
    finally:
        child.wait()


def test_remove_orphans_trusts_the_lock_over_the_owner_label():
    live_owner = {OWNER_LABEL: owner_label()}
    dead_owner = {OWNER_LABEL: f"{os.uname().nodename}:1:0"}
    lock_free = FakeContainer("a" * 64, {**live_owner, RUN_LABEL: "run-free"})
    lock_held = FakeContainer("b" * 64, {**dead_owner, RUN_LABEL: "run-held"})
    no_lock = FakeContainer("c" * 64, {**dead_owner, RUN_LABEL: "run-none"})
    no_lock_alive = FakeContainer("d" * 64, {**live_owner, RUN_LABEL: "run-none2"})
    found = [lock_free, lock_held, no_lock, no_lock_alive]
    client = SimpleNamespace(
        containers=SimpleNamespace(list=lambda all, filters: found)
    )
    locks = {"run-free": False, "run-held": True}
    removed = remove_orphans(SimpleNamespace(client=client), "digits", alive=locks.get)
    assert removed == ["run-free", "run-none"]
    assert [c.removed for c in found] == [True, False, True, False]


def test_a_failed_run_step_is_shown_once_whole_and_its_repeats_cut():
    from reprobox.engine import _RUN_ECHO

    command = "set -eu; " + "x" * 1500 + "; pip install -r lock"
    header = f"#6 [stage-0 2/5] RUN {command}"
    repeats = [
        f"#6 ERROR: executor failed running [/bin/sh -c {command}]: exit code: 1",
        f" > [stage-0 2/5] RUN {command}:",
        f"executor failed running [/bin/sh -c {command}]: exit code: 1",
        f'#6 ERROR: process "/bin/sh -c {command}" did not complete successfully',
    ]
    assert not _RUN_ECHO.search(header)  # the step as it starts stays whole
    assert all(_RUN_ECHO.search(line) for line in repeats)
    assert not _RUN_ECHO.search("#6 4.7 Collecting six==1.17.0")
