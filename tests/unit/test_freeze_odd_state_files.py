"""freeze refuses a manifest, lock or Dockerfile that is no regular file.

brk r41 (BD 1): a FIFO at .reprobox/manifest.json made freeze block forever
after the lock (it read the old manifest for `published`), and a link to
/dev/zero never ended; build, run, push and export refused both at once and
told the user to run freeze again.
"""

from __future__ import annotations

import os

import pytest
from fresh_python import run_reprobox

from reprobox.errors import InputError
from reprobox.manifest import refuse_odd_file


@pytest.mark.parametrize("name", ["manifest.json", "requirements.lock", "Dockerfile"])
@pytest.mark.parametrize("make", ["fifo", "devzero", "folder"])
def test_freeze_refuses_a_state_file_that_is_no_regular_file(six_project, name, make):
    state = six_project / ".reprobox"
    state.mkdir(exist_ok=True)
    target = state / name
    if make == "fifo":
        os.mkfifo(target)
    elif make == "devzero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    result = run_reprobox("-q", "freeze", str(six_project))  # has a timeout
    assert result.returncode == 2, result.stderr
    kind = {"manifest.json": "manifest", "requirements.lock": "lock"}.get(
        name, "Dockerfile"
    )
    what = {
        "fifo": "a FIFO (named pipe)",
        "devzero": "a character device",
        "folder": "a folder",
    }[make]
    assert result.stderr.splitlines() == [
        f"reprobox: error: {target}: {kind} is {what}, not a file reprobox wrote "
        f"(move it away, then run `reprobox freeze {six_project}` again)"
    ]
    assert target.is_symlink() or not target.is_file()  # left as it was


def test_a_missing_or_regular_file_passes(tmp_path):
    refuse_odd_file(tmp_path / "none.json", "manifest")
    (tmp_path / "m.json").write_text("{}")
    refuse_odd_file(tmp_path / "m.json", "manifest")
    os.mkfifo(tmp_path / "p.json")
    with pytest.raises(InputError):
        refuse_odd_file(tmp_path / "p.json", "manifest")


@pytest.mark.parametrize("make", ["fifo", "devzero", "folder"])
def test_a_frozen_file_read_for_a_build_that_is_no_regular_file_is_refused(
    tmp_path, make
):
    # brk r42 (BF 1): freeze refused these, but build, run, push and export
    # read the lock and Dockerfile as they were: a FIFO blocked them forever
    # and a link to /dev/zero was read until memory ran out.
    from reprobox.manifest import _read_frozen

    target = tmp_path / "requirements.lock"
    if make == "fifo":
        os.mkfifo(target)
    elif make == "devzero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    with pytest.raises(InputError) as info:
        _read_frozen(target, "lock", "0" * 64, tmp_path, "freeze again")
    assert str(info.value).startswith(f"{target}: lock is a")
    assert "not a file reprobox wrote" in str(info.value)
    assert (
        info.value.hint == f"move it away, then run `reprobox freeze {tmp_path}` again"
    )


def test_freeze_dry_run_refuses_an_odd_lock_as_freeze_does(six_project):
    # brk r42 (BF 1): --dry-run showed a freeze that the real one refuses.
    state = six_project / ".reprobox"
    state.mkdir(exist_ok=True)
    os.mkfifo(state / "requirements-vcs.txt")
    result = run_reprobox("-q", "freeze", "--dry-run", str(six_project))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"reprobox: error: {state / 'requirements-vcs.txt'}: git requirements lock "
        "is a FIFO (named pipe), not a file reprobox wrote (move it away, then run "
        f"`reprobox freeze {six_project}` again)"
    ]
