"""What a reprobox killed during a build leaves: no secret file, no builder, no copy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from reprobox.cli import build_secrets
from reprobox.context_folder import CONTEXT_PREFIX, remove_stale_contexts
from reprobox.engine import _inherited_fds


def test_index_credentials_reach_the_build_through_memory_only(monkeypatch, tmp_path):
    monkeypatch.setenv("HARD_TOKEN", "s3cr3t-xyz")
    cfg = SimpleNamespace(
        index_url=None,
        extra_index_urls=("https://__token__:${HARD_TOKEN}@pypi.example/simple/",),
        source=tmp_path / "reprobox.toml",
    )
    with build_secrets(cfg, None) as secrets:
        path = secrets["pip_index"]
        assert str(path).startswith("/dev/fd/")
        assert os.readlink(path).startswith("/memfd:reprobox-pip-index")
        text = Path(path).read_text()
        assert "s3cr3t-xyz" in text and text.startswith("export PIP_EXTRA_INDEX_URL=")
        assert _inherited_fds(secrets.values()) == (int(path.name),)
    assert not Path(path).exists() or not os.readlink(path).startswith("/memfd:")


def test_no_index_credentials_no_secret(tmp_path):
    cfg = SimpleNamespace(index_url=None, extra_index_urls=(), source=tmp_path)
    with build_secrets(cfg, None) as secrets:
        assert secrets == {}


def test_the_build_cli_dies_with_a_killed_reprobox(tmp_path):
    parent = (
        "from reprobox.proc import start_process\n"
        "with start_process(['sleep', '60']) as child:\n"
        "    print(child.pid, flush=True)\n"
        "    child.wait()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE)
    child = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # A zombie of init counts as gone once reaped; it is not ours to reap.
        with open(f"/proc/{child}/stat") as fh:
            if fh.read().split(") ", 1)[1].startswith("Z"):
                break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the child outlived its killed parent")


def test_only_copies_of_dead_reprobox_processes_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{CONTEXT_PREFIX}{dead.pid}-abc123"
    live = tmp_path / f"{CONTEXT_PREFIX}{os.getpid()}-def456"
    other = tmp_path / "reprobox-context-notapid"
    for folder in (stale, live, other):
        (folder / "app").mkdir(parents=True)

    assert remove_stale_contexts(str(tmp_path)) == [stale.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
