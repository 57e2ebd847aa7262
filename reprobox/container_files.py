"""Reading what a training container wrote, without trusting it.

The run folder is the container's to write: a script can plant a link to a
host file, a FIFO, a nesting bomb or a 20 MB line where reprobox expects a
JSON file or a log. Everything here opens files without following links or
waiting on FIFOs, reads them with a bound, and checks their shape.
"""

from __future__ import annotations

import math
import os
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reprobox.frozen_tokens import without_tokens
from reprobox.metric_names import is_metric_name, metric_name_problem
from reprobox.metric_numbers import kept_number
from reprobox.seals import RepeatedKeyError, loads_strict


def log_tail(path: Path, lines: int = 20) -> str:
    """Return the last lines of a log the container could have replaced."""
    try:
        fh = open_regular_file(path)
    except (OSError, UntrustedFileError):
        return ""
    with fh:
        st = os.fstat(fh.fileno())
        fh.seek(max(0, st.st_size - 64 * 1024))
        text = fh.read().decode("utf-8", errors="replace")
    return tail_text(text.splitlines(), lines)


# A record keeps the last lines of the log, each cut to this many characters:
# one line of 20 MB (a progress bar without newlines) must not fill the record.
TAIL_LINE_CHARS = 1000


def tail_text(lines: Sequence[str], count: int = 20) -> str:
    """Return the last count lines, each cut short past TAIL_LINE_CHARS."""
    return "\n".join(
        line if len(line) <= TAIL_LINE_CHARS else line[: TAIL_LINE_CHARS - 1] + "…"
        for line in lines[-count:]
    )


# What the container writes is read by reprobox on the host: never follow a
# link it planted (to a host file), never block on a FIFO, never read without
# bound, and never let a nesting bomb raise RecursionError.
MAX_CONTAINER_JSON = 64 * 1024 * 1024
# How reprobox opens anything in a run folder: no link followed, no FIFO waited on.
UNTRUSTED_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UntrustedFileError(ValueError):
    """A file the container wrote that reprobox will not read."""


def open_regular_file(path: Path | str, flags: int = UNTRUSTED_OPEN, **kwargs):
    """Open path for binary reading only if it is a regular file; else ValueError.

    The type is checked on the descriptor before a file object is made: Python
    refuses to wrap a folder's descriptor with an OSError that names the
    descriptor's number instead of the path.
    """
    fd = os.open(path, flags, **kwargs)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UntrustedFileError("is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class OutOfRangeNumber:
    """A number in the metrics file that no float holds: an integer of more
    digits than Python reads (4300), or a decimal that reads as 0.0 though it
    is not zero (1e-999999999). Each is said of its own metric while the
    file's other numbers are kept: the long integer made the whole file "not
    valid JSON", and the tiny decimal was kept as 0.0 without a word."""

    def __init__(self, text: str, why: str) -> None:
        self.text = text
        self.why = why

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 24 else self.text[:12] + "..."
        return f"{shown} ({self.why})"


def _read_int(text: str) -> int | OutOfRangeNumber:
    digits = len(text.lstrip("-"))
    # Python 3.10 before 3.10.7 has no limit (nor this function).
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    if digits > limit > 0:
        return OutOfRangeNumber(text, f"an integer of {digits} digits: too large")
    return int(text)


def _read_float(text: str) -> float | OutOfRangeNumber:
    number = float(text)
    mantissa = text.lower().partition("e")[0]
    if number == 0.0 and mantissa.strip("-+0.") != "":
        return OutOfRangeNumber(text, "too small for a float: it reads as 0.0")
    return number


def read_container_json(path: Path, *, out_of_range: bool = False) -> Any:
    """Return the JSON in a file the container wrote; raise UntrustedFileError.

    out_of_range: read a number no float holds as an OutOfRangeNumber, for
    the reader to say of its own key (the metrics file)."""
    try:
        fh = open_regular_file(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if path.is_symlink():
            raise UntrustedFileError("is a symbolic link; not followed") from None
        raise UntrustedFileError(f"cannot be read ({exc.strerror})") from None
    with fh:
        st = os.fstat(fh.fileno())
        if st.st_size > MAX_CONTAINER_JSON:
            raise UntrustedFileError(f"is larger than {MAX_CONTAINER_JSON >> 20} MiB")
        raw = fh.read(MAX_CONTAINER_JSON + 1)
    try:
        text = raw.decode("utf-8")
        if out_of_range:
            return loads_strict(
                text, path, parse_int=_read_int, parse_float=_read_float
            )
        return loads_strict(text, path)
    except RepeatedKeyError as exc:  # which of its values was meant?
        raise UntrustedFileError(
            f"repeats the key {exc.shown_key} in one object"
        ) from None
    except UnicodeDecodeError:
        raise UntrustedFileError("is not UTF-8 text") from None
    except ValueError as exc:
        raise UntrustedFileError(f"is not valid JSON ({exc})") from None
    except RecursionError:
        raise UntrustedFileError("is nested too deeply") from None


def read_script_metrics(path: Path) -> tuple[dict, list[str]]:
    """Return the numbers a script wrote to $REPROBOX_METRICS, and what was wrong."""
    where = "the metrics file ($REPROBOX_METRICS)"
    try:
        data = read_container_json(path, out_of_range=True)
    except FileNotFoundError:
        return {}, []
    except UntrustedFileError as exc:
        return {}, [f"{where} {exc}; its metrics were ignored"]
    if not isinstance(data, dict):
        return {}, [f"{where} holds a {type(data).__name__}, not an object; ignored"]
    data, tokens = without_tokens(data)
    kept, warnings = (
        {},
        [f"metric {path} in {where} {_TOKEN_LEFT_OUT}" for path in tokens],
    )
    for key, value in data.items():
        if not is_metric_name(key):
            warnings.append(unusable_name_note(key, where))
            continue
        if isinstance(value, OutOfRangeNumber):
            warnings.append(f"metric {key!r} in {where} is {value!r}; ignored")
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                warnings.append(f"metric {key!r} in {where} is too large; ignored")
                continue
            kept[key] = value
            if not math.isfinite(number):
                warnings.append(f"metric {key!r} in {where} is {value}; kept")
        else:
            warnings.append(f"metric {key!r} in {where} is not a number; ignored")
    return kept, warnings


# A name or text the script wrote that holds a token of a published format
# (ghp_..., AKIA...) would go from the record into a sealed image's label and
# a bundle: it is left out, and named only shortened.
_TOKEN_LEFT_OUT = "holds a token of a published format (ghp_..., AKIA...); left out"


def unusable_name_note(name: str, where: str) -> str:
    """Say that a metric name is_metric_name refuses was left out of the record.

    A name "" or " ", or one holding a character nobody can type (a zero-width
    space, half of a UTF-16 pair from a JSON "\\ud800" escape), could be judged
    but never named in --metric or --tol; the last cannot even be written.
    """
    problem = metric_name_problem(name)
    what = "has a blank name" if problem == "is blank" else f"has a name that {problem}"
    return (
        f"metric {name!r} in {where} {what}, which --metric and --tol cannot "
        "name; left out"
    )


def usable_curves(capture: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return the capture with every fit epoch and evaluation result less the
    names is_metric_name refuses, and a note for each name left out."""
    out = dict(capture)
    left_out: dict[str, None] = {}  # in the order found, each once

    def usable(row: Any) -> Any:
        if not isinstance(row, dict):
            return row
        for key in row:
            if isinstance(key, str) and key != "epoch" and not is_metric_name(key):
                left_out.setdefault(key)
        return {k: v for k, v in row.items() if k not in left_out}

    if isinstance(capture.get("history"), list):
        out["history"] = [
            {**fit, "epochs": [usable(row) for row in fit["epochs"]]}
            if isinstance(fit, dict) and isinstance(fit.get("epochs"), list)
            else fit
            for fit in capture["history"]
        ]
    if isinstance(capture.get("evaluations"), list):
        out["evaluations"] = [
            {**call, "results": usable(call["results"])}
            if isinstance(call, dict) and "results" in call
            else call
            for call in capture["evaluations"]
        ]
    return out, [unusable_name_note(name, "capture.json") for name in left_out]


def capture_without_tokens(capture: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """Return the capture less each key or text holding a token, and warnings."""
    kept, tokens = without_tokens(capture)
    return kept, [f"capture.json field {path} {_TOKEN_LEFT_OUT}" for path in tokens]


def read_json(path: Path) -> dict:
    try:
        data = read_container_json(path)
    except (OSError, UntrustedFileError):
        return {}
    return data if isinstance(data, dict) else {}


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _dict_or_none(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _list_of_dicts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


# What the start-up hook writes to capture.json, field by field. The training
# script shares the folder and can write anything there: a field of the wrong
# shape is left out of the record, with a warning, never trusted.
_CAPTURE_SHAPES: dict[str, Callable[[Any], bool]] = {
    "env": _str_map,
    "packages": _str_map,
    "frameworks": lambda v: (
        isinstance(v, dict)
        and all(_dict_or_none(x) for x in v.values())
        and isinstance(
            (v.get("tensorflow") or {}).get("version", ""), (str, type(None))
        )
    ),
    "keras": lambda v: (
        v is None
        or (
            isinstance(v, dict)
            and isinstance(v.get("version"), (str, type(None)))
            and v.get("jit_compile") in (True, False, "auto", None)
        )
    ),
    "machine_cpu": _dict_or_none,
    "threads": _dict_or_none,
    "gpu": lambda v: v is None or isinstance(v, (dict, list)),
    "python": _dict_or_none,
    "os": _dict_or_none,
    "history": _list_of_dicts,
    "evaluations": _list_of_dicts,
    "error": _dict_or_none,
    "hook_errors": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def sane_capture(capture: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return the capture's fields of the right shape, and the names of the rest."""
    kept, damaged = {}, []
    for key, value in capture.items():
        check = _CAPTURE_SHAPES.get(key)
        if check is None or check(value):
            kept[key] = value
        else:
            damaged.append(key)
    return kept, sorted(damaged)


def machine_from_capture(capture: Mapping[str, Any]) -> dict[str, Any]:
    """Return the record's `machine` object from what the container captured."""
    env = capture.get("env") or {}
    frameworks = capture.get("frameworks") or {}
    packages = dict(capture.get("packages") or {})
    keras = dict(capture.get("keras") or {})
    tf_version = (frameworks.get("tensorflow") or {}).get("version")
    return {
        "cpu": capture.get("machine_cpu"),
        "threads": capture.get("threads"),
        "onednn": {
            "TF_ENABLE_ONEDNN_OPTS": env.get("TF_ENABLE_ONEDNN_OPTS"),
            "ONEDNN_MAX_CPU_ISA": env.get("ONEDNN_MAX_CPU_ISA"),
            "enabled": onednn_enabled(
                env, tf_version, (capture.get("machine_cpu") or {}).get("arch")
            ),
        },
        "gpu": capture.get("gpu"),
        "python": (capture.get("python") or {}).get("version"),
        "os": capture.get("os"),
        "packages": dict(sorted(packages.items())),
        "tensorflow": frameworks.get("tensorflow"),
        "torch": frameworks.get("torch"),
        "keras": keras or None,
        "env": env,
    }


def onednn_enabled(
    env: Mapping[str, str], tf_version: str | None, arch: str | None
) -> bool | None:
    """Tell whether TensorFlow used oneDNN kernels, from the setting and defaults."""
    if tf_version is None:
        return None
    value = env.get("TF_ENABLE_ONEDNN_OPTS")
    if value is not None:
        return value.strip().lower() in ("1", "true")
    # On by default for x86-64 Linux builds since TensorFlow 2.9.
    try:
        major, minor = (int(p) for p in tf_version.split(".")[:2])
    except ValueError:
        return None
    return arch in ("x86_64", "AMD64") and (major, minor) >= (2, 9)


def metrics_from(capture: Mapping[str, Any], script_metrics: Mapping[str, Any]) -> dict:
    """Return a run's metrics: the last epoch of its last fit and its last
    evaluation (eval_<name>) from capture.json, then the script's own."""
    found: dict[str, Any] = {}
    try:  # capture.json is the container's to write: take only what fits
        history = capture.get("history") or []
        if history and history[-1].get("epochs"):
            last = dict(history[-1]["epochs"][-1])
            last.pop("epoch", None)
            found.update(last)
        evaluations = capture.get("evaluations") or []
        if evaluations:
            for key, value in evaluations[-1].get("results", {}).items():
                found[f"eval_{key}"] = value
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        found = {}
    found.update(script_metrics)
    metrics: dict[str, float | int] = {}
    for key, value in found.items():
        if not is_metric_name(str(key)):
            continue  # see _BLANK_LEFT_OUT
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                metrics[str(key)] = kept_number(value)
            except OverflowError:
                continue
    return dict(sorted(metrics.items()))
