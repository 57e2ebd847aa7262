"""Run locks that are no regular files, through the real CLI.

brk r43 (BH F2): a FIFO run lock was taken as free and deleted without a
word; a folder, link or socket left its record running for good, unsaid.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from reprobox.atomic import dump_json

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

RID = "20260101T000001Z-0000aa"


def test_a_fifo_run_lock_is_warned_of_and_kept_then_moved_away_closes_the_run(
    cli, engine_cleanup, tmp_path
):
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    runs = project / ".reprobox" / "runs"
    (runs / RID).mkdir(parents=True)
    record_path = runs / RID / "record.json"
    record_path.write_text(
        dump_json({"run_id": RID, "status": "running", "project": name})
    )
    lock = runs / f".{RID}.lock"
    os.mkfifo(lock)

    done = cli.run("-q", "build", str(project), timeout=300, check=False)
    assert done.returncode == 0, done.describe()
    assert done.stderr.splitlines() == [
        f"reprobox: warning: {lock}: run lock is a FIFO (named pipe), not a file "
        f"reprobox wrote: left as it is, and so are run {RID}'s record and "
        "container (move it away; the next `reprobox run`, `build` or `push` "
        "then closes that record as interrupted if it still says running, with "
        "the container's output as its log)"
    ], done.describe()
    assert stat.S_ISFIFO(os.lstat(lock).st_mode)
    assert json.loads(record_path.read_text())["status"] == "running"

    lock.rename(tmp_path / "moved-away")
    done = cli.run("build", str(project), timeout=300, check=False)
    assert done.returncode == 0, done.describe()
    # brk r45 (BL F4): said as the record says it, not "killed, or its disk
    # was full".
    assert (
        f"marked run {RID} interrupted: the reprobox that ran it ended without "
        "closing its record, and its lock file is gone (removed by hand, or the "
        "run folder was copied here)"
    ) in done.stderr.splitlines(), done.describe()
    assert f"up to date, not rebuilt: {tag}" in done.stdout
    record = json.loads(record_path.read_text())
    assert record["status"] == "interrupted"
    assert "its lock file is gone" in record["error"]["message"]
    assert not os.path.lexists(lock)


def test_compare_says_a_running_record_is_of_a_live_run(
    cli, engine_cleanup, tmp_path
):
    # brk r45 (BK 4), r46 (BN 6): compare said "still going, or killed" and
    # "the next run closes it" for a live run and for one behind a FIFO lock.
    import signal
    import subprocess
    import time

    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    runs = project / ".reprobox" / "runs"
    cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", timeout=300)
    live = cli.start(
        "-q",
        "run",
        str(project),
        "--env",
        "SLEEPER_SECONDS=60",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            running = [
                p.parent.name
                for p in runs.glob("*/record.json")
                if json.loads(p.read_text()).get("status") == "running"
            ]
            if running:
                break
            assert time.monotonic() < deadline, "no running record after 120 s"
            time.sleep(0.2)
        done = cli.run("compare", str(runs), check=False)
    finally:
        live.send_signal(signal.SIGINT)
        live.wait(timeout=120)
    assert (
        f"run {running[0]} has status running (its reprobox holds the run lock: "
        "the run is still going)"
    ) in done.stdout, done.describe()
