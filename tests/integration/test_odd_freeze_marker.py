"""A FIFO at .reprobox/.freeze.pending: build and freeze name it, nothing hangs.

brk r42 (BE 2): build blocked on it for ever; freeze said "Illegal seek" and
told the user to free space.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.integration


def test_a_fifo_freeze_marker_is_named_by_build_and_freeze(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    marker = project / ".reprobox" / ".freeze.pending"
    os.mkfifo(marker)
    said = (
        f"reprobox: error: {marker}: freeze marker is a FIFO (named pipe), not a "
        f"file reprobox wrote (move it away, then run `reprobox freeze {project}` "
        "again)"
    )
    for argv in (("build", str(project)), ("freeze", str(project))):
        done = cli.run("-q", *argv, timeout=120, check=False)
        assert done.returncode == 2, done.describe()
        assert done.stderr.splitlines() == [said], done.describe()
    marker.unlink()  # the fix: move it away, freeze again
    cli.run("-q", "freeze", str(project), timeout=600)
    assert not os.path.lexists(marker)
