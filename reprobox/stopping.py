"""Stopping signals, from reprobox's start to its exit: always exit 130, never die.

While a command works, SIGINT, SIGTERM, SIGHUP and SIGQUIT raise
KeyboardInterrupt, which the command cleans up after and reports as exit 130.
Once the command is over, one that comes is only noted: there is nothing left
to clean up, and raising it there would print a traceback. Whenever one came,
reprobox exits 130. Python's own exit would put the default handlers back
before the process ends, and a SIGTERM in that moment would kill reprobox
outright (exit 143), so reprobox leaves through leave(), which holds the
signals and ends the process itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import NoReturn

from reprobox.errors import EXIT_INTERRUPTED, EXIT_USAGE

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_ending = {"over": False, "caught": None}


def _on_stop(signum, frame) -> None:
    # Noted even while the command runs: a KeyboardInterrupt raised inside a
    # finaliser that the garbage collector runs is printed and dropped.
    _ending["caught"] = _ending["caught"] or signum
    if not _ending["over"]:
        raise KeyboardInterrupt  # SIGTERM cleans up exactly as Ctrl-C does


def install_handlers() -> dict:
    """Make every stopping signal stop the command as Ctrl-C does.

    Return the handlers replaced, for restore_handlers. A SIGINT the shell set
    to be ignored (a command started with `&`) stays so.
    """
    _ending.update(over=False, caught=None)
    previous = {}
    for sig in STOPPING:
        if sig != signal.SIGINT or signal.getsignal(sig) is signal.default_int_handler:
            previous[sig] = signal.signal(sig, _on_stop)
    return previous


def restore_handlers(previous: dict) -> None:
    """Put back the handlers install_handlers replaced (a CLI run in-process)."""
    for sig, handler in previous.items():
        if handler is not None:
            signal.signal(sig, handler)


def command_over() -> None:
    """From now on a stopping signal is noted for leave(), not raised."""
    _ending["over"] = True  # one store: no Python code runs before it holds


def exit_status(code: object) -> int:
    """Return the exit status SystemExit(code) stands for, as Python would."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    with contextlib.suppress(OSError, ValueError):
        print(code, file=sys.stderr)
    return 1


def leave(code: int) -> NoReturn:
    """End the process with code, or 130 if a stopping signal came meanwhile.

    The signals are held from the first line; what is checked last is whether
    one came, so that the only one not counted is one that comes after that
    check, as if after the exit.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)  # the kernel holds them now
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = code or EXIT_USAGE  # as for a reader gone while the command ran
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    logging.shutdown()
    pending = signal.sigpending()
    if _ending["caught"] or any(sig in pending for sig in STOPPING):
        if code != EXIT_INTERRUPTED:
            with contextlib.suppress(OSError):
                os.write(2, b"reprobox: interrupted\n")
        code = EXIT_INTERRUPTED
    os._exit(code)
