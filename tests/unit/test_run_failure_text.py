"""What a failed run's record says: the log tail and the hint on writes to /app."""

from __future__ import annotations

import pytest

from reprobox.container_files import TAIL_LINE_CHARS, tail_text
from reprobox.run_ending import write_denied_hint


def test_the_tail_keeps_the_last_lines_each_cut_short():
    lines = [f"line {i}" for i in range(30)] + ["y" * 5_000_000]
    tail = tail_text(lines).splitlines()
    assert len(tail) == 20
    assert tail[0] == "line 11"
    assert len(tail[-1]) == TAIL_LINE_CHARS and tail[-1].endswith("…")


@pytest.mark.parametrize(
    "line, hinted",
    [
        ("PermissionError: [Errno 13] Permission denied: 'outputs'", True),
        ("PermissionError: [Errno 13] Permission denied: '/app/model.h5'", True),
        ("OSError: [Errno 30] Read-only file system: 'ckpt/1'", True),
        ("PermissionError: [Errno 13] Permission denied: '/etc/shadow'", False),
        ("PermissionError: [Errno 13] Permission denied: '/application'", False),
        ("loss became NaN", False),
    ],
)
def test_a_refused_write_in_the_working_folder_points_at_reprobox_out(line, hinted):
    hint = write_denied_hint(["epoch 1", line])
    assert ("$REPROBOX_OUT" in hint) is hinted
