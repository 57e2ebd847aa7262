"""An import marker that is a link, through the real CLI.

brk r43 (BH F3): an import marker that was a link (to a file, to nowhere, to a
marker-shaped file) was never removed; one in .reprobox/pushing/ was.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import REPO, reprobox_argv

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_an_import_marker_that_is_a_link_is_removed_its_target_kept(
    cli, engine_cleanup, tmp_path
):
    project, _, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    markers = tmp_path / "state" / "reprobox" / "importing"
    markers.mkdir(parents=True)
    target = tmp_path / "someone-elses.json"
    target.write_text('{"keep": true}\n')
    link = markers / "1-ab.json"
    link.symlink_to(target)
    env = {**cli.env(), "XDG_STATE_HOME": str(tmp_path / "state")}

    done = subprocess.run(
        reprobox_argv("build", str(project)),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"removed damaged import marker {link} (a link)" in done.stderr
    assert f"up to date, not rebuilt: {tag}" in done.stdout
    assert not os.path.lexists(link)
    assert target.read_text() == '{"keep": true}\n'
