"""Push markers made odd: a FIFO is removed unread, a linked folder refused.

brk r42 (BE 3, 4): a FIFO in .reprobox/pushing/ blocked build for ever; a
pushing/ folder that was a link had every *.json where it led removed.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.integration


def test_a_fifo_push_marker_is_removed_by_build_not_waited_on(
    cli, engine_cleanup, tmp_path
):
    project, _, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    folder = project / ".reprobox" / "pushing"
    folder.mkdir()
    os.mkfifo(folder / "x.json")
    done = cli.run("build", str(project), timeout=120, check=False)
    assert done.returncode == 0, done.describe()
    assert f"removed damaged push marker {folder / 'x.json'}" in done.stderr
    assert f"up to date, not rebuilt: {tag}" in done.stdout
    assert list(folder.iterdir()) == []


def test_a_pushing_folder_that_is_a_link_is_refused_and_its_target_kept(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "config.json").write_text('{"keep": true}\n')
    (theirs / "notes.json").write_text("not a marker\n")
    folder = project / ".reprobox" / "pushing"
    folder.symlink_to(theirs)
    done = cli.run("-q", "build", str(project), timeout=120, check=False)
    assert done.returncode == 2, done.describe()
    assert done.stderr.splitlines() == [
        f"reprobox: error: {folder}: push marker folder is a link, not a folder "
        "reprobox made (move it away, then run the command again)"
    ], done.describe()
    assert (theirs / "config.json").read_text() == '{"keep": true}\n'
    assert (theirs / "notes.json").read_text() == "not a marker\n"
    # Refused before anything was built.
    assert docker_client.images.list(name=f"reprobox/{name}") == []


def test_a_damaged_push_marker_is_said_under_q_as_it_is_removed(
    cli, engine_cleanup, tmp_path
):
    # brk r49 (BR 5): `-q build` removed `{bad` in .reprobox/pushing/ and said
    # nothing, where every other damaged .reprobox/ file is named.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    folder = project / ".reprobox" / "pushing"
    folder.mkdir()
    (folder / "999-zzzz.json").write_text("{bad")
    done = cli.run("-q", "build", str(project), timeout=120, check=False)
    assert done.returncode == 0, done.describe()
    assert done.stderr.splitlines() == [
        f"reprobox: warning: removed damaged push marker {folder / '999-zzzz.json'}"
    ], done.describe()
    assert list(folder.iterdir()) == []
