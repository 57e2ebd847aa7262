"""A reader that ends before reprobox's output is written: exit 2, said once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "compare"))
from synthetic import record_data, write_record  # noqa: E402

from reprobox.errors import EXIT_USAGE  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte
    try:
        return subprocess.run(
            [sys.executable, "-m", "reprobox", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("what", ["help", "compare"])
def test_a_reader_gone_is_exit_2_with_one_line_not_a_silent_1(tmp_path, what):
    # bu 6: `reprobox compare r1 r2 | head -0` exited 1 (out of tolerance)
    # with nothing said: click ends a closed pipe that way.
    if what == "help":
        args = ["--help"]
    else:
        first = write_record(tmp_path / "runs", record_data("20240101T000000Z-aaaaaa"))
        second = write_record(tmp_path / "runs", record_data("20240101T000000Z-bbbbbb"))
        args = ["compare", str(first), str(second)]
    done = into_a_closed_pipe(*args)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr.splitlines() == [
        "reprobox: error: standard output was closed before reprobox wrote all "
        "of it (its reader ended); the files it wrote are whole (send the output "
        "to a file, or read all of it)"
    ]
