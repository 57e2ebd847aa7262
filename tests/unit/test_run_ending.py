"""training_error: the record's error for each way a training can end."""

from __future__ import annotations

import pytest

from reprobox.run_ending import GPU_MISSING_EXIT, training_error

LINES = ["epoch 1", "epoch 2"]


def test_a_clean_exit_has_no_error():
    assert training_error(0, False, LINES) is None


@pytest.mark.parametrize(
    ("exit_code", "oom", "message"),
    [
        (GPU_MISSING_EXIT, False, "GPUs were requested but the framework saw none"),
        (137, False, "killed (exit 137)"),
        (137, True, "killed (exit 137, out of memory)"),
        (1, True, "killed (exit 1, out of memory)"),
        (3, False, "training command exited with 3"),
    ],
)
def test_each_ending_is_named_with_the_log_tail(exit_code, oom, message):
    assert training_error(exit_code, oom, LINES) == {
        "message": message,
        "log_tail": "epoch 1\nepoch 2",
    }


def test_a_write_refused_under_app_says_where_outputs_go():
    denied = "PermissionError: [Errno 13] Permission denied: 'out.csv'"
    error = training_error(1, False, [*LINES, denied])
    assert error is not None
    assert error["message"].startswith("training command exited with 1 (it was")
    assert "$REPROBOX_OUT" in error["message"]
