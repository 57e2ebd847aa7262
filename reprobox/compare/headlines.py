"""Word each compared run's verdict: its summary, headline and likely cause."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reprobox.compare.environment import EnvDifference, hidden_caveat
from reprobox.compare.metrics import MetricResult, MissingMetric, delta_text
from reprobox.compare.records import Record, short_repr

SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class RunSummary:
    """One run's place in the comparison and its one-line verdict."""

    run_id: str
    is_reference: bool
    status: str
    seed: Any
    # None for a seed-noise run that succeeded: it measures noise, not judged.
    passed: bool | None
    metrics_differ: bool
    # A sweep run with another seed that succeeded: it measures noise, not judged.
    seed_noise: bool
    likely_cause: str | None  # the field most likely to explain the difference
    headline: str
    # Judged on a sweep's seed band, not against the reference (which it may be).
    judged_on_band: bool = False
    # The sweep run of its seed that measures it instead of the reference: its
    # metrics, curves and setup differences are taken against that run.
    compared_with: str | None = None
    # --env variables this run or the reference keeps only as ***: equal in the
    # records, their values may have differed.
    hidden_env: tuple[str, ...] = ()
    # The training command's exit code as recorded (null when it never exited,
    # e.g. interrupted), and the signal an exit code of 128 + N stands for.
    exit_code: int | None = None
    signal: str | None = None


def named_difference(suspect: EnvDifference) -> str:
    """Name a setup difference with its values, e.g. 'seed 42 -> 7'."""
    # The field alone when it says the kind already: "seed 42 -> 7", not
    # "seed seed 42 -> 7"; "packages tensorflow 2.20 -> 2.21" keeps both.
    named = (
        suspect.field
        if suspect.field.split(".")[0] == suspect.category
        else f"{suspect.category} {suspect.field}"
    )
    return (
        f"{named} {format_value(suspect.reference_value)} -> "
        f"{format_value(suspect.run_value)}"
    )


def run_headline(
    record: Record,
    own: list[MetricResult],
    changed: list[MetricResult],
    missing: list[MissingMetric],
    suspect: EnvDifference | None,
    hidden: tuple[str, ...] = (),
    unrecorded: str = "",
    others: bool = False,
) -> str:
    """Write one run's summary from its checks, its gaps and its status.

    others: the run's metrics said apart already (a sweep seed's NaN) are left
    out of own, so 'identical' speaks of the other metrics."""
    succeeded = record.status == SUCCEEDED
    if not succeeded and all(r.missing in ("run", "both") for r in own):
        # It stopped before recording any metric compared: the failure is the
        # finding, and there is nothing to measure against the reference.
        return f"{_ended(record)} and has no metrics to compare: " + (
            "its failure is the finding"
            if record.status == "failed"
            else "it cannot pass"
        )
    parts = []
    if len(missing) < len(own):  # some metric both sides have was compared
        parts.append(
            _headline(
                changed,
                suspect,
                shared=bool(missing),
                ran=succeeded,
                hidden=hidden,
                unrecorded=unrecorded,
                others=others,
            )
        )
    shown = [f"{m.metric} {m.reason}" for m in missing[:3]]
    parts += shown + ([f"and {len(missing) - 3} more"] if len(missing) > 3 else [])
    return "; ".join(parts) + status_note(record, "it cannot pass")


def has_status(record: Record) -> str:
    """Say why a run that did not succeed cannot pass: 'run X has status
    failed (exit code 3)', as a check it overrules names it."""
    shown = status_with_exit(record.status, recorded_exit_code(record))
    return f"run {record.run_id} has status {shown}"


def _ended(record: Record) -> str:
    """Say how a run that did not succeed ended, e.g. 'failed (exit code 1)'."""
    if record.status in ("failed", "interrupted"):
        return status_with_exit(record.status, recorded_exit_code(record))
    return "status " + status_with_exit(record.status, recorded_exit_code(record))


# Linux numbers: a container's command runs on Linux whatever the host is.
_SIGNALS = {
    1: "SIGHUP",
    2: "SIGINT",
    3: "SIGQUIT",
    4: "SIGILL",
    6: "SIGABRT",
    7: "SIGBUS",
    8: "SIGFPE",
    9: "SIGKILL",
    11: "SIGSEGV",
    13: "SIGPIPE",
    14: "SIGALRM",
    15: "SIGTERM",
}


def recorded_exit_code(record: Record) -> int | None:
    """Return the run's exit code when the record holds one, else None."""
    code = record.data.get("exit_code")
    return code if type(code) is int else None


def exit_signal(code: int | None) -> str | None:
    """Name the signal that an exit code of 128 + N says killed the command."""
    if code is None or not 128 < code <= 128 + 64:
        return None
    return _SIGNALS.get(code - 128, f"signal {code - 128}")


def exit_fields(record: Record) -> dict[str, Any]:
    """Return a RunSummary's exit_code and signal, as the record gives them."""
    code = recorded_exit_code(record)
    return {"exit_code": code, "signal": exit_signal(code)}


def status_with_exit(status: str, code: int | None) -> str:
    """Say a status with its exit code, e.g. 'failed (exit code 137, SIGKILL)'."""
    shown = status or "unknown"
    if status == SUCCEEDED or code is None:
        return shown
    signal = exit_signal(code)
    return f"{shown} (exit code {code}{f', {signal}' if signal else ''})"


# A record still "running" is of a run that trains now, or whose reprobox was
# killed: compare said only "has status running", never which, nor what
# closes it. Its run lock tells which (run_folders.run_lock_state).
_CLOSERS = (
    "the next `reprobox run`, `build` or `push` of the project, or `verify` "
    "for its runs folder, closes it as interrupted"
)
NEVER_CLOSED = (
    "running (its record is not closed: the run is still going, or its "
    f"reprobox was killed, and then {_CLOSERS})"
)


def status_said(status: str, code: int | None, lock: str | None = None) -> str:
    """Say a status as a note or problem does: status_with_exit, and for a
    record still running, why it is, as its run lock tells (lock: what
    run_lock_state says; None where it was not looked at), and what closes it."""
    if status != "running" or code is not None:
        return status_with_exit(status, code)
    if lock == "held":
        return "running (its reprobox holds the run lock: the run is still going)"
    if lock in ("free", "missing"):
        return f"running (its reprobox is gone without closing its record; {_CLOSERS})"
    if lock is not None:
        return (
            f"running (its run lock is {lock}, not a file reprobox wrote, so no "
            f"command closes it: move the lock away, then {_CLOSERS} if its "
            "reprobox is gone)"
        )
    return NEVER_CLOSED


def unrecorded_note(
    record: Record, ref: Record, unrecorded: set[str], against: str = "the reference"
) -> str:
    """Say that no cause can be named as a side's machine facts are missing, or ''.

    ref is the run record was set against, named as against says.
    """
    who = [
        name
        for name, run in (("this run", record), (against, ref))
        if run.run_id in unrecorded and not (name == against and run is record)
    ]
    if not who:
        return ""
    their = "their" if len(who) > 1 else "its"
    return (
        f"no cause can be named: {' and '.join(who)} stopped before {their} "
        "machine facts were recorded"
    )


def status_note(record: Record, consequence: str) -> str:
    """Return a headline suffix for a run that did not succeed, else ''."""
    if record.status == SUCCEEDED:
        return ""
    shown = status_with_exit(record.status, recorded_exit_code(record))
    return f"; but status {shown}: {consequence}"


def nothing_compared(names: Sequence[str], against: str = "the reference") -> str:
    """Say why a run has no metric checked against the reference (or against)."""
    if not names:
        return "nothing compared: no run recorded any metric"
    return f"nothing compared: neither it nor {against} has {', '.join(names)}"


def _headline(
    changed: list[MetricResult],
    suspect: EnvDifference | None,
    *,
    shared: bool = False,
    ran: bool = True,
    hidden: tuple[str, ...] = (),
    unrecorded: str = "",
    others: bool = False,
) -> str:
    """Say how the metrics both runs have compare, and what may explain a change.

    shared: some metric is missing on one side, so 'identical' covers only the
    metrics both have. ran: the run succeeded; a run that did not is no
    evidence of nondeterminism, since it may have stopped anywhere. hidden:
    --env variables kept as ***, whose values may have differed unseen.
    unrecorded: says whose machine facts were never gathered, when a side's
    were not: with nothing recorded differing, the cause is then unknown.
    """
    if not changed:
        # A sweep seed's NaN said before this: "metrics identical" beside it
        # read as if the NaN metric were identical too.
        suffix = " despite setup differences" if suspect else ""
        which = ("other " if others else "") + ("shared " if shared else "")
        return f"{which}metrics identical{suffix}"
    shown = ", ".join(
        f"{r.metric} {delta_text(r)}"
        if r.delta is not None
        else f"{r.metric} ({r.reason})"
        for r in changed[:3]
    ) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    if suspect is None and unrecorded:
        return f"metrics differ ({shown}); {unrecorded}"
    if suspect is None and not ran:
        return f"metrics differ ({shown})"
    if suspect is None:
        return (
            f"metrics differ ({shown}) with no numerics-relevant setup difference: "
            "nondeterminism (e.g. an unseeded shuffle or racing ops)"
            + hidden_caveat(hidden)
        )
    return f"metrics differ ({shown}); most likely cause: {named_difference(suspect)}"


VALUE_CHARS = 200  # a setup value longer than this is cut in text and tables


def format_value(value: Any) -> str:
    """Show a setup value in one short line: lists joined, absent as 'unset'."""
    if value is None:
        return "unset"
    if isinstance(value, str) and _reads_as_another(value):
        # `--env X=` read as an empty cell beside `unset`, and "1 " as "1":
        # such a value is shown as JSON writes it, quotes and all, as is the
        # word unset and one starting with a quote, so a shown `""` is only
        # ever the empty value and a bare `unset` only ever no value.
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and len(str(abs(value))) > 20:
        return short_repr(value)
    if isinstance(value, (list, tuple)):
        # Quoted as a shell would need them: ["a b"] and ["a", "b"] (a
        # command's words) must not read the same.
        text = (
            " ".join(shlex.quote(v) if isinstance(v, str) else str(v) for v in value)
            or "(none)"
        )
    else:
        text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "\u2026"


def _reads_as_another(text: str) -> bool:
    """Tell whether a value would read as another unquoted: empty, blank-edged."""
    return text in ("", "unset") or text != text.strip() or text.startswith('"')
