"""`python -m reprobox` and the `reprobox` command start here.

The CLI takes a moment to import (typer, the docker SDK); a Ctrl-C in that
moment is still an interruption, not a traceback. The process ends through
stopping.leave, so that a signal as it ends still gives exit 130.
"""

import sys
import traceback


def main() -> None:
    """Load the CLI and run it; Ctrl-C while loading exits 130 quietly."""
    try:
        from reprobox.cli import main as cli_main
        from reprobox.stopping import exit_status, leave
    except KeyboardInterrupt:
        sys.stderr.write("reprobox: interrupted\n")
        sys.exit(130)
    try:
        cli_main(then_leave=True)
        code = 0
    except SystemExit as exc:
        code = exit_status(exc.code)
    except KeyboardInterrupt:
        sys.stderr.write("reprobox: interrupted\n")
        code = 130
    except BaseException:  # noqa: BLE001 - a bug: its traceback, then exit 1
        traceback.print_exc()
        code = 1
    leave(code)


if __name__ == "__main__":
    main()
