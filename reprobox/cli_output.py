"""What reprobox prints: result lines on stdout, progress and warnings on stderr.

Every line goes out with tokens cut short (_tokens_cut), so that a name, a
path or a line of training output never shows one on a terminal or in a CI
log; errors and warnings also cut passwords (_shown_line) and escape control
characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import typer

from reprobox.errors import escape_controls

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
    other characters too (_tokens_cut): a message that quotes what the user
    wrote (a name, a path, an image reference) or a line of the training's
    output must not show a terminal or CI log one. Progress lines named a
    project path with a token whole.
    """
    from reprobox.credential_lines import hide_published_tokens

    if _state.get("stderr_gone"):
        return
    try:
        typer.echo(hide_published_tokens(_tokens_cut(text)), err=True)
    except OSError:  # EPIPE, or a full disk behind a redirect
        _state["stderr_gone"] = True


def echo(text: str, nl: bool = True) -> None:
    """Print a result line for people on stdout, tokens cut as errors cut them.

    A project or output path can hold a token joined to other characters
    (runs_ghp_.../): errors showed it cut, the result lines whole. --json
    output and the files printed whole (a manifest, a Dockerfile) go out as
    they are, for the programs that read them.
    """
    typer.echo(_tokens_cut(text), nl=nl)


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

    return _tokens_cut(redact_message(text))


def _tokens_cut(text: str) -> str:
    """Return text with each token of a published format cut short, joined
    to other characters or percent-escaped too. Only tokens: a result table
    or a training's line such as `acc:top5@epoch` is shown as it is, where
    an error's user:password@ filter would cut it."""
    from reprobox.secret_shapes import hide_name_tokens

    return hide_name_tokens(_escaped_tokens_cut(text))


def _escaped_tokens_cut(text: str) -> str:
    """Show a word whose percent-escapes spell a token (%67hp_... is ghp_...,
    %2567hp_... too) decoded, with the token cut short: the filter found plain
    tokens only. Decoded as the index URL check decodes (percent_decodings)."""
    from reprobox.index_urls import percent_decodings
    from reprobox.secret_shapes import hide_name_tokens

    def cut(match: re.Match[str]) -> str:
        word = match.group()
        decoded = percent_decodings(word)[-1]
        hidden = hide_name_tokens(decoded)
        # A value shortened to fit (…) can end in half an escape, which no
        # decoding reads: "ghp_***%…" said nothing the cut did not.
        return re.sub(r"%[0-9A-Fa-f]?…", "…", hidden) if hidden != decoded else word

    return re.sub(r"[^\s'\"]*%[0-9A-Fa-f]{2}[^\s'\"]*", cut, text)
