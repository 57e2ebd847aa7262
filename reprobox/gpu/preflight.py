"""Check, before any container exists, that this machine can run the image on GPUs.

The probe reads the local NVIDIA driver with nvidia-smi. When the Docker engine
is elsewhere (`--host tcp://...`, `ssh://...`, a `--context`, or DOCKER_HOST),
the local driver says nothing about the engine's: the check is skipped and the
returned requests carry a warning saying so. Every engine, near or far, is
then asked whether it can hand GPUs to a container at all.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from docker.types import DeviceRequest

from reprobox.engine import Engine, engine_address, engine_runtimes
from reprobox.errors import CompatibilityError
from reprobox.gpu.devices import parse_gpus_option
from reprobox.gpu.driver import HostGpus, check_driver, probe_host_gpus
from reprobox.lock.indexes import redact_url

GPU_HOST_FIX = "run without --gpus or on a GPU host"
ENGINE_GPU_FIX = (
    "run without --gpus, or on an engine with the NVIDIA container runtime: "
    "`nvidia-ctk runtime configure --runtime=docker`, then restart dockerd"
)
# Docker serves --gpus through this program of NVIDIA's container toolkit; it
# looks for it on its own PATH, which holds these folders on every distribution.
NVIDIA_HOOK = "nvidia-container-runtime-hook"
_HOOK_PATH = os.pathsep.join(
    ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin")
)
_LOCAL_SCHEMES = ("unix://", "npipe://")


class GpuRequests(list):
    """The device requests for the container, and what the preflight found.

    A plain list of DeviceRequest for the engine; `checked` is False when the
    driver could not be checked here (a remote engine), and `warnings` says why.
    """

    def __init__(
        self,
        requests: Sequence[DeviceRequest],
        *,
        checked: bool,
        mode: str | None = None,
        driver: str | None = None,
        warnings: Sequence[str] = (),
    ) -> None:
        super().__init__(requests)
        self.checked = checked
        self.mode = mode
        self.driver = driver
        self.warnings = tuple(warnings)


def gpu_preflight(
    manifest: Mapping[str, Any],
    gpus_option: str | None,
    *,
    probe: Callable[[], HostGpus] = probe_host_gpus,
    remote: bool = False,
    environ: Mapping[str, str] | None = None,
) -> GpuRequests | None:
    """Return the device requests for --gpus after checking this host can serve them.

    None when no GPU is asked for. Raises CompatibilityError when the image was
    frozen without GPU support, the machine has no NVIDIA driver or too few
    GPUs, or the driver is too old for the image's CUDA. remote says the run
    goes to engines named with --host/--context, whose driver is not probed.
    """
    requests = parse_gpus_option(gpus_option)
    if requests is None:
        return None
    label = f"--gpus {(gpus_option or '').strip()}"
    warnings = _image_warnings(manifest, label)

    where = remote_engine(remote, environ)
    if where:
        warnings.append(
            f"{label}: the Docker engine ({where}) may be another machine, so "
            "its NVIDIA driver is not checked before the run"
        )
        return GpuRequests(requests, checked=False, warnings=warnings)

    host = _probe(probe, label)
    _check_selection(requests[0], host, label)
    cuda = (manifest.get("gpu") or {}).get("cuda")
    if not cuda:
        return GpuRequests(
            requests, checked=True, driver=host.driver, warnings=warnings
        )
    try:
        verdict = check_driver(
            host.driver, host.cuda, cuda, framework=_framework_of(manifest, cuda)
        )
    except CompatibilityError as exc:
        raise CompatibilityError(f"{label}: {exc.message}", hint=exc.hint) from None
    if verdict.note:
        warnings.append(f"{label}: {verdict.note}")
    return GpuRequests(
        requests,
        checked=True,
        mode=verdict.mode,
        driver=host.driver,
        warnings=warnings,
    )


def check_engine_gpus(
    engine: Engine,
    gpus_option: str,
    *,
    local: bool,
    fix: str = ENGINE_GPU_FIX,
    runtimes: Callable[[Engine], Mapping[str, str]] = engine_runtimes,
    find: Callable[..., str | None] = shutil.which,
) -> None:
    """Refuse --gpus on an engine that cannot hand GPUs to a container.

    An engine set up with NVIDIA's container toolkit lists an nvidia runtime
    in `docker info`. An older setup only put the toolkit's hook where dockerd
    finds it: on this machine (local) that is seen on disk; on another machine
    nothing shows it, so such an engine is refused, with the one command that
    registers the runtime it already has.
    """
    found = runtimes(engine)
    if any("nvidia" in f"{name} {path}".lower() for name, path in found.items()):
        return
    if local and find(
        NVIDIA_HOOK, path=f"{os.environ.get('PATH', '')}{os.pathsep}{_HOOK_PATH}"
    ):
        return
    raise CompatibilityError(
        f"--gpus {gpus_option.strip()}: the Docker engine at "
        f"{redact_url(engine_address(engine))} has no NVIDIA container runtime",
        hint=fix,
    )


def remote_engine(
    remote: bool = False, environ: Mapping[str, str] | None = None
) -> str | None:
    """Return where the engine is when it may not be this machine, else None."""
    environ = os.environ if environ is None else environ
    if remote:
        return "given with --host or --context"
    context = environ.get("DOCKER_CONTEXT", "")
    if context not in ("", "default"):
        return f"DOCKER_CONTEXT={context}"
    env_host = environ.get("DOCKER_HOST", "")
    if env_host and not env_host.startswith(_LOCAL_SCHEMES):
        return f"DOCKER_HOST={redact_url(env_host)}"
    return None


def _image_warnings(manifest: Mapping[str, Any], label: str) -> list[str]:
    """Refuse GPUs for a TensorFlow image frozen without them; warn for others."""
    gpu = manifest.get("gpu") or {}
    if gpu.get("enabled"):
        return []
    tensorflow = (manifest.get("frameworks") or {}).get("tensorflow")
    if tensorflow:
        package = tensorflow.get("package", "tensorflow")
        version = tensorflow.get("version", "")
        fix = (
            f"pin tensorflow=={version} instead of {package}, then run "
            "`reprobox freeze --gpu`"
            if package != "tensorflow"
            else "run `reprobox freeze --gpu` first"
        )
        raise CompatibilityError(
            f"{label}: the image was frozen without GPU support ({package} "
            f"{version} in it cannot use a GPU); {fix}"
        )
    warning = (
        f"{label}: the image was frozen without --gpu, so its CUDA is not "
        "checked against the driver"
    )
    return [warning]


def _probe(probe: Callable[[], HostGpus], label: str) -> HostGpus:
    try:
        host = probe()
    except CompatibilityError as exc:
        if "nvidia-smi not found" in exc.message:
            reason = "no NVIDIA driver on this machine (nvidia-smi not found)"
        else:
            reason = exc.message
        raise CompatibilityError(f"{label}: {reason}; {GPU_HOST_FIX}") from None
    if not host.gpus:
        raise CompatibilityError(
            f"{label}: the NVIDIA driver {host.driver} sees no GPU on this "
            f"machine; {GPU_HOST_FIX}"
        )
    return host


def _check_selection(request: DeviceRequest, host: HostGpus, label: str) -> None:
    have = len(host.gpus)
    if request.count and request.count > have:
        raise CompatibilityError(
            f"{label}: this machine has {have} GPU{'s' if have != 1 else ''}",
            hint=f"use --gpus {have} or --gpus all",
        )
    indexes = {str(gpu.index) for gpu in host.gpus}
    uuids = {gpu.uuid for gpu in host.gpus if gpu.uuid}
    for device in request.device_ids or []:
        unknown = (device.isdigit() and device not in indexes) or (
            device.startswith("GPU-") and uuids and device not in uuids
        )
        if unknown:
            shown = ", ".join(sorted(indexes, key=int))
            raise CompatibilityError(
                f"{label}: this machine has no GPU {device}",
                hint=f"GPU indexes here: {shown}",
            )


def _framework_of(manifest: Mapping[str, Any], cuda: str) -> str | None:
    for name, facts in sorted((manifest.get("frameworks") or {}).items()):
        if isinstance(facts, Mapping) and facts.get("cuda") == cuda:
            return name
    return None
