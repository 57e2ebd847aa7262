"""The reprobox error family: every expected failure is one of these.

The CLI catches ReproboxError once, prints its one-line message and exits with
its exit code; anything else is a bug and shows a traceback only with --debug.
"""

from __future__ import annotations

import re

EXIT_OK = 0
EXIT_FAILED = (
    1  # the job ran and its verdict is "no" (compare out of tolerance, run failed)
)
EXIT_USAGE = 2  # the user's input is wrong: config, flags, files
EXIT_ENGINE = 3  # the Docker engine is missing, unreachable or refused
EXIT_INTERRUPTED = 130
# A bug in reprobox: none of the codes above, each of which says what the job
# found (1 would read as "the job said no"). 70 is sysexits' EX_SOFTWARE.
EXIT_BUG = 70


# Characters that must not reach a terminal as they are: C0 and C1 controls
# (escape sequences move the cursor, recolour, retitle) and the bidirectional
# marks and overrides that make text read in another order than it is.
_HIDDEN_FORCES = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def escape_controls(text: str, keep: str = "") -> str:
    """Show text's control and bidi characters as \\xNN or \\uNNNN; keep
    those in keep (a line break where text may have several lines)."""

    def shown(match: re.Match) -> str:
        char = match.group()
        if char in keep:
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _HIDDEN_FORCES.sub(shown, text)


def shown_value(value: object, limit: int = 60) -> str:
    """Show a value read from a JSON file (a record, a manifest) in a few
    words, as JSON spells its literals: null, true, false; long text cut,
    huge integers sized, lists and objects counted."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    if isinstance(value, int):
        digits = len(str(abs(value)))
        if digits > 20:
            return f"an integer of {digits} digits"
    if isinstance(value, (list, dict)):
        kind = "a list" if isinstance(value, list) else "an object"
        return f"{kind} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def shortened(text: str, limit: int = 120) -> str:
    """Return text cut to limit characters, marked where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(text: object, *, empty: str = "no reason given") -> str:
    """Return the first non-blank line of an error text, stripped and kept short;
    empty when it has none."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0][:200] if lines else empty


class ReproboxError(Exception):
    """Base class: a message a user can act on, and an exit code."""

    exit_code = EXIT_USAGE
    # The whole log of the image build this error ended, when it ended one:
    # the CLI keeps it in .reprobox/build.log.
    build_log: tuple[str, ...] | None = None
    # The run record the failing run closed itself (a full disk may have kept
    # it from being written): whoever catches this must not close it again.
    closed_record: dict | None = None

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(ReproboxError):
    """The project config (reprobox.toml / [tool.reprobox]) is wrong."""

    def __init__(self, path, key: str | None, problem: str, fix: str | None = None):
        shown = key if not key or key.isprintable() else repr(key)  # stay one line
        where = f"{path}" + (f": {shown}" if key else "")
        super().__init__(f"{where}: {problem}", hint=fix)
        self.path = path
        self.key = key


class InputError(ReproboxError):
    """A file, flag or value given by the user cannot be used."""


class LockError(ReproboxError):
    """Requirements cannot be resolved or locked for the image's platform."""


class CompatibilityError(ReproboxError):
    """The framework, CUDA/cuDNN, driver or base image do not fit together."""


class EngineError(ReproboxError):
    """The Docker engine is unreachable or refused a request."""

    exit_code = EXIT_ENGINE


class BuildError(EngineError):
    """An image build failed: carries the failing step and the log tail."""

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        log_tail: str = "",
        build_log: tuple[str, ...] = (),
    ):
        super().__init__(message)
        self.step = step
        self.log_tail = log_tail
        self.build_log = build_log

    def __str__(self) -> str:
        out = self.message
        if self.step:
            out += f"\n  failing step: {self.step}"
        if self.log_tail:
            tail = "\n".join("  | " + line for line in self.log_tail.splitlines())
            out += "\n" + tail
        return out


class RunFailed(ReproboxError):
    """The training run ended badly (non-zero exit, no GPU seen, killed)."""

    exit_code = EXIT_FAILED


class Interrupted(ReproboxError):
    """The user pressed Ctrl-C or the process got SIGTERM."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, *, hint: str | None = None, records=()):
        super().__init__(message, hint=hint)
        self.records = list(records)  # the run records closed as interrupted


def newer_schema_error(
    path, kind: str, version: int, known: int, writer: object
) -> InputError:
    """Say that a file is of a newer schema, naming the reprobox that wrote it.

    The writer's version is named only when it is newer than this reprobox: a
    file whose schema number was raised by hand has nothing to upgrade to.
    """
    from packaging.version import InvalidVersion, Version

    from reprobox import __version__

    newer = None
    if isinstance(writer, str) and writer:
        try:
            if Version(writer) > Version(__version__):
                newer = f"reprobox {writer[:40]}"
        except InvalidVersion:
            pass
    return InputError(
        f"{path}: {kind} has schema_version {version}"
        + (f" (written by {newer})" if newer else "")
        + f", newer than reprobox {__version__} reads ({known})",
        hint=f"upgrade to {newer} or later" if newer else "upgrade reprobox",
    )
