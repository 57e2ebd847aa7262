"""A command stopped part way (Ctrl-C, SIGTERM): the line it ends with.

The line says what the command had finished (a tag it made) and what the
stop left for the next command, so that it never claims nothing was made
when something was.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from reprobox.cli_output import _state
from reprobox.errors import Interrupted, ReproboxError
from reprobox.stopping import INTERRUPTED, raised_by_a_stop


def interruptible(func):
    """Turn Ctrl-C inside a command into reprobox's Interrupted error.

    Its message says what the command had finished (a tag it made) before
    the stop, so that it never claims nothing was made when something was.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _state["finished"], _state["left"] = [], []
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            message = interrupted_message(_state["finished"], _state["left"])
            raise Interrupted(message) from None
        except ReproboxError:
            raise
        except Exception as exc:
            # A stop that Python wrapped (a RuntimeError from an import it cut)
            # or that an error in the cleanup after it hid is a stop too, and
            # must say what was finished as plainly as one raised as itself.
            if raised_by_a_stop(exc):
                message = interrupted_message(_state["finished"], _state["left"])
                raise Interrupted(message) from None
            raise

    return wrapper


def finished_step(step: str) -> Callable[[str, bool | None], None]:
    """Return what notes that step (a build, an import) made its tag, for
    the message of a command interrupted later."""

    def note(tag: str, made: bool | None) -> None:
        entry = (step, tag, made)
        finished = _state.setdefault("finished", [])
        if entry not in finished:
            finished.append(entry)

    return note


def left_behind(what: str) -> None:
    """Note what a stop left for the next command to finish (an import's
    untagged image), for the message of the interrupted command."""
    left = _state.setdefault("left", [])
    if what not in left:
        left.append(what)


def interrupted_message(
    finished: list[tuple[str, str, bool | None]], left: Sequence[str] = ()
) -> str:
    """Return the one line an interrupted command ends with.

    finished holds (step, tag, made) for each tag the command made (True)
    or may have made (None: the engine did not answer when asked); left says
    what the stop left behind and what becomes of it (see left_behind).
    """
    if not finished and not left:
        return INTERRUPTED
    done = [f"{step} finished (tag {tag})" for step, tag, made in finished if made]
    unsure = [tag for _, tag, made in finished if made is None]
    message = ", ".join(done) + ", then interrupted" if done else "interrupted"
    if unsure:
        message += (
            f"; the engine may have tagged {', '.join(unsure)} or may still "
            "(`docker image inspect TAG` tells)"
        )
    for what in left:
        message += f"; {what}"
    return message
