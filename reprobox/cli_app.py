"""The reprobox app: its options that come before the command, and the
arguments and options the commands share.

The commands register themselves on `app` from their own modules
(cli_freeze, cli_build, cli_run, ...); reprobox.cli imports them all.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from reprobox import __version__
from reprobox.cli_output import _state
from reprobox.errors import InputError

app = typer.Typer(
    name="reprobox",
    help="Freeze, build, run and cross-check ML training setups in Docker.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold [brackets] meant literally
    context_settings={"help_option_names": ["-h", "--help"]},
)

ProjectArg = typer.Argument(Path("."), help="Project folder (holds reprobox.toml).")
HostOpt = typer.Option(
    None, "--host", "-H", help="Docker engine URL: unix://, tcp:// or ssh://."
)
ContextOpt = typer.Option(None, "--context", help="Docker context name.")
CaCertOpt = typer.Option(
    None, "--ca-cert", help="CA bundle the build trusts (e.g. a proxy's)."
)
JsonOpt = typer.Option(False, "--json", help="Print the result as JSON on stdout.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reprobox {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        help="More detail on stderr (-vv for debug).",
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress or live logs on stderr: only warnings and errors.",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    """Freeze, build, run and cross-check ML training setups in Docker."""
    if quiet and verbose:
        raise InputError(
            "-q asks for less output and -v for more; they cannot both hold",
            hint="give one of them",
        )
    level = logging.WARNING - 10 * verbose
    if quiet:
        level = logging.ERROR
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        stream=sys.stderr,
        format="reprobox: %(message)s",
    )
    _state.update(debug=debug, quiet=quiet)
