"""`python -m reprobox` and the `reprobox` command start here.

The CLI takes a moment to import (typer, the docker SDK); a Ctrl-C in that
moment (or a SIGTERM) is still an interruption, not a traceback or a kill.
The process ends through stopping.leave, so that a signal as it ends still
gives exit 130.
"""

import os
import sys

# Nothing else is imported before main() runs: until its try, a Ctrl-C is
# Python's traceback (traceback itself took 13 ms to import, most of the
# window; it is imported only for a bug's traceback). os and sys are loaded
# with the interpreter.


def _say_interrupted() -> None:
    # To fd 2, not sys.stderr: that is None when reprobox starts with `2>&-`.
    # try/except, not contextlib.suppress: contextlib is not loaded yet here.
    # stopping.INTERRUPTED_LINE, written out: stopping may be what was cut.
    try:  # noqa: SIM105
        os.write(2, b"reprobox: error: interrupted; nothing was half-written\n")
    except OSError:
        pass


def main() -> None:
    """Load the CLI and run it; Ctrl-C while loading exits 130 quietly."""
    try:
        from reprobox import stopping
    except KeyboardInterrupt:
        _say_interrupted()
        sys.exit(130)
    # Before the CLI's imports (typer, a tenth of a second): a SIGTERM there
    # killed reprobox outright (143), and Python can drop a Ctrl-C there.
    stopping.install_handlers()
    stopping.catch_dropped_stops()
    try:
        from reprobox.cli import main as cli_main

        cli_main(then_leave=True)
        code = 0
    except SystemExit as exc:
        code = stopping.exit_status(exc.code)
    except KeyboardInterrupt:
        _say_interrupted()
        code = 130
    except BaseException as exc:  # noqa: BLE001 - a bug: its traceback, then exit 1
        if stopping.raised_by_a_stop(exc):
            _say_interrupted()
            code = 130
        else:
            import traceback

            try:  # noqa: SIM105 - contextlib may not be loaded yet
                traceback.print_exc()
            except OSError:  # stderr on a full disk, or closed
                pass
            code = 1
    stopping.leave(code)


if __name__ == "__main__":
    main()
