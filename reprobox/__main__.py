"""`python -m reprobox` and the `reprobox` command start here.

The CLI takes a moment to import (typer, the docker SDK); a Ctrl-C in that
moment is still an interruption, not a traceback.
"""

import sys


def main() -> None:
    """Load the CLI and run it; Ctrl-C while loading exits 130 quietly."""
    try:
        from reprobox.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("reprobox: interrupted\n")
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
