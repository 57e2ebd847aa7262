"""A project's build context is staged at one path per project, held by one build."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reprobox.context_folder import (
    CONTEXT_PREFIX,
    context_folder,
    project_folder,
    remove_stale_contexts,
)


@pytest.fixture
def temp(monkeypatch, tmp_path) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_each_project_has_its_own_path_and_keeps_it(temp, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert project_folder(one) == project_folder(one)
    assert project_folder(one) != project_folder(two)
    assert project_folder(one).parent == temp
    # The same project reached through another spelling of its path.
    assert project_folder(tmp_path / "one" / ".." / "one") == project_folder(one)


def test_the_folder_is_the_projects_empty_private_one_and_goes_after(temp, tmp_path):
    with context_folder(tmp_path / "p") as folder:
        assert folder == project_folder(tmp_path / "p")
        assert list(folder.iterdir()) == []
        assert folder.stat().st_mode & 0o777 == 0o700
        (folder / "app").mkdir()
        (folder / "app" / "x").write_text("x")
    assert list(temp.iterdir()) == []


def test_what_a_killed_build_left_is_emptied_first(temp, tmp_path):
    left = project_folder(tmp_path / "p")
    (left / "app" / "deep").mkdir(parents=True)
    (left / "old.bin").write_bytes(b"old")
    os.symlink("/etc", left / "link")
    left.chmod(0o755)
    with context_folder(tmp_path / "p") as folder:
        assert folder == left
        assert list(folder.iterdir()) == []
        assert folder.stat().st_mode & 0o777 == 0o700
    assert os.path.isdir("/etc")
    assert list(temp.iterdir()) == []


def test_a_second_build_of_the_project_meanwhile_stages_apart(temp, tmp_path):
    with context_folder(tmp_path / "p") as first:
        (first / "mine").write_text("first")
        with context_folder(tmp_path / "p") as second:
            assert second != first
            assert second.name.startswith(f"{CONTEXT_PREFIX}{os.getpid()}-")
            assert list(second.iterdir()) == []
        assert (first / "mine").read_text() == "first"  # left alone
    assert list(temp.iterdir()) == []


def test_a_link_by_that_name_is_not_followed(temp, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_text("keep")
    os.symlink(target, project_folder(tmp_path / "p"))
    with context_folder(tmp_path / "p") as folder:
        assert folder.parent == temp and not folder.is_symlink()
        assert folder != project_folder(tmp_path / "p")
    assert (target / "keep").read_text() == "keep"
    assert remove_stale_contexts() == []
    assert (target / "keep").read_text() == "keep"


@pytest.mark.skipif(os.getuid() != 0, reason="making another user's folder needs root")
def test_another_users_folder_by_that_name_is_not_used(temp, tmp_path):
    theirs = project_folder(tmp_path / "p")
    theirs.mkdir(mode=0o777)
    os.chown(theirs, 65534, 65534)
    with context_folder(tmp_path / "p") as folder:
        assert folder != theirs
    assert theirs.is_dir()
    assert remove_stale_contexts() == []
    assert theirs.is_dir()


def test_stale_folders_go_but_held_ones_stay(temp, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = project_folder(tmp_path / "killed")
    (left / "app").mkdir(parents=True)
    old_pid = temp / f"{CONTEXT_PREFIX}{dead.pid}-abc123"
    old_pid.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, tempfile; from pathlib import Path\n"
            f"tempfile.tempdir = {str(temp)!r}\n"
            "from reprobox.context_folder import context_folder\n"
            f"with context_folder(Path({str(tmp_path / 'busy')!r})) as f:\n"
            "    print(f, flush=True); sys.stdin.readline()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        busy = Path(holder.stdout.readline().strip())
        assert busy == project_folder(tmp_path / "busy")
        assert remove_stale_contexts() == sorted([left.name, old_pid.name])
        assert sorted(p.name for p in temp.iterdir()) == [busy.name]
    finally:
        holder.communicate("\n", timeout=30)
    assert list(temp.iterdir()) == []


def test_any_engine_command_sweeps_a_killed_build_s_context(tmp_path, monkeypatch):
    # by 1: a SIGKILLed build's folder stayed until that project was built
    # again: an up-to-date build stages nothing, so it never swept.
    import tempfile

    from reprobox import cli

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    left = tmp_path / "reprobox-context-of-0123456789abcdef"
    (left / "app").mkdir(parents=True)
    left.chmod(0o700)
    cli.tidy_killed_imports(object())  # no import markers: the engine is not asked
    assert not left.exists()
