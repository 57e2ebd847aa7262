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
