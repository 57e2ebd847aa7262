"""A bug in reprobox ends in its traceback and exit 70, never exit 1, which
says the job ran and said no (a crashed verify read as "NOT verified")."""

from __future__ import annotations

from fresh_python import run_python

SCRIPT = """
from reprobox import __main__, cli

def command(**_):
    print("partial", flush=True)
    [][1]  # a bug: IndexError

cli.app = command
__main__.main()
"""


def test_a_bug_gives_its_traceback_a_report_line_and_exit_70():
    done = run_python(SCRIPT)
    assert done.returncode == 70, (done.returncode, done.stderr)
    assert done.stdout == "partial\n"
    lines = done.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2] == "IndexError: list index out of range"
    assert lines[-1] == (
        "reprobox: error: a bug in reprobox (IndexError); please report it "
        "with the traceback above"
    )
