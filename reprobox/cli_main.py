"""Running the app: what a command raised becomes one line and an exit code.

The exit codes are those reprobox.cli lists (errors.EXIT_*). A traceback is
shown only with --debug, or for a bug.
"""

from __future__ import annotations

import errno
import io
import sys
import traceback

import typer

from reprobox.cli_options import _ClickException, _UsageError
from reprobox.cli_output import (
    _one_line,
    _printable,
    _shown_error,
    _state,
    _to_stderr,
)
from reprobox.errors import (
    EXIT_BUG,
    EXIT_ENGINE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ReproboxError,
)
from reprobox.stopping import (
    INTERRUPTED,
    command_over,
    install_handlers,
    raised_by_a_stop,
    restore_handlers,
    say_stdout_gone,
)


def run_command_line(app: typer.Typer, *, then_leave: bool = False) -> None:
    """Run app; turn reprobox errors into one line and an exit code.

    SIGTERM, SIGHUP (a closed terminal) and Ctrl-\\ stop a command as Ctrl-C
    does. then_leave says the process ends right after, through
    stopping.leave, which needs the handlers kept; otherwise (the CLI run
    in-process) they are put back as they were.
    """
    previous = install_handlers()
    try:
        _run_app(app)
    finally:
        if not then_leave:
            restore_handlers(previous)


def _run_app(app: typer.Typer) -> None:
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        sys.stdout = _ClosedStdout()
    try:
        try:
            code = app(prog_name="reprobox", standalone_mode=False)
        finally:
            command_over()
    except SystemExit as exc:
        if exc.code == 1 and _stdout_gone():
            # click turns a write to a closed pipe (`reprobox compare | head
            # -0`) into a silent exit 1, which says the job said no.
            say_stdout_gone()
            sys.exit(EXIT_USAGE)
        raise
    except _UsageError as exc:
        if exc.ctx is not None and exc.message == exc.ctx.get_help():
            exc.show()  # `reprobox` alone: the help, as asked for
        else:
            _to_stderr(f"reprobox: error: {usage_error_line(exc)}")
        sys.exit(EXIT_USAGE)
    except _ClickException as exc:  # typer's other input errors (a file option)
        _to_stderr(f"reprobox: error: {_one_line(exc.format_message())}")
        sys.exit(EXIT_USAGE)
    except typer.Abort:  # Ctrl-C outside a command, or end of input at a prompt
        _to_stderr(f"reprobox: error: {INTERRUPTED}")
        sys.exit(EXIT_INTERRUPTED)
    except ReproboxError as exc:
        if _state["debug"]:
            traceback.print_exc()
        _to_stderr(f"reprobox: error: {_shown_error(str(exc))}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _to_stderr(f"reprobox: error: {INTERRUPTED}")
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        say_stdout_gone()
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001  (the last border: a bug ends here)
        if raised_by_a_stop(exc):  # Python's own error for a Ctrl-C, not a bug
            if _state["debug"]:
                traceback.print_exc()
            _to_stderr(f"reprobox: error: {INTERRUPTED}")
            sys.exit(EXIT_INTERRUPTED)
        from reprobox.engine import engine_failure, is_engine_trouble

        if is_engine_trouble(exc):
            # An engine call no reprobox border caught (a timeout, a dropped
            # connection): engine trouble in one line, not a file problem.
            if _state["debug"]:
                traceback.print_exc()
            error = engine_failure(None, "answering a request", exc)
            _to_stderr(f"reprobox: error: {_printable(str(error))}")
            sys.exit(EXIT_ENGINE)
        if not isinstance(exc, OSError):
            # A bug: its traceback is what a report needs, and its exit code
            # must not be 1, which says the job ran and said no (brk r48 BQ 1:
            # a crashed verify read as "NOT verified").
            traceback.print_exc()
            _to_stderr(
                f"reprobox: error: a bug in reprobox ({type(exc).__name__}); "
                "please report it with the traceback above"
            )
            sys.exit(EXIT_BUG)
        # stdout on a full disk, an unwritable output path
        if _state["debug"]:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        if not where and _raised_writing_output(exc):
            where = "standard output: "
        fix = _DISK_FIXES.get(exc.errno, "")
        _to_stderr(f"reprobox: error: {where}{exc.strerror or exc}{fix}")
        sys.exit(EXIT_USAGE)
    if isinstance(code, int):  # what a typer.Exit asked for (verify, compare)
        if code == EXIT_INTERRUPTED:
            # No command asks for 130: typer (0.2x) turns a KeyboardInterrupt
            # that reached it (a stop while it parses the arguments, say)
            # into this return, silently.
            _to_stderr(f"reprobox: error: {INTERRUPTED}")
        sys.exit(code)


def _stdout_gone() -> bool:
    """Tell whether click found stdout's reader gone (it wraps stdout then).

    By the wrapper's name: typer may carry a click of its own, whose class
    is not click's.
    """
    return type(sys.stdout).__name__ == "PacifyFlushWrapper"


class _ClosedStdout(io.TextIOBase):
    """What stdout is when reprobox started with it closed: a write fails as
    one to a pipe whose reader is gone, so a result is never silently lost."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")


# What to do about an unwritable path that no reprobox border named.
def _raised_writing_output(exc: BaseException) -> bool:
    """Tell whether exc came from writing reprobox's output (click's echo,
    which writes and flushes the stream), not from a file reprobox wrote."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last, tb = tb.tb_frame, tb.tb_next
    if last is None:
        return False
    module = last.f_globals.get("__name__", "")
    return last.f_code.co_name == "echo" and module.endswith("click.utils")


_DISK_FIXES = {
    errno.ENOSPC: " (free space there, then run this again)",
    errno.EDQUOT: " (free space there, then run this again)",
    errno.EROFS: " (it is on a read-only file system: run this where it can write)",
    errno.EACCES: " (make it writable for this user, then run this again)",
    errno.EPERM: " (make it writable for this user, then run this again)",
    errno.ENOENT: " (its folder is missing or takes no new files: write elsewhere)",
}


def usage_error_line(exc) -> str:
    """Return a usage error (bad option value, missing argument) as one line.

    click prints the usage, a "Try" line, a blank line and the error; reprobox
    errors are one line naming what is wrong and the fix, so the help is
    pointed to instead of printed.
    """
    message = _one_line(exc.format_message()).rstrip(".")
    message = message[:1].lower() + message[1:]
    command = exc.ctx.command_path if exc.ctx is not None else "reprobox"
    flag = getattr(exc, "option_name", None)
    if flag in _GLOBAL_FLAGS and command != "reprobox":
        # `reprobox verify IMG -q`: the command's help lists no -q, and
        # click offered its own options as what was meant (brk r50 BU 3).
        name = command.split()[-1]
        if flag == "--version":
            return f"no such option for {name}: --version (use reprobox --version)"
        return (
            f"no such option for {name}: {flag} (global flags go before the "
            f"command: reprobox {flag} {name} ...)"
        )
    return f"{message} (see {command} --help)"


# The flags given before the command, which no command takes after it.
_GLOBAL_FLAGS = frozenset(
    ("-q", "--quiet", "-v", "-vv", "--verbose", "--debug", "--version")
)
