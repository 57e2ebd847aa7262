"""A run the engine killed is not told its script may have ended with os._exit."""

from __future__ import annotations

import json
import time

import pytest

from reprobox import run_ending

GUESS = "did the script end with os._exit?"


def finish(tmp_path, *, exit_code, killed):
    """Finish a failed run whose hook wrote only its start capture; return warnings."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # At start the hook writes the machine's facts; Python's come at exit.
    start = {"machine_cpu": {"arch": "x86_64"}}
    (run_dir / "capture.json").write_text(json.dumps(start))
    record: dict = {}
    run_ending.finish_record(
        record,
        run_dir,
        time.time(),
        hide=lambda text: text,
        status="failed",
        exit_code=exit_code,
        error={"message": "failed", "log_tail": ""},
        killed=killed,
    )
    return record["warnings"]


def test_an_out_of_memory_kill_drops_the_guess(tmp_path):
    assert not any(GUESS in w for w in finish(tmp_path, exit_code=137, killed=True))


def test_a_script_that_exits_by_itself_keeps_the_guess(tmp_path):
    warnings = finish(tmp_path, exit_code=3, killed=False)
    assert any(GUESS in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("code", "killed"),
    [(137, True), (143, True), (139, True), (0, False), (1, False), (128, False)],
)
def test_exit_codes_above_128_name_a_signal(code, killed):
    assert run_ending.killed_by_signal(code) is killed
