"""Turn a --gpus value into the device requests the Docker engine expects."""

from __future__ import annotations

import re

from docker.types import DeviceRequest

from reprobox.errors import InputError
from reprobox.number_options import refuse_plus

GPUS_FIX = (
    "use --gpus all, --gpus 2 (a count), --gpus device=0,2 (indexes) or "
    "--gpus device=GPU-<uuid>"
)
# ASCII digits only: \d and str.isdigit() also take "\u0661" (read as 1) and
# "\u00b2", which int() then refuses with a traceback.
_DEVICE_ID = re.compile(
    r"^([0-9]+|GPU-[0-9a-fA-F-]{8,}|MIG-[0-9a-fA-F-]{8,}|MIG-GPU-[\w/-]+)$"
)


def parse_gpus_option(value: str | None) -> list[DeviceRequest] | None:
    """Parse all / N / device=ID[,ID...]; None means no GPU for the container."""
    text = _unquoted((value or "").strip())
    refuse_plus("--gpus", value or "", text)  # as every number flag: not 1
    if value is not None and not text:
        # As every other flag given an empty value: not read as "no GPU".
        raise InputError(
            f"--gpus {value!r} gives no GPU selection",
            hint=f"{GPUS_FIX}; or leave --gpus out (or --gpus 0) for none",
        )
    if text.lower() in ("", "none") or re.fullmatch("0+", text):
        return None
    if text.lower() == "all":
        return [_request(count=-1)]
    if re.fullmatch("[0-9]+", text):
        return [_request(count=int(text))]
    if text.startswith("device="):
        ids = [part.strip() for part in text[len("device=") :].split(",")]
        if ids == [""]:
            raise InputError(f"--gpus {value!r} names no GPU", hint=GPUS_FIX)
        bad = ", ".join(repr(part) for part in ids if not _DEVICE_ID.fullmatch(part))
        if bad:
            raise InputError(
                f"--gpus {value!r}: {bad} is not a GPU index or UUID", hint=GPUS_FIX
            )
        # 0 and 00 are one GPU: by number for indexes, as written for UUIDs.
        if len({int(i) if i.isdigit() else i for i in ids}) != len(ids):
            raise InputError(f"--gpus {value!r} names a GPU twice", hint=GPUS_FIX)
        return [_request(device_ids=ids)]
    raise InputError(f"--gpus {value!r} is not a GPU selection", hint=GPUS_FIX)


def _unquoted(text: str) -> str:
    """Take off one pair of matching quotes around the whole value, as Docker's
    own spelling `--gpus '"device=0,2"'` has; a lone or unmatched quote stays
    (and is refused): stripping any quote on either end let `"all` through."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].strip()
    return text


def _request(*, count: int = 0, device_ids: list[str] | None = None) -> DeviceRequest:
    # Same request as `docker run --gpus`: no driver named (the engine picks the
    # one serving the "gpu" capability, the NVIDIA runtime hook or CDI).
    return DeviceRequest(
        driver="", count=count, device_ids=device_ids, capabilities=[["gpu"]]
    )


def recorded_gpus(value: str | None) -> str | None:
    """Return the `options.gpus` a run records for a --gpus value.

    None when it asks for no GPU ("0", "00", "none"), as when --gpus is not
    given: a run with `--gpus 0` recorded "0", and compare called that a setup
    difference from a run without --gpus. Else one spelling per selection
    ("02" and "2", "device=0, 2" and "device=0,2" are one choice).
    """
    return describe_gpus(parse_gpus_option(value))


def describe_gpus(requests: list[DeviceRequest] | None) -> str | None:
    """Return the record's `options.gpus` text for these requests."""
    if not requests:
        return None
    request = requests[0]
    if request.device_ids:
        return "device=" + ",".join(request.device_ids)
    return "all" if request.count == -1 else str(request.count)
