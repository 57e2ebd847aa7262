"""A Ctrl-C that Python itself would lose: dropped in a finaliser, or wrapped
in an error of Python's own.

The end-to-end cases run reprobox's real entry point in their own Python,
with a command patched in that sends a real signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import types

from fresh_python import REPO, run_python

from reprobox import stopping

_entry = run_python
# What every stop says (stopping.INTERRUPTED_LINE), wherever it lands.
STOP_LINE = "reprobox: error: interrupted; nothing was half-written\n"


def test_ctrl_c_in_a_finalizer_still_stops_the_command():
    # A weakref callback (as importlib's module-lock cleanup) cannot raise:
    # Python printed "Exception ignored" and the command went on to its end.
    done = _entry(
        """
        import os, signal, time, weakref
        from reprobox import __main__, cli

        class Thing:
            pass

        def command(**_):
            thing = Thing()
            weakref.finalize(thing, os.kill, os.getpid(), signal.SIGINT)
            del thing
            time.sleep(5)
            print("went on")

        cli.app = command
        __main__.main()
        """
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        130,
        "",
        STOP_LINE,
    )


def test_sigterm_in_a_finalizer_is_sent_again_as_sigterm():
    done = _entry(
        """
        import os, signal, time, weakref
        from reprobox import __main__, cli

        class Thing:
            pass

        def command(**_):
            thing = Thing()
            weakref.finalize(thing, os.kill, os.getpid(), signal.SIGTERM)
            del thing
            try:
                time.sleep(5)
            except KeyboardInterrupt:
                print("stopped", flush=True)
                raise
            print("went on")

        cli.app = command
        __main__.main()
        """
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        130,
        "stopped\n",
        STOP_LINE,
    )


def test_an_error_python_raised_from_a_ctrl_c_is_an_interruption():
    # Python 3.11 wraps a KeyboardInterrupt that lands in __set_name__ (a class
    # made during an import) in RuntimeError: it showed as a traceback, exit 1.
    done = _entry(
        """
        from reprobox import __main__, cli

        def command(**_):
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise RuntimeError("Error calling __set_name__") from exc

        cli.app = command
        __main__.main()
        """
    )
    assert (done.returncode, done.stderr) == (130, STOP_LINE)


def test_the_same_error_while_the_cli_is_imported_is_an_interruption():
    done = _entry(
        """
        import sys
        from reprobox import __main__

        class Interrupted:
            def find_spec(self, name, path=None, target=None):
                if name == "reprobox.cli":
                    try:
                        raise KeyboardInterrupt
                    except KeyboardInterrupt as exc:
                        raise RuntimeError("Error calling __set_name__") from exc

        sys.meta_path.insert(0, Interrupted())
        __main__.main()
        """
    )
    assert (done.returncode, done.stderr) == (130, STOP_LINE)


def test_sigterm_while_the_cli_is_imported_is_an_interruption():
    # 31 of 150 SIGTERMs to freeze landed before cli.main set its handlers.
    done = _entry(
        """
        import os, signal, sys
        from reprobox import __main__

        class Slow:
            def find_spec(self, name, path=None, target=None):
                if name == "reprobox.cli":
                    os.kill(os.getpid(), signal.SIGTERM)

        sys.meta_path.insert(0, Slow())
        __main__.main()
        """
    )
    assert (done.returncode, done.stderr) == (130, STOP_LINE)


def _raised(error: BaseException, during: BaseException | None, *, link: str):
    try:
        try:
            if during is not None:
                raise during
        finally:
            if link == "cause":
                raise error from during
            if link == "none":
                raise error from None
            raise error
    except BaseException as exc:  # noqa: BLE001 - what was raised, to look at
        return exc


def test_an_error_is_told_apart_by_what_it_was_raised_from():
    assert stopping.raised_by_a_stop(
        _raised(RuntimeError("x"), KeyboardInterrupt(), link="cause")
    )
    assert stopping.raised_by_a_stop(
        _raised(OSError("x"), KeyboardInterrupt(), link="context")
    )
    assert not stopping.raised_by_a_stop(
        _raised(RuntimeError("x"), KeyboardInterrupt(), link="none")
    )
    assert not stopping.raised_by_a_stop(
        _raised(RuntimeError("x"), ValueError("y"), link="cause")
    )
    assert not stopping.raised_by_a_stop(RuntimeError("a bug"))


def test_any_other_unraisable_error_is_still_shown(monkeypatch):
    shown = []
    monkeypatch.setattr(sys, "unraisablehook", shown.append)
    stopping.catch_dropped_stops()
    error = types.SimpleNamespace(exc_type=ValueError, exc_value=ValueError("x"))
    sys.unraisablehook(error)
    assert shown == [error]


def test_a_dropped_stop_is_not_sent_again_once_the_command_is_over(monkeypatch):
    sent = []
    monkeypatch.setattr(stopping.time, "sleep", lambda _: None)
    monkeypatch.setattr(stopping.signal, "pthread_kill", lambda *a: sent.append(a))
    monkeypatch.setattr(stopping.signal, "getsignal", lambda _: stopping._on_stop)
    monkeypatch.setitem(stopping._ending, "caught", signal.SIGTERM)
    monkeypatch.setitem(stopping._ending, "over", True)
    stopping._signal_again()
    assert sent == []
    monkeypatch.setitem(stopping._ending, "over", False)
    stopping._signal_again()
    assert [sig for _, sig in sent] == [signal.SIGTERM]


def test_stops_dropped_twice_in_a_row_are_sent_again_once(monkeypatch):
    # A second resend would land in the cleanup the first one started.
    started = []
    monkeypatch.setattr(
        stopping.threading,
        "Thread",
        lambda **kw: types.SimpleNamespace(start=lambda: started.append(kw["target"])),
    )
    monkeypatch.setitem(stopping._unraisable, "resending", False)
    dropped = types.SimpleNamespace(exc_type=KeyboardInterrupt)
    stopping._stop_again(dropped)
    stopping._stop_again(dropped)
    assert started == [stopping._signal_again]


def test_the_entry_point_imports_nothing_before_its_try():
    # The console script imports reprobox.__main__ before any reprobox code
    # can catch a Ctrl-C: 12 of 200 Ctrl-Cs to freeze landed in its import of
    # traceback and printed Python's own traceback.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; before = set(sys.modules); import reprobox.__main__; "
            "print(sorted(set(sys.modules) - before))",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "['reprobox', 'reprobox.__main__']\n"


def test_a_stop_that_typer_turns_into_exit_130_still_says_interrupted():
    # typer 0.2x makes a KeyboardInterrupt raised while it parses the
    # arguments (it imports pydantic lazily there) a quiet return of 130:
    # reprobox exited 130 with nothing on stderr.
    done = _entry(
        """
        import os, signal, time
        import typer
        from reprobox import __main__, cli

        def slow(value: str) -> str:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            return value

        app = typer.Typer()

        @app.command()
        def go(thing: str = typer.Option("x", parser=slow)) -> None:
            print("went on")

        cli.app = app
        __main__.main()
        """
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        130,
        "",
        STOP_LINE,
    )
