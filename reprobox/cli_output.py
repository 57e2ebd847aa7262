"""What reprobox prints: result lines on stdout, progress and warnings on stderr.

Every line goes out with tokens cut short (cut_tokens), so that a name, a
path or a line of training output never shows one on a terminal or in a CI
log; errors and warnings also cut passwords (_shown_line) and escape control
characters.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from reprobox.errors import escape_controls
from reprobox.shown_text import cut_tokens

# What the command line was asked for (--quiet, --debug, set by the app's
# options) and what the running command noted (what it finished, what a stop
# left; see cli_interrupts). One dict, shared by the cli modules: the output
# here reads quiet, and stderr_gone once stderr's reader went away.
_state = {"debug": False, "quiet": False}


def _to_stderr(text: str) -> None:
    """Print a line on stderr; once its reader is gone, print nothing more.

    A reader that went away (`reprobox run 2>&1 | head`) must not stop a build
    or kill a training run: the output is in the container log all the same.
    Every line goes out with tokens of published formats hidden, joined to
    other characters too (cut_tokens): a message that quotes what the user
    wrote (a name, a path, an image reference) or a line of the training's
    output must not show a terminal or CI log one. Progress lines named a
    project path with a token whole.
    """
    from reprobox.credential_lines import hide_published_tokens

    if _state.get("stderr_gone"):
        return
    try:
        typer.echo(hide_published_tokens(cut_tokens(text)), err=True)
    except OSError:  # EPIPE, or a full disk behind a redirect
        _state["stderr_gone"] = True


def echo(text: str, nl: bool = True) -> None:
    """Print a result line for people on stdout, tokens cut as errors cut them.

    A project or output path can hold a token joined to other characters
    (runs_ghp_.../): errors showed it cut, the result lines whole. --json
    output and the files printed whole (a manifest, a Dockerfile) go out as
    they are, for the programs that read them.
    """
    typer.echo(cut_tokens(text), nl=nl)


def say(message: str) -> None:
    """Print a progress line on stderr unless --quiet."""
    if not _state["quiet"]:
        _to_stderr(message)


def warn(message: str) -> None:
    """Print a warning on stderr, even with -q: a warning is never progress."""
    _to_stderr(f"reprobox: warning: {_shown_error(message)}")


def log_printer(prefix: str = "") -> Callable[[str], None] | None:
    """Return what prints live build or training output on stderr (None if -q)."""
    if _state["quiet"]:
        return None
    # The container's output is not ours: its escape sequences are shown, not run.
    return lambda line: _to_stderr(prefix + _printable(line))


def _printable(text: str) -> str:
    """Show control and bidi characters (a log's escape sequences) as \\xNN.

    An error may quote a training log or a file name: its bytes must not move
    the cursor, recolour or retitle the user's terminal.
    """
    return escape_controls(text, keep="\t\n")


def _one_line(text: str) -> str:
    """Show text on one line: control characters, line breaks too, as \\xNN."""
    return _printable(text).replace("\n", "\\x0a").replace("\t", "\\x09")


def _shown_error(text: str) -> str:
    """Return an error for the terminal: printable, and no password in it.

    A message quotes what the user typed (a registry, an engine address, an
    image reference), which can hold user:password@, and names paths that can
    hold a token joined to other characters (data/d_ghp_....csv): each is cut
    short (d_ghp_***) as a bare one is, in every error and warning.
    """
    return _printable(_shown_line(text))


def _shown_line(text: str) -> str:
    """Return a message with passwords and tokens cut, as errors show it."""
    from reprobox.lock.indexes import redact_message

    return cut_tokens(redact_message(text))
