"""Signals and cancellation around a run's container: held, deferred, obeyed.

A run must never be cut off half-way through making or removing its
container, nor leave its record "running" with its lock gone. So the
container is created in a helper thread whose answer still arrives after a
stop (PendingStart); once training is over, a stop waits until the final
record is written (DeferredSignals); and the cleanup after a stop holds
signals altogether (hold_signals). Runs started from worker threads cannot
see signals: the main thread cancels them through the registry here
(cancel_all_runs). Apart from runner.py so that these rules read whole,
next to each other.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from reprobox.engine import ContainerSpec, Engine, remove_container

_HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# Stop a run as Ctrl-C does.
STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class PendingStart:
    """A container being created and started in a helper thread.

    A signal that lands while the engine creates the container would otherwise
    abandon the request with no id in hand, and the engine would finish making
    a container nobody removes; here the answer still arrives.
    """

    def __init__(
        self,
        start: Callable[[Engine, ContainerSpec], Any],
        engine: Engine,
        spec: ContainerSpec,
    ) -> None:
        """Call start(engine, spec) in a helper thread now."""
        self.done = threading.Event()
        self.container = None
        self.error: BaseException | None = None
        threading.Thread(
            target=self._work,
            args=(start, engine, spec),
            name="reprobox-start",
            daemon=True,
        ).start()

    def _work(self, start, engine: Engine, spec: ContainerSpec) -> None:
        try:
            self.container = start(engine, spec)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()

    def result(self):
        """Wait for the started container (signals still land); re-raise its error."""
        while not self.done.wait(0.1):
            if _cancelled.is_set():
                raise StopSignal()
        if self.error is not None:
            raise self.error
        return self.container


class DeferredSignals:
    """Hold SIGINT/SIGTERM/SIGHUP/SIGQUIT for a while, then act on one that came."""

    def __init__(self, restore: dict | None = None):
        """Hold the signals now; release() puts back restore's handlers (by
        default, the ones in place now). The swap is atomic: a signal that
        comes while it is made is held too, never handled the old way."""
        self.caught: int | None = None
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            self.previous = {sig: signal.getsignal(sig) for sig in _HELD}
            self.previous.update(restore or {})
            for sig in _HELD:
                signal.signal(sig, self._note)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _note(self, signum, frame) -> None:
        self.caught = self.caught or signum

    def release(self) -> int | None:
        """Put the handlers back; return the signal that came meanwhile, if any."""
        release_signals(self.previous)
        return self.caught


def hold_signals() -> dict:
    """Ignore the stop signals until release_signals; return their handlers."""
    previous = {sig: signal.getsignal(sig) for sig in _HELD}
    for sig in _HELD:
        signal.signal(sig, signal.SIG_IGN)
    return previous


def release_signals(previous: dict) -> None:
    """Put back the handlers hold_signals (or a caller) saved."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class StopSignal(Exception):
    """Raised in the main thread by SIGTERM/SIGHUP/SIGQUIT: cleanup as for Ctrl-C."""


# Runs started from worker threads (several engines at once) cannot see
# signals; the main thread cancels them all through this registry.
_active: dict[str, Any] = {}
_active_lock = threading.Lock()
_cancelled = threading.Event()
START_GRACE_S = 60.0  # how long an interrupted run waits for the engine's create


def arm_cancellation() -> None:
    """Forget an earlier cancellation before starting a new batch of runs."""
    _cancelled.clear()


def cancel_all_runs() -> None:
    """Stop and remove every container this process is running."""
    _cancelled.set()
    with _active_lock:
        containers = list(_active.values())
    for container in containers:
        remove_container(container)


def track_run(run_id: str, container) -> None:
    """Note a started container, for cancel_all_runs to remove."""
    with _active_lock:
        _active[run_id] = container


def forget_run(run_id: str) -> None:
    """Stop tracking a run's container: it is removed or being removed."""
    with _active_lock:
        _active.pop(run_id, None)


def runs_cancelled() -> bool:
    """Return whether cancel_all_runs was called since arm_cancellation."""
    return _cancelled.is_set()
