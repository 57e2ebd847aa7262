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


@pytest.mark.parametrize("name", ["requirements.lock", "Dockerfile"])
def test_every_command_refuses_a_frozen_file_that_is_no_regular_file(
    cli, engine_cleanup, tmp_path, name
):
    # brk r42 (BF 1): freeze refused a FIFO lock or Dockerfile; build, run,
    # push and export blocked on it forever (a link to /dev/zero was read
    # until memory ran out).
    project, name_, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    target = project / ".reprobox" / name
    kept = target.read_bytes()
    target.unlink()
    if name == "requirements.lock":
        os.mkfifo(target)
        what = "lock is a FIFO (named pipe)"
    else:
        target.symlink_to("/dev/zero")
        what = "Dockerfile is a character device"
    said = (
        f"reprobox: error: {target}: {what}, not a file reprobox wrote (move it "
        f"away, then run `reprobox freeze {project}` again)"
    )
    for argv in (
        ("build", str(project)),
        ("run", str(project)),
        ("export", str(project), "-o", str(tmp_path / "b.tar")),
        ("push", str(project), "--registry", "127.0.0.1:5000"),
    ):
        done = cli.run("-q", *argv, timeout=120, check=False)
        assert done.returncode == 2, done.describe()
        assert done.stderr.splitlines() == [said], done.describe()
    assert engine_cleanup.containers(name_) == []
    assert not (tmp_path / "b.tar").exists()
    target.unlink()
    target.write_bytes(kept)
    cli.run("-q", "build", str(project), timeout=600)  # whole again
