"""Read the host's NVIDIA driver from nvidia-smi and check it against the image."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from reprobox.errors import CompatibilityError, InputError
from reprobox.gpu.table import (
    major_minor,
    max_cuda_for_driver,
    min_driver_for_cuda,
    version_tuple,
)
from reprobox.proc import run_command

CSV_FIELDS = ("name", "driver_version", "memory.total", "compute_cap")
NO_DRIVER_FIX = (
    "install the NVIDIA driver and the NVIDIA Container Toolkit on this host, "
    "or run without --gpus"
)

_BANNER = re.compile(
    r"Driver Version:\s*(?P<driver>[\d.]+)\s+CUDA Version:\s*(?P<cuda>[\d.]+|N/A)"
)
_BANNER_GPU = re.compile(r"^\|\s+(?P<index>\d+)\s+(?P<name>.+?)\s+(?:On|Off)\s+\|")
_BANNER_MEM = re.compile(r"(?P<used>\d+)MiB\s*/\s*(?P<total>\d+)MiB")
_Q_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[^:]+?)\s*:\s*(?P<value>.*)$")
_Q_GPU = re.compile(r"^GPU\s+([0-9A-Fa-f:.]+)\s*$")


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as nvidia-smi shows it (fields it did not show are None)."""

    index: int
    name: str
    memory_total_mib: int | None = None
    compute_cap: str | None = None
    uuid: str | None = None


@dataclass(frozen=True)
class HostGpus:
    """The host's driver, the newest CUDA it supports and its GPUs."""

    driver: str
    cuda: str | None
    gpus: tuple[GpuInfo, ...]


@dataclass(frozen=True)
class DriverCheck:
    """The verdict of check_driver when the image can run."""

    mode: str  # "native" or "minor-version-compatibility"
    note: str | None = None


def no_driver_reason(text: str) -> str | None:
    """Return why nvidia-smi output shows no usable driver, or None if it does."""
    lowered = text.lower()
    if "command not found" in lowered or "no such file" in lowered:
        return "nvidia-smi not found: no NVIDIA driver is installed on this host"
    if "couldn't communicate with the nvidia driver" in lowered:
        return (
            "nvidia-smi cannot reach the NVIDIA driver: it is not loaded "
            "(after a kernel update, reinstall or reboot)"
        )
    if "no devices were found" in lowered:
        return "the NVIDIA driver sees no GPU on this host"
    return None


def parse_nvidia_smi(text: str) -> HostGpus:
    """Read any of the three nvidia-smi layouts: banner, CSV query or -q."""
    reason = no_driver_reason(text)
    if reason:
        raise CompatibilityError(reason, hint=NO_DRIVER_FIX)
    if "NVSMI LOG" in text or re.search(r"^Driver Version\s+:", text, re.MULTILINE):
        return parse_nvidia_smi_query(text)
    if _BANNER.search(text):
        return parse_nvidia_smi_banner(text)
    return parse_nvidia_smi_csv(text)


def parse_nvidia_smi_banner(text: str) -> HostGpus:
    """Read the table plain `nvidia-smi` prints."""
    head = _BANNER.search(text)
    if not head:
        raise InputError("no 'Driver Version' in the nvidia-smi output")
    lines = text.splitlines()
    gpus = []
    for number, line in enumerate(lines):
        match = _BANNER_GPU.match(line)
        if not match or "Processes" in line:
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        memory = _BANNER_MEM.search(following)
        gpus.append(
            GpuInfo(
                index=int(match.group("index")),
                name=match.group("name").strip(),
                memory_total_mib=int(memory.group("total")) if memory else None,
            )
        )
    cuda = head.group("cuda")
    return HostGpus(head.group("driver"), None if cuda == "N/A" else cuda, tuple(gpus))


def parse_nvidia_smi_csv(text: str, fields: tuple[str, ...] = CSV_FIELDS) -> HostGpus:
    """Read `nvidia-smi --query-gpu=<fields> --format=csv,noheader[,nounits]`."""
    rows = [line for line in text.splitlines() if line.strip()]
    if rows and rows[0].replace(" ", "").lower().startswith(fields[0] + ","):
        rows = rows[1:]  # a header line: --format=csv without noheader
    if not rows:
        raise InputError("nvidia-smi printed no GPU lines")
    gpus, drivers = [], set()
    for index, row in enumerate(rows):
        cells = [cell.strip() for cell in row.split(",")]
        if len(cells) != len(fields):
            raise InputError(
                f"nvidia-smi line {row!r} has {len(cells)} fields, expected "
                f"{len(fields)} ({','.join(fields)})"
            )
        values = {key: _known(value) for key, value in zip(fields, cells, strict=False)}
        if values.get("driver_version"):
            drivers.add(values["driver_version"])
        memory = values.get("memory.total")
        gpus.append(
            GpuInfo(
                index=int(values["index"]) if values.get("index") else index,
                name=values.get("name") or "",
                memory_total_mib=int(memory.split()[0]) if memory else None,
                compute_cap=values.get("compute_cap"),
                uuid=values.get("uuid"),
            )
        )
    if len(drivers) != 1:
        raise InputError("nvidia-smi output names no single driver version")
    return HostGpus(drivers.pop(), None, tuple(gpus))


def parse_nvidia_smi_query(text: str) -> HostGpus:
    """Read the `nvidia-smi -q` report."""
    driver = cuda = None
    gpus: list[dict] = []
    section = None
    for line in text.splitlines():
        if _Q_GPU.match(line):
            gpus.append({"index": len(gpus)})
            section = None
            continue
        match = _Q_LINE.match(line)
        if not match:
            heading = line.strip()
            if heading:
                section = heading
            continue
        key, value = match.group("key").strip(), _known(match.group("value"))
        if not gpus:
            driver = value if key == "Driver Version" else driver
            cuda = value if key in ("CUDA Version", "CUDA Driver Version") else cuda
            continue
        gpu = gpus[-1]
        if key == "Product Name":
            gpu["name"] = value
        elif key == "GPU UUID":
            gpu["uuid"] = value
        elif key == "Minor Number" and value and value.isdigit():
            gpu["minor"] = int(value)
        elif key == "Total" and section == "FB Memory Usage" and value:
            gpu["memory_total_mib"] = int(value.split()[0])
    if not driver:
        raise InputError("no 'Driver Version' in the nvidia-smi -q output")
    infos = tuple(
        GpuInfo(
            index=gpu["index"],
            name=gpu.get("name") or "",
            memory_total_mib=gpu.get("memory_total_mib"),
            uuid=gpu.get("uuid"),
        )
        for gpu in gpus
    )
    return HostGpus(driver, cuda, infos)


def _known(value: str) -> str | None:
    value = value.strip()
    if not value or value.startswith("[") or value in ("N/A", "Not Supported"):
        return None
    return value


def probe_host_gpus() -> HostGpus:
    """Run nvidia-smi on this host and return its driver and GPUs."""
    try:
        proc = run_command(["nvidia-smi", "-q"], check=False, timeout=30)
    except FileNotFoundError:
        raise CompatibilityError(
            no_driver_reason("command not found"), hint=NO_DRIVER_FIX
        ) from None
    except subprocess.TimeoutExpired:
        raise CompatibilityError(
            "nvidia-smi did not answer within 30 s: the driver is hung",
            hint="check `dmesg` for NVRM errors and reset or reboot the GPU host",
        ) from None
    output = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        reason = no_driver_reason(output) or f"nvidia-smi failed: {output.strip()}"
        raise CompatibilityError(reason, hint=NO_DRIVER_FIX)
    return parse_nvidia_smi(output)


def check_driver(
    host_driver: str,
    host_max_cuda: str | None,
    image_cuda: str,
    *,
    framework: str | None = None,
) -> DriverCheck:
    """Refuse an image whose CUDA the host driver cannot run; else say how it runs."""
    max_cuda = host_max_cuda or max_cuda_for_driver(host_driver)
    if max_cuda and major_minor(max_cuda) >= major_minor(image_cuda):
        return DriverCheck("native")

    needed = min_driver_for_cuda(image_cuda)
    if version_tuple(host_driver) >= version_tuple(needed):
        return DriverCheck(
            "minor-version-compatibility",
            note=(
                f"driver {host_driver} supports CUDA up to {max_cuda}; the image's "
                f"CUDA {image_cuda} runs through minor version compatibility "
                "(code that needs PTX JIT for a newer GPU may fail)"
            ),
        )

    supports = (
        f"supports CUDA up to {max_cuda}" if max_cuda else "is older than CUDA 10"
    )
    older = f"an older {framework}" if framework else "an older framework version"
    raise CompatibilityError(
        f"driver {host_driver} {supports}; the image needs CUDA {image_cuda}, "
        f"which needs driver ≥ {needed}; upgrade the driver or pin {older}"
    )


def compat_library_path_allowed(host_driver_cuda: str | None, image_cuda: str) -> bool:
    """Say whether the image's CUDA compat libraries may go on LD_LIBRARY_PATH.

    Only when the host driver is older than the image's CUDA: over a newer host
    driver the compat libcuda shadows it and CUDA fails to start.
    """
    if not host_driver_cuda:
        return False
    return major_minor(host_driver_cuda) < major_minor(image_cuda)
