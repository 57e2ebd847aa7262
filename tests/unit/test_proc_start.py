"""Ctrl-C as a child process starts: between fork and exec both sides run
Python (fork hooks, the prctl call).

Each case runs in its own Python: fork hooks cannot be taken back.
"""

from __future__ import annotations

import signal

from fresh_python import run_python

_python = run_python


def test_ctrl_c_in_the_child_before_exec_ends_it_quietly():
    # The fork hooks run Python in the child; a signal there printed
    # "Exception ignored" on reprobox's stderr and the child ran on.
    result = _python(
        """
        import os, signal
        from reprobox.proc import run_command

        os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGINT))
        done = run_command(["echo", "ran"], check=False)
        print(done.returncode, repr(done.stdout))
        """
    )
    assert (result.stdout, result.stderr) == (f"{-signal.SIGINT} ''\n", "")


def test_ctrl_c_as_a_child_starts_interrupts_reprobox_and_stops_the_child():
    # reprobox's own fork hooks swallowed it: the command went on to the end.
    result = _python(
        """
        import os, signal, time
        from reprobox.proc import run_command

        os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGINT))
        start = time.monotonic()
        try:
            run_command(["sleep", "20"])
        except KeyboardInterrupt:
            print("interrupted after", round(time.monotonic() - start), "s")
        """
    )
    assert (result.stdout, result.stderr) == ("interrupted after 0 s\n", "")
