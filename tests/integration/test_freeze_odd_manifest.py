"""A frozen project whose manifest became a FIFO: freeze says so and stops.

brk r41 (BD 1): build, run, push and export refused such a manifest and said
to run freeze again; freeze then blocked forever reading it.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.integration


def test_freeze_over_a_fifo_manifest_is_refused_and_the_build_still_is(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    manifest = project / ".reprobox" / "manifest.json"
    manifest.unlink()
    os.mkfifo(manifest)
    fix = f"(move it away, then run `reprobox freeze {project}` again)"
    said = (
        f"reprobox: error: {manifest}: manifest is a FIFO (named pipe), not a "
        f"file reprobox wrote {fix}"
    )
    for argv in (("freeze", str(project)), ("build", str(project))):
        done = cli.run("-q", *argv, timeout=120, check=False)
        assert done.returncode == 2, done.describe()
        assert done.stderr.splitlines() == [said], done.describe()
    manifest.unlink()  # the fix: move it away, freeze again
    cli.run("-q", "freeze", str(project), timeout=600)
    assert manifest.is_file()
