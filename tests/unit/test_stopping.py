"""A stopping signal as reprobox ends gives exit 130, never 143 or a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fresh_python import REPO, run_argv, run_python

# Runs reprobox's real entry point with a command that only prints (as a run
# prints its summary once the record is written); SIGNAL then lands at WHEN.
SCRIPT = """
import os, signal, sys
from reprobox import __main__, cli, cli_main, stopping

def command(**_):
    print("run 1 succeeded; record written", flush=True)
    if WHEN == "in the command":
        os.kill(os.getpid(), SIGNAL)

cli.app = command
over = cli_main.command_over

def over_then_signal():
    over()
    if WHEN == "once it is over":
        os.kill(os.getpid(), SIGNAL)

cli_main.command_over = over_then_signal
class Late:
    def __del__(self):  # as the interpreter shuts down, if it ever does
        os.kill(os.getpid(), SIGNAL)

late = Late() if WHEN == "in interpreter shutdown" else None
__main__.main()
"""


def run_entry(when: str, sig: int) -> subprocess.CompletedProcess:
    code = SCRIPT.replace("WHEN", repr(when)).replace("SIGNAL", str(int(sig)))
    return run_python(code)


# What every stop says (stopping.INTERRUPTED_LINE), wherever it lands.
STOP_LINE = "reprobox: error: interrupted; nothing was half-written\n"


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT]
)
@pytest.mark.parametrize("when", ["in the command", "once it is over"])
def test_a_signal_as_reprobox_ends_is_exit_130_in_one_line(when, sig):
    done = run_entry(when, sig)
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert done.stdout == "run 1 succeeded; record written\n"
    assert done.stderr == STOP_LINE


def test_reprobox_no_longer_reaches_the_interpreters_shutdown_to_die_there():
    # Python puts SIG_DFL back before it destroys the last objects: a SIGTERM
    # then killed reprobox (-15, a shell's 143). reprobox now ends before.
    done = run_entry("in interpreter shutdown", signal.SIGTERM)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stderr == ""


def test_a_signal_ignored_by_the_shell_stays_ignored(monkeypatch):
    from reprobox import stopping

    set_to = {}
    monkeypatch.setattr(
        stopping.signal, "signal", lambda sig, handler: set_to.update({sig: handler})
    )
    monkeypatch.setattr(
        stopping.signal,
        "getsignal",
        lambda sig: signal.SIG_IGN if sig == signal.SIGINT else signal.SIG_DFL,
    )
    stopping.install_handlers()
    assert signal.SIGINT not in set_to
    assert set(set_to) == {signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}


def run_closed(args: str, closed: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m reprobox ARGS` with stdout or stderr closed (`>&-`)."""
    close = {"stdout": ">&-", "stderr": "2>&-"}[closed]
    return run_argv(
        ["sh", "-c", f'"$0" -m reprobox {args} {close}', sys.executable], cwd=cwd
    )


@pytest.mark.parametrize(
    ("args", "closed", "code"),
    [
        # bv 6: what it was to print went nowhere; 0 said it was printed.
        ("--version", "stdout", 2),
        ("--version", "stderr", 0),
        ("compare nosuchdir", "stdout", 2),
        ("compare nosuchdir", "stderr", 2),
    ],
)
def test_a_closed_stdout_or_stderr_keeps_the_commands_exit_code(
    args, closed, code, tmp_path
):
    # Python sets sys.stdout (or sys.stderr) to None when the fd is closed at
    # start; leave() flushed it and every command ended in a traceback, exit 1.
    done = run_closed(args, closed, tmp_path)
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    if closed == "stdout" and args.startswith("compare"):
        assert done.stderr.startswith("reprobox: error: nosuchdir: no such file")
    if closed == "stdout" and args == "--version":
        assert done.stderr.startswith("reprobox: error: standard output was closed")
    if args == "--version" and closed == "stderr":
        assert done.stdout.startswith("reprobox ")


def test_an_interruption_with_stderr_closed_is_still_exit_130():
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROBOX_")}
    env["PYTHONPATH"] = str(REPO)
    code = SCRIPT.replace("WHEN", repr("in the command")).replace(
        "SIGNAL", str(int(signal.SIGTERM))
    )
    done = subprocess.run(
        ["sh", "-c", '"$0" -c "$1" 2>&-', sys.executable, code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 130, done.returncode
    assert done.stdout == "run 1 succeeded; record written\n"


def test_a_hold_outlasts_a_signal_another_thread_takes_and_leaves_no_mask():
    # The kernel gives a process signal to any thread not blocking it; that
    # thread's C handler makes the main thread run the Python handler at once,
    # so blocking it in the main thread alone did not hold it. A raise in the
    # middle of the hold's own ending also left SIGINT blocked for good.
    import threading

    from reprobox.stopping import signals_held

    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)
    helper.start()  # unblocked: it may be the one the kernel picks
    done = []
    try:
        with pytest.raises(KeyboardInterrupt), signals_held():
            for _ in range(20):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.005)
            done.append("whole block")
    finally:
        stop.set()
        helper.join()
    assert done == ["whole block"]
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# A stop at each point of reprobox's life, for each stopping signal: as the CLI
# starts, before a command's body (typer parsing), in a command that made
# nothing, and once the command is over. POINT and SIGNAL are filled in.
EACH_POINT = """
import os, signal, sys
from reprobox import __main__, cli, cli_main, stopping

def stop():
    os.kill(os.getpid(), SIGNAL)

@cli.interruptible
def body():
    print("working", flush=True)
    if POINT == "in the command":
        stop()

def command(**_):
    if POINT == "before the command's body":
        stop()
    body()

cli.app = command
over = cli_main.command_over

def over_then_signal():
    over()
    if POINT == "once it is over":
        stop()

cli_main.command_over = over_then_signal
if POINT == "as the CLI starts":  # __main__ has installed the handlers
    cli.main = lambda **_: stop()
__main__.main()
"""


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
)
@pytest.mark.parametrize(
    "point",
    [
        "as the CLI starts",
        "before the command's body",
        "in the command",
        "once it is over",
    ],
)
def test_every_stop_signal_says_one_line_wherever_it_lands(point, sig):
    # brk: SIGHUP 1 s into a command said "reprobox: interrupted" where
    # SIGINT/SIGTERM/SIGQUIT said the line above: it had landed before the
    # command's body, whose wrapper alone said that line.
    code = EACH_POINT.replace("POINT", repr(point)).replace("SIGNAL", str(int(sig)))
    done = run_python(code)
    assert (done.returncode, done.stderr) == (130, STOP_LINE), done.stderr


def test_the_line_said_before_stopping_loads_is_stoppings_own():
    from reprobox import __main__, stopping

    assert stopping.INTERRUPTED_LINE == STOP_LINE
    source = Path(__main__.__file__).read_text()
    assert STOP_LINE.replace("\n", "\\n") in source
