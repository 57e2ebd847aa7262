"""A freeze killed among its renames: the next command says so, the next freeze heals.

The lock, Dockerfile and manifest vouch for each other; a reprobox killed after
renaming some of them (as `strace -e inject=rename:signal=SIGKILL:when=N` does)
must not let a build blame the user for files freeze left half-replaced.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from reprobox.atomic import atomic_write_files, unit_write_state
from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.manifest import FREEZE_MARKER, load_frozen

KILLED_AT_RENAME = """
import os, pickle, signal, sys
from reprobox.config import load_config
from reprobox.freeze import write_frozen

root, kill_at = sys.argv[1], int(sys.argv[2])
result = pickle.loads(sys.stdin.buffer.read())
count = [0]
real = os.replace
def replace(*args, **kwargs):
    count[0] += 1
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
os.replace = replace
write_frozen(load_config(root), result)
"""


def _changed_result(root: Path):
    """Freeze root, then return what a freeze after a requirements edit writes."""
    cfg = load_config(root)
    write_frozen(cfg, freeze_project(cfg, environ={}, ca_cert=None))
    (root / "requirements.txt").write_text("six==1.17.0\n# pinned for the paper\n")
    cfg = load_config(root)
    result = freeze_project(cfg, environ={}, ca_cert=None)
    result.lock += "# relocked\n"
    lock_sha = hashlib.sha256(result.lock.encode()).hexdigest()
    result.manifest["packages"]["lock_sha256"] = lock_sha
    return cfg, result


def _kill_freeze_at(root: Path, result, kill_at: int) -> int:
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's reprobox
    return subprocess.run(
        [sys.executable, "-c", KILLED_AT_RENAME, str(root), str(kill_at)],
        input=pickle.dumps(result),
        env=env,
        capture_output=True,
        timeout=60,
    ).returncode


@pytest.mark.parametrize("kill_at", [1, 2, 3])
def test_a_freeze_killed_at_each_rename_is_named_then_healed(six_project, kill_at):
    root = six_project
    cfg, result = _changed_result(root)
    assert _kill_freeze_at(root, result, kill_at) == -9
    state = root / ".reprobox"

    with pytest.raises(InputError) as caught:
        load_frozen(cfg)
    assert caught.value.message == (
        f"{state}: an earlier `reprobox freeze` was interrupted while writing the "
        "frozen files, so they may not belong together"
    )
    assert caught.value.hint == f"run `reprobox freeze {root}` again"

    write_frozen(cfg, result)  # the next freeze sweeps what the kill left
    assert sorted(p.name for p in state.iterdir() if p.name.startswith(".")) == [
        ".gitignore",
        ".share.lock",  # the turn-taking lock with pushes: an empty file, kept
    ]
    frozen = load_frozen(cfg)
    assert frozen.lock_text == result.lock
    assert (
        frozen.manifest["packages"]["lock_sha256"]
        == (result.manifest["packages"]["lock_sha256"])
    )


def test_a_freeze_that_ends_leaves_no_marker(six_project):
    cfg, result = _changed_result(six_project)
    assert _kill_freeze_at(six_project, result, 99) == 0
    assert unit_write_state(six_project / ".reprobox" / FREEZE_MARKER) is None
    assert not (six_project / ".reprobox" / FREEZE_MARKER).exists()
    load_frozen(cfg)


def test_a_writer_killed_before_any_rename_leaves_the_old_files_usable(tmp_path):
    marker = tmp_path / ".pending"
    marker.touch()  # made, but the writer died while still writing its temps
    (tmp_path / ".a.txt.k1l2m3n4.tmp").write_text("half")
    assert unit_write_state(marker) is None
    atomic_write_files([(tmp_path / "a.txt", "new\n")], marker)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_second_writer_is_refused_while_one_holds_the_marker(tmp_path):
    import fcntl

    marker = tmp_path / ".pending"
    fd = os.open(marker, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(FileExistsError):
            atomic_write_files([(tmp_path / "a.txt", "new\n")], marker)
        assert not (tmp_path / "a.txt").exists()
    finally:
        os.close(fd)
