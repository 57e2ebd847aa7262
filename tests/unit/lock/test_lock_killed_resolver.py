"""A freeze killed outright leaves no resolver running and no lock folder behind."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

import pytest

from reprobox import proc
from reprobox.lock import resolve as resolve_module
from reprobox.lock import resolve_lock
from reprobox.lock.resolve import LOCK_FOLDER_PREFIX, _host_platform_warning

OUTPUT = "six==1.17.0 \\\n    --hash=sha256:" + "b" * 64 + "\n"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:  # a zombie of init is gone
        return fh.read().split(") ", 1)[1].startswith("Z")


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_resolver_dies_with_a_killed_reprobox(tmp_path):
    marker = tmp_path / "child.pid"
    parent = (
        "from reprobox import proc\n"
        f"proc.run_command(['sh', '-c', 'echo $$ > {marker}; exec sleep 60'])\n"
    )
    reprobox = subprocess.Popen([sys.executable, "-c", parent])
    deadline = time.monotonic() + 20
    while not (marker.is_file() and marker.read_text().strip()):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(marker.read_text())
    reprobox.kill()
    reprobox.wait()
    deadline = time.monotonic() + 5
    while not _gone(child):
        if time.monotonic() > deadline:
            os.kill(child, 9)
            raise AssertionError("the resolver outlived its killed reprobox")
        time.sleep(0.05)


def test_a_later_freeze_removes_the_lock_folder_of_a_killed_one(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{LOCK_FOLDER_PREFIX}{dead.pid}-abc123"
    live = tmp_path / f"{LOCK_FOLDER_PREFIX}{os.getppid()}-def456"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "requirements.in").write_text("six\n")
    folders = []

    def run(argv, *, env=None, cwd=None, **kw):
        if cwd is not None:
            folders.append(os.path.basename(cwd))
        out = "uv 0.13.9\n" if argv[1:] == ["--version"] else OUTPUT
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")
    monkeypatch.setattr(proc, "run_command", run)
    resolve_lock(["six"])
    assert folders and folders[0].startswith(f"{LOCK_FOLDER_PREFIX}{os.getpid()}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]


@pytest.mark.parametrize("ending", ["resolved", "failed", "interrupted"])
@pytest.mark.parametrize("resolver", ["uv", "pip-compile"])
def test_the_resolvers_temp_files_go_with_the_lock_folder(
    tmp_path, monkeypatch, ending, resolver
):
    """uv leaves an empty uv-setuptools-*.lock in TMPDIR per sdist it builds."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    given = []

    def run(argv, *, env=None, cwd=None, **kw):
        if argv[1:] == ["--version"]:
            return subprocess.CompletedProcess(argv, 0, "uv 0.13.9\n", "")
        given.append(env["TMPDIR"])
        assert os.path.dirname(env["TMPDIR"]) == str(cwd)  # inside the lock folder
        open(os.path.join(env["TMPDIR"], "uv-setuptools-0123abcd.lock"), "w").close()
        if ending == "interrupted":
            raise KeyboardInterrupt
        if ending == "failed":
            raise subprocess.CalledProcessError(1, argv, "", "error: no solution")
        return subprocess.CompletedProcess(argv, 0, OUTPUT, "")

    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")
    monkeypatch.setattr(proc, "run_command", run)
    if ending == "resolved":
        resolve_lock(["six"], resolver=resolver)
    else:
        with pytest.raises((KeyboardInterrupt, resolve_module.LockError)):
            resolve_lock(["six"], resolver=resolver)
    assert len(given) == 1 and given[0] != str(tmp_path)
    assert list(tmp_path.iterdir()) == []


Version = namedtuple("Version", "major minor")


def test_the_pip_compile_warning_does_not_contradict_itself(monkeypatch):
    monkeypatch.setattr(resolve_module.sys, "version_info", Version(3, 11))
    monkeypatch.setattr(resolve_module.sys, "platform", "linux")
    monkeypatch.setattr(resolve_module.host_platform, "machine", lambda: "x86_64")
    same = _host_platform_warning("3.11", "linux/x86_64")
    assert "as the image" in same and "not for" not in same
    other = _host_platform_warning("3.12", "linux/x86_64")
    assert "not for python 3.12 on linux/x86_64" in other
    monkeypatch.setattr(resolve_module.host_platform, "machine", lambda: "arm64")
    assert "as the image" in _host_platform_warning("3.11", "linux/aarch64")
