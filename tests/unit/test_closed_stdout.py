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


def test_stdout_closed_at_start_is_exit_2_not_a_lost_result(tmp_path):
    # bv 6: `reprobox compare ... >&-` exited 0, its result written nowhere.
    first = write_record(tmp_path / "runs", record_data("20240101T000000Z-aaaaaa"))
    write_record(tmp_path / "runs", record_data("20240101T000000Z-bbbbbb"))
    done = subprocess.run(
        [sys.executable, "-m", "reprobox", "compare", str(first.parent.parent)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=lambda: os.close(1),
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr.startswith("reprobox: error: standard output was closed")


def test_leave_ends_the_process_whatever_a_stream_s_flush_raises(monkeypatch):
    # bv 3: with stderr closed at start, click wraps None; its flush raised
    # AttributeError out of leave, and Python's own exit made it 120.
    from reprobox import stopping

    class Wrapped:
        def flush(self):
            raise AttributeError("'NoneType' object has no attribute 'flush'")

    class Exited(Exception):
        pass

    def exit_(code):
        raise Exited(code)

    monkeypatch.setattr(sys, "stdout", Wrapped())
    monkeypatch.setattr(sys, "stderr", Wrapped())
    monkeypatch.setattr(os, "_exit", exit_)
    monkeypatch.setattr(stopping.signal, "pthread_sigmask", lambda *a: None)
    monkeypatch.setattr(stopping.signal, "sigpending", lambda: set())
    with pytest.raises(Exited) as info:
        stopping.leave(2)
    assert info.value.args == (2,)


@pytest.mark.parametrize("args", [["compare", "/nonexistent"], ["--bogus"]])
def test_an_error_stderr_cannot_take_keeps_its_exit_code(args):
    # bx 2: with stderr on a full disk, a bad input exited 1 ("the job said
    # no") through Python's own error: writing the error line failed.
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "reprobox", *args],
            stdout=subprocess.DEVNULL,
            stderr=full,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
            check=False,
        )
    assert done.returncode == EXIT_USAGE


def test_a_full_standard_output_is_named_as_such(tmp_path):
    # brk r36 (AV 7): `compare --json > /dev/full` said "No space left on
    # device (free space there, ...)", naming no "there".
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    first = write_record(tmp_path / "runs", record_data("20240101T000000Z-aaaaaa"))
    second = write_record(tmp_path / "runs", record_data("20240101T000000Z-bbbbbb"))
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "reprobox",
                "compare",
                "--json",
                str(first),
                str(second),
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
            check=False,
        )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr.splitlines() == [
        "reprobox: error: standard output: No space left on device (free space "
        "there, then run this again)"
    ]
