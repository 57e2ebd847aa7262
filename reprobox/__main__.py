"""`python -m reprobox` and the `reprobox` command start here.

The CLI takes a moment to import (typer, the docker SDK); a Ctrl-C in that
moment (or a SIGTERM) is still an interruption, not a traceback or a kill.
The process ends through stopping.leave, so that a signal as it ends still
gives exit 130.
"""

import sys

# Nothing else is imported before main() runs: until its try, a Ctrl-C is
# Python's traceback (traceback itself took 13 ms to import, most of the
# window; it is imported only for a bug's traceback).


def main() -> None:
    """Load the CLI and run it; Ctrl-C while loading exits 130 quietly."""
    try:
        from reprobox import stopping
    except KeyboardInterrupt:
        sys.stderr.write("reprobox: interrupted\n")
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
        sys.stderr.write("reprobox: interrupted\n")
        code = 130
    except BaseException as exc:  # noqa: BLE001 - a bug: its traceback, then exit 1
        if stopping.raised_by_a_stop(exc):
            sys.stderr.write("reprobox: interrupted\n")
            code = 130
        else:
            import traceback

            traceback.print_exc()
            code = 1
    stopping.leave(code)


if __name__ == "__main__":
    main()
