"""Links where a run is named: refused by name, exit 2, never skipped or followed."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def quick_run(cli, project) -> str:
    """Run the sleeper project without its sleep; return the run's id."""
    done = cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", "--json")
    record = json.loads(done.stdout)
    assert record["status"] == "succeeded", done.describe()
    return record["run_id"]


def one_error_line(done) -> str:
    assert done.returncode == 2, done.describe()
    assert "Traceback" not in done.stderr, done.describe()
    [line] = done.stderr.splitlines()
    return line


def test_links_in_a_real_runs_folder_are_refused_by_name(cli, engine_cleanup, tmp_path):
    # AZ 3: a run whose record.json led to another run's in the same folder
    # was dropped (exit 0), a run-named broken link was skipped, and a run
    # folder linked from elsewhere was read through.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    runs = project / ".reprobox" / "runs"
    first, second = quick_run(cli, project), quick_run(cli, project)
    assert cli.run("compare", str(runs), check=False).returncode == 1  # no metric

    linked = runs / "20990101T000000Z-dddddd" / "record.json"
    linked.parent.mkdir()
    linked.symlink_to(runs / first / "record.json")
    assert one_error_line(cli.run("-q", "compare", str(runs), check=False)) == (
        f"reprobox: error: {linked}: is a symbolic link; run records are read only "
        "as regular files, never through a link (move that run folder out of the "
        "runs folder, or give the runs you mean one by one)"
    )
    shutil.rmtree(linked.parent)

    moved = tmp_path / "elsewhere" / second
    moved.parent.mkdir()
    shutil.move(runs / second, moved)
    for target in (moved, tmp_path / "gone"):
        (runs / second).symlink_to(target)
        nowhere = "" if target.exists() else " that leads nowhere"
        line = one_error_line(cli.run("-q", "compare", str(runs), check=False))
        assert line == (
            f"reprobox: error: {runs / second}: is a symbolic link{nowhere}; a run "
            "folder is read only as itself, never through a link (remove the link "
            "from the runs folder: a run is read from its own folder there, or "
            "given by its own path)"
        )
        (runs / second).unlink()

    named = tmp_path / "named-run"
    named.symlink_to(moved)
    line = one_error_line(
        cli.run("-q", "compare", str(runs / first), str(named), check=False)
    )
    assert line == (
        f"reprobox: error: {named}: is a symbolic link; a run folder is read only "
        "as itself, never through a link (give the run folder it points to, or "
        "leave this run out)"
    )
    # The run's own folders, given by their own paths, compare.
    done = cli.run("compare", str(runs / first), str(moved), check=False)
    assert done.returncode == 1 and "reprobox: error" not in done.stderr
