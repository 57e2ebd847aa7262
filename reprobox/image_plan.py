"""Plan a frozen image from its framework pins: base, Python, lock lines, CUDA.

A CPU image keeps the project's base and requirement lines. A GPU image (asked
for with `freeze --gpu`, or by a torch +cuXYZ pin) follows reprobox's CUDA
table: TensorFlow 2.14+ becomes tensorflow[and-cuda] so the lock pins the
nvidia-* wheels; older TensorFlow gets a CUDA base image with the right cuDNN
and the distribution's Python; torch builds come from PyTorch's index.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from reprobox.config import DEFAULT_BASE_IMAGE, ProjectConfig
from reprobox.dockerfile import GpuImage
from reprobox.envvars import FORBIDDEN
from reprobox.errors import CompatibilityError, InputError, LockError
from reprobox.gpu.plan import TORCH_INDEX, GpuPlan, cuda_of_image, plan_gpu_image
from reprobox.gpu.table import (
    find_base_image,
    lookup_tensorflow,
    min_driver_for_cuda,
    version_tuple,
)
from reprobox.lock.entries import canonical_name
from reprobox.runtime.gpu_facts import DETERMINISTIC_CUBLAS, STRICT_GPU_ENV

FRAMEWORK_PACKAGES = {
    "jax": "jax",
    "keras": "keras",
    "tensorflow": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "tf-nightly": "tensorflow",
    "torch": "torch",
}
# Packages whose pin decides the CUDA and cuDNN of a GPU image.
GPU_FRAMEWORKS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "torch")
# The python3 package of the systems under the CUDA base images, and the glibc
# whose wheels the lock is resolved for. Ubuntu 20.04 has glibc 2.31, but the pip
# its python3-venv brings (20.0) reads no wheel tag newer than manylinux2014.
DISTRO_FACTS = {
    "ubuntu20.04": ("3.8", "2.17"),
    "ubuntu22.04": ("3.10", "2.35"),
    "ubuntu24.04": ("3.12", "2.39"),
}
DEFAULT_GLIBC = "2.36"  # Debian bookworm, under the python:*-slim-bookworm bases
_OS_TAG = re.compile(r"-(ubuntu\d{2}\.\d{2})$")


@dataclass(frozen=True)
class ImagePlan:
    """How the image is made: base, Python, what to resolve, and its GPU facts."""

    base_image: str
    install_python: str | None
    glibc: str
    requirements: tuple[str, ...]
    extra_index_urls: tuple[str, ...]
    gpu: GpuPlan | None
    warnings: tuple[str, ...] = ()

    def gpu_image(self) -> GpuImage | None:
        """Return what the Dockerfile states about CUDA, or None for a CPU image."""
        plan = self.gpu
        if plan is None:
            return None
        if plan.cuda is None or plan.min_driver is None:
            return GpuImage(None, None, None, cuda_source="unknown")
        from_base = any(fw.cuda_source == "base-image" for fw in plan.frameworks)
        return GpuImage(
            cuda=plan.cuda,
            cudnn=_newest_cudnn(plan),
            min_driver=plan.min_driver,
            cuda_source="base-image" if from_base else "pip-wheels",
        )


def exact_pins(lines: Sequence[str]) -> dict[str, str]:
    """Return name -> version for the lines that pin one exact version."""
    pins = {}
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        specs = list(requirement.specifier)
        if requirement.url or len(specs) != 1 or specs[0].operator not in ("==", "==="):
            continue
        if "*" not in specs[0].version:
            pins[canonical_name(requirement.name)] = specs[0].version
    return pins


def pins_ask_for_gpu(pins: Mapping[str, str]) -> bool:
    """Say whether the pins themselves ask for a GPU image (+cuXYZ, tensorflow-gpu)."""
    torch_label = pins.get("torch", "").partition("+")[2]
    return torch_label.startswith("cu") or "tensorflow-gpu" in pins


def frameworks_to_pin(lines: Sequence[str], pins: Mapping[str, str]) -> list[str]:
    """Return the GPU frameworks the lines name without an exact version."""
    named = set()
    for line in lines:
        try:
            named.add(canonical_name(Requirement(line).name))
        except InvalidRequirement:
            continue
    return sorted(name for name in GPU_FRAMEWORKS if name in named and name not in pins)


def plan_image(
    cfg: ProjectConfig,
    lines: Sequence[str],
    *,
    gpu: bool = False,
    base_cudnn: str | None = None,
    versions: Mapping[str, str] | None = None,
) -> ImagePlan:
    """Decide base image, Python and requirement lines; refuse what cannot fit.

    versions gives resolved versions of frameworks the lines do not pin exactly.
    """
    pins = {**(versions or {}), **exact_pins(lines)}
    if not (gpu or pins_ask_for_gpu(pins)):
        if base_cudnn is not None:
            raise InputError(
                f"--base-cudnn {base_cudnn} is for a GPU image, and this freeze "
                "makes none",
                hint="add --gpu, or drop --base-cudnn",
            )
        return ImagePlan(
            base_image=cfg.base_image,
            install_python=None,
            glibc=DEFAULT_GLIBC,
            requirements=tuple(lines),
            extra_index_urls=_torch_build_index(pins),
            gpu=None,
        )

    framework_pins = {name: pins[name] for name in GPU_FRAMEWORKS if name in pins}
    checked_base = _base_to_check(cfg, framework_pins)
    if base_cudnn is not None and checked_base is None:
        raise InputError(
            f"--base-cudnn {base_cudnn} names the cuDNN of the base image, but "
            f"{cfg.key('base_image')} ({cfg.base_image}) is not a CUDA image "
            "whose cuDNN is checked",
            hint=f"set {cfg.key('base_image')} in {cfg.source.name} to your CUDA "
            "base image, or drop --base-cudnn",
        )
    plan = plan_gpu_image(framework_pins, checked_base, base_cudnn, cfg.python)
    base = plan.base_image or cfg.base_image
    distro = plan.base_os or _os_of_tag(base)
    install_python = None
    if plan.install_python:
        install_python = _distro_python(base, distro, cfg.python)
    glibc = DISTRO_FACTS[distro][1] if distro in DISTRO_FACTS else DEFAULT_GLIBC
    return ImagePlan(
        base_image=base,
        install_python=install_python,
        glibc=glibc,
        requirements=_gpu_requirements(lines, plan),
        extra_index_urls=plan.extra_index_urls,
        gpu=plan,
        warnings=plan.warnings,
    )


def _base_to_check(cfg: ProjectConfig, framework_pins: Mapping[str, str]) -> str | None:
    """Return the user's base image when its CUDA and cuDNN matter, else None.

    The default base is no choice of the user's: older TensorFlow replaces it
    with a CUDA base. A plain base (no CUDA) matters only to a framework that
    takes CUDA from the base; pip-wheel CUDA runs on any glibc Linux.
    """
    base = cfg.base_image
    if base == DEFAULT_BASE_IMAGE.format(python=cfg.python):
        return None
    if cuda_of_image(base) or find_base_image(base):
        return base
    return base if _takes_cuda_from_base(framework_pins) else None


def _takes_cuda_from_base(framework_pins: Mapping[str, str]) -> bool:
    return any(
        not lookup_tensorflow(framework_pins[name]).pip_cuda
        for name in ("tensorflow", "tensorflow-gpu")
        if name in framework_pins
    )


def _torch_build_index(pins: Mapping[str, str]) -> tuple[str, ...]:
    # A torch pin with a local label (+cpu, +cu124) exists only on PyTorch's index.
    label = pins.get("torch", "").partition("+")[2]
    return (
        (TORCH_INDEX.format(tag=label),) if re.fullmatch(r"cpu|cu\d{3}", label) else ()
    )


def _os_of_tag(image: str) -> str | None:
    match = _OS_TAG.search(image.split("@", 1)[0])
    return match.group(1) if match else None


def _distro_python(base: str, distro: str | None, python: str) -> str:
    """Return the Python the base's python3 package installs; refuse another one."""
    known = ", ".join(f"{name}: {facts[0]}" for name, facts in DISTRO_FACTS.items())
    rule = (
        f"a CUDA base image gets its distribution's python3 ({known}), which must "
        "equal the config's python"
    )
    if distro not in DISTRO_FACTS:
        raise CompatibilityError(
            f"base image {base} has no Python and reprobox cannot tell which "
            f"Python its system installs; {rule}",
            hint="use an nvidia/cuda *-ubuntu20.04/22.04/24.04 base, or a base "
            "that has the configured Python",
        )
    have = DISTRO_FACTS[distro][0]
    if have != python:
        raise CompatibilityError(
            f"base image {base} ({distro}) installs Python {have}, but the config "
            f"asks for Python {python}; {rule}",
            hint=f'set python = "{have}", or pin a framework whose CUDA comes as '
            "pip wheels (tensorflow 2.14 or newer, torch)",
        )
    return have


def _gpu_requirements(lines: Sequence[str], plan: GpuPlan) -> tuple[str, ...]:
    # The plan's lines (tensorflow[and-cuda]==X, torch==X+cuYYY) replace the
    # framework lines, so the resolver pins the nvidia-* wheels into the lock.
    kept = []
    for line in lines:
        try:
            name = canonical_name(Requirement(line).name)
        except InvalidRequirement:
            name = None
        if name not in plan.replaces:
            kept.append(line)
    return tuple(sorted(kept + list(plan.requirements), key=_requirement_sort_key))


def _requirement_sort_key(line: str) -> tuple[str, str]:
    try:
        return canonical_name(Requirement(line).name), line
    except InvalidRequirement:
        return line, line


def _newest_cudnn(plan: GpuPlan) -> str | None:
    if not plan.frameworks:
        return None
    return max((fw.cudnn for fw in plan.frameworks), key=version_tuple)


def check_nvidia_wheels(plan: ImagePlan, pins: Mapping[str, str]) -> None:
    """Refuse a GPU lock whose tensorflow[and-cuda] brought no nvidia-* wheels."""
    if plan.gpu is None:
        return
    needs = [
        fw.name
        for fw in plan.gpu.frameworks
        if fw.name == "tensorflow" and fw.cuda_source == "pip-wheels"
    ]
    if needs and not any(name.startswith("nvidia-cudnn") for name in pins):
        raise LockError(
            "tensorflow[and-cuda] resolved without the nvidia-cudnn wheel, so the "
            "image would have no GPU support",
            hint="check that the index serves the nvidia-* wheels for linux/x86_64",
        )


def manifest_frameworks(
    pins: Mapping[str, str], plan: GpuPlan | None
) -> dict[str, Any]:
    """Return the manifest's `frameworks`: package, version, cuda, cudnn, min_driver."""
    found: dict[str, Any] = {}
    for package, framework in sorted(FRAMEWORK_PACKAGES.items()):
        if package in pins:
            found[framework] = {
                "cuda": None, "cudnn": None, "min_driver": None,
                "package": package, "version": pins[package],
            }  # fmt: skip
    for name, facts in (plan.manifest_frameworks() if plan else {}).items():
        entry = found.get(FRAMEWORK_PACKAGES.get(name, name))
        if entry is not None:
            entry.update(
                cuda=facts["cuda"],
                cudnn=facts["cudnn"],
                min_driver=min_driver_for_cuda(facts["cuda"]),
            )
    return found


def manifest_gpu(plan: ImagePlan) -> dict[str, Any]:
    """Return the manifest's `gpu` field for an image plan."""
    gpu = plan.gpu
    return {
        "base": plan.base_image if gpu else None,
        "cuda": gpu.cuda if gpu else None,
        "cudnn": _newest_cudnn(gpu) if gpu else None,
        "enabled": gpu is not None,
        "min_driver": gpu.min_driver if gpu else None,
    }


def strict_gpu_environment(
    env: Mapping[str, str], profile: str
) -> tuple[dict[str, str], list[str]]:
    """Add the strict profile's GPU settings; never a kernel-autotuning one."""
    out, warnings = dict(env), []
    if profile == "strict":
        for name, value in STRICT_GPU_ENV.items():
            if out.get(name) in DETERMINISTIC_CUBLAS:
                continue
            if name in out:
                warnings.append(
                    f"{name}={out[name]} is not a deterministic cuBLAS setting; "
                    f"the strict profile sets {value}"
                )
            out[name] = value
    for name in FORBIDDEN:
        out.pop(name, None)
    return dict(sorted(out.items())), warnings
