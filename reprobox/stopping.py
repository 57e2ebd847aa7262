"""Stopping signals, from reprobox's start to its exit: always exit 130, never die.

While a command works, SIGINT, SIGTERM, SIGHUP and SIGQUIT raise
KeyboardInterrupt, which the command cleans up after and reports as exit 130.
Once the command is over, one that comes is only noted: there is nothing left
to clean up, and raising it there would print a traceback. Whenever one came,
reprobox exits 130. Python's own exit would put the default handlers back
before the process ends, and a SIGTERM in that moment would kill reprobox
outright (exit 143), so reprobox leaves through leave(), which holds the
signals and ends the process itself.

Two places would still lose a stop: Python prints and drops a KeyboardInterrupt
raised where it cannot propagate (a weakref callback, a finaliser, an import
lock's cleanup), which catch_dropped_stops hands back to the command; and
Python 3.11 wraps one that lands in a class being made by an import in a
RuntimeError, which raised_by_a_stop tells from a bug.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, NoReturn

from reprobox.errors import EXIT_INTERRUPTED, EXIT_USAGE

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# What a stop that made nothing says, wherever it lands: in a command, while
# the CLI loads or parses, or as reprobox exits. A stop that lands outside a
# command's body said "reprobox: interrupted" instead, so a SIGHUP a moment
# earlier than a SIGTERM (1 s into a command, on a loaded machine, is still
# the import) read as another kind of stop. A command that made a tag says
# so in its own line (cli.interrupted_message).
INTERRUPTED = "interrupted; nothing was half-written"
INTERRUPTED_LINE = f"reprobox: error: {INTERRUPTED}\n"
# Said when what reads reprobox's stdout ends first (`reprobox run | head -1`).
STDOUT_GONE = (
    "reprobox: error: standard output was closed before reprobox wrote all of "
    "it (its reader ended); the files it wrote are whole (send the output to a "
    "file, or read all of it)\n"
)
_ending = {"over": False, "caught": None}
_unraisable = {"hook": sys.__unraisablehook__}  # the hook catch_dropped_stops replaced


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


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold the stopping signals inside the block; one that came lands after it.

    For steps a stop must not cut in two (a temp file made but its name not
    yet known, files renamed as a set). Blocked in the calling thread; and as
    the kernel may hand a process signal to any other thread that does not
    block it, whose C handler makes the main thread run the Python handler at
    once, the Python handlers only note the signal meanwhile. Either way the
    stop is raised as the block ends, by the handler it would have met.
    """
    came: list[int] = []
    holding = [True]
    swapped: dict[int, Any] = {}

    def note(signum, frame) -> None:
        if holding[0]:
            came.append(signum)
        else:  # the hold is over: as if never swapped
            swapped[signum](signum, frame)

    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
    try:
        if threading.current_thread() is threading.main_thread():
            for sig in STOPPING:
                if callable(signal.getsignal(sig)):
                    swapped[sig] = signal.signal(sig, note)
        yield
    finally:
        # First the mask, which nothing can cut short: a signal blocked
        # meanwhile is noted, or reaches its own handler where none was swapped.
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        # Still noting while the handlers go back: a signal another thread's
        # C handler took late (on a loaded machine) whose Python handler ran
        # here raised in the middle of this loop and left `note` in place.
        for sig, handler in swapped.items():
            signal.signal(sig, handler)
        holding[0] = False
        if came:
            swapped[came[0]](came[0], None)


def catch_dropped_stops() -> None:
    """Have a stop that Python would print and drop stop the command after all."""
    if sys.unraisablehook is not _stop_again:
        _unraisable["hook"] = sys.unraisablehook
    sys.unraisablehook = _stop_again


def _stop_again(unraisable) -> None:
    """sys.unraisablehook: a dropped KeyboardInterrupt is signalled again, silently.

    Raised from here it would be dropped in turn, so a helper thread sends the
    signal to the main thread once that has left the callback (they are short).
    Any other unraisable error is shown as before.
    """
    if not issubclass(unraisable.exc_type, KeyboardInterrupt):
        _unraisable["hook"](unraisable)
        return
    if _unraisable.get("resending"):  # one stop, sent once: not into the cleanup
        return
    _unraisable["resending"] = True
    threading.Thread(target=_signal_again, name="reprobox-stop", daemon=True).start()


def _signal_again() -> None:
    time.sleep(0.05)
    _unraisable["resending"] = False
    sig = _ending["caught"] or signal.SIGINT  # none noted: Python's own Ctrl-C
    handler = signal.getsignal(sig)
    raises = handler is _on_stop or handler is signal.default_int_handler
    if raises and not _ending["over"]:  # over: _on_stop has noted it for leave()
        signal.pthread_kill(threading.main_thread().ident, sig)


def raised_by_a_stop(exc: BaseException) -> bool:
    """Tell an error raised while a KeyboardInterrupt was under way, as Python
    3.11 raises RuntimeError from one that lands in __set_name__ (an import).

    The chain is followed as a traceback would show it: the cause, else the
    context unless it was suppressed (`raise ... from None`).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        if current.__cause__ is not None or current.__suppress_context__:
            current = current.__cause__
        else:
            current = current.__context__
    return False


def exit_status(code: object) -> int:
    """Return the exit status SystemExit(code) stands for, as Python would."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    with contextlib.suppress(OSError, ValueError):
        print(code, file=sys.stderr)
    return 1


def say_stdout_gone() -> None:
    """Say STDOUT_GONE on fd 2, which may itself be closed or full."""
    with contextlib.suppress(OSError):
        os.write(2, STDOUT_GONE.encode())


def _flush(stream) -> None:
    """Flush a standard stream, which is None when its fd was closed at start."""
    if stream is not None:
        stream.flush()


def leave(code: int) -> NoReturn:
    """End the process with code, or 130 if a stopping signal came meanwhile.

    The signals are held from the first line; what is checked last is whether
    one came, so that the only one not counted is one that comes after that
    check, as if after the exit.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)  # the kernel holds them now
    try:
        _flush(sys.stdout)
    except BrokenPipeError:
        if not code:  # as for a reader gone while the command ran
            code = EXIT_USAGE
            say_stdout_gone()
    except Exception:  # noqa: BLE001 - nothing may keep the process from os._exit
        pass
    # Exception, not only OSError: click wraps a stderr closed at start (None)
    # and its wrapper's flush then raises AttributeError; escaping here, it
    # ended the process through Python's own exit, 120.
    with contextlib.suppress(Exception):
        _flush(sys.stderr)
    with contextlib.suppress(Exception):  # its handlers flush the same streams
        logging.shutdown()
    pending = signal.sigpending()
    if _ending["caught"] or any(sig in pending for sig in STOPPING):
        if code != EXIT_INTERRUPTED:
            with contextlib.suppress(OSError):
                os.write(2, INTERRUPTED_LINE.encode())
        code = EXIT_INTERRUPTED
    os._exit(code)
