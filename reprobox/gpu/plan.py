"""Choose how a GPU image gets CUDA and cuDNN, and refuse what cannot fit."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import canonicalize_name

from reprobox.errors import CompatibilityError
from reprobox.gpu.table import (
    BaseImage,
    TFRow,
    base_images,
    find_base_image,
    lookup_tensorflow,
    lookup_torch,
    major_minor,
    min_driver_for_cuda,
    version_tuple,
)

TORCH_INDEX = "https://download.pytorch.org/whl/{tag}"
_CUDA_TAG = re.compile(r"^(?:[\w.-]+/)*cuda:(\d+\.\d+(?:\.\d+)?)-")
_LOCAL_BUILD = re.compile(r"^cu\d{3}$")


@dataclass(frozen=True)
class FrameworkGpu:
    """What one framework pin needs from the image."""

    name: str
    version: str
    cuda: str
    cudnn: str
    cuda_source: str  # "pip-wheels" (nvidia-* wheels) or "base-image"


@dataclass(frozen=True)
class GpuPlan:
    """Everything the Dockerfile renderer and the locker need for a GPU image."""

    python: str
    frameworks: tuple[FrameworkGpu, ...]
    requirements: tuple[str, ...]
    replaces: tuple[str, ...]
    base_image: str | None
    base_cuda: str | None
    base_cudnn: str | None
    base_os: str | None
    install_python: bool
    extra_index_urls: tuple[str, ...]
    nvidia_pins_required: bool
    cuda: str | None
    min_driver: str | None
    warnings: tuple[str, ...] = field(default=())

    def manifest_frameworks(self) -> dict[str, dict[str, str]]:
        """Return the manifest's `frameworks` field: name -> {version, cuda, cudnn}."""
        return {
            fw.name: {"version": fw.version, "cuda": fw.cuda, "cudnn": fw.cudnn}
            for fw in sorted(self.frameworks, key=lambda f: f.name)
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the plan as plain, JSON-ready data."""
        return {
            "base_cuda": self.base_cuda,
            "base_cudnn": self.base_cudnn,
            "base_image": self.base_image,
            "base_os": self.base_os,
            "cuda": self.cuda,
            "extra_index_urls": list(self.extra_index_urls),
            "frameworks": self.manifest_frameworks(),
            "install_python": self.install_python,
            "min_driver": self.min_driver,
            "nvidia_pins_required": self.nvidia_pins_required,
            "python": self.python,
            "replaces": list(self.replaces),
            "requirements": list(self.requirements),
            "warnings": list(self.warnings),
        }


def cudnn_fits(have: str, need: str) -> bool:
    """Say whether a cuDNN runtime serves a build: same major, equal or newer minor."""
    have_mm, need_mm = major_minor(have), major_minor(need)
    return have_mm[0] == need_mm[0] and have_mm[1] >= need_mm[1]


def cuda_fits(have: str, need: str) -> bool:
    """Say whether a CUDA runtime serves a build: same major, equal or newer minor."""
    have_mm, need_mm = major_minor(have), major_minor(need)
    return have_mm[0] == need_mm[0] and have_mm[1] >= need_mm[1]


def fitting_base(cuda: str, cudnn: str) -> BaseImage | None:
    """Return the closest table base image that serves this CUDA and cuDNN."""
    for base in base_images():
        if cuda_fits(base.cuda, cuda) and cudnn_fits(base.cudnn, cudnn):
            return base
    return None


def cuda_of_image(image: str) -> str | None:
    """Read the CUDA version from an nvidia/cuda-style tag, if it has one."""
    match = _CUDA_TAG.match(image)
    return match.group(1) if match else None


def plan_gpu_image(
    framework_pins: dict[str, str],
    base_image: str | None,
    base_cudnn: str | None,
    python: str,
) -> GpuPlan:
    """Plan the CUDA/cuDNN of a GPU image for the pinned frameworks, or refuse."""
    pins = {
        canonicalize_name(name): version for name, version in framework_pins.items()
    }
    _refuse_cpu_only_packages(pins)
    known = _known_base(base_image, base_cudnn)

    frameworks: list[FrameworkGpu] = []
    requirements: list[str] = []
    replaces: list[str] = []
    indexes: list[str] = []
    warnings: list[str] = []
    nvidia_pins = False
    chosen: BaseImage | None = None

    for name in ("tensorflow", "tensorflow-gpu"):
        if name not in pins:
            continue
        version = pins[name]
        row = lookup_tensorflow(version)
        _check_python("tensorflow", version, python, row.python_min, row.python_max)
        fw = FrameworkGpu(
            name=name,
            version=version,
            cuda=row.cuda,
            cudnn=row.cudnn,
            cuda_source="pip-wheels" if row.pip_cuda else "base-image",
        )
        frameworks.append(fw)
        replaces.append(name)
        if row.pip_cuda:
            requirements.append(f"tensorflow[and-cuda]=={version}")
            nvidia_pins = nvidia_pins or row.nvidia_wheels == "ranges"
            if known is not None:
                _check_base(fw, known, base_image)
        else:
            requirements.append(f"{name}=={version}")
            chosen = _base_for_old_tensorflow(fw, row, base_image, known)

    if "torch" in pins:
        fw, line, index = _plan_torch(pins["torch"], python)
        frameworks.append(fw)
        requirements.append(line)
        replaces.append("torch")
        if index:
            indexes.append(index)
        if known is not None:
            _check_base(fw, known, base_image)

    if not frameworks:
        warnings.append(
            "no pinned package is a framework reprobox can check (tensorflow, "
            "torch): CUDA, cuDNN and the driver are not checked for this image"
        )
    if base_image and known is None:
        warnings.append(
            f"the cuDNN in base image {base_image} is unknown to reprobox; pass "
            "its cuDNN version so it can be checked"
        )

    cuda = _newest([fw.cuda for fw in frameworks])
    base = chosen or known
    return GpuPlan(
        python=python,
        frameworks=tuple(sorted(frameworks, key=lambda f: f.name)),
        requirements=tuple(sorted(requirements)),
        replaces=tuple(sorted(replaces)),
        base_image=chosen.image if chosen else base_image,
        base_cuda=base.cuda if base else None,
        base_cudnn=base.cudnn if base else None,
        base_os=base.os if base else None,
        install_python=bool(chosen) or bool(base_image and cuda_of_image(base_image)),
        extra_index_urls=tuple(sorted(set(indexes))),
        nvidia_pins_required=nvidia_pins,
        cuda=cuda,
        min_driver=min_driver_for_cuda(cuda) if cuda else None,
        warnings=tuple(warnings),
    )


def _refuse_cpu_only_packages(pins: dict[str, str]) -> None:
    if "tensorflow-cpu" in pins:
        raise CompatibilityError(
            f"tensorflow-cpu=={pins['tensorflow-cpu']} has no GPU support, so a GPU "
            "image would quietly train on the CPU",
            hint=f"pin tensorflow=={pins['tensorflow-cpu']} instead",
        )
    gpu_pkg = pins.get("tensorflow-gpu")
    if gpu_pkg and major_minor(gpu_pkg) >= (2, 12):
        raise CompatibilityError(
            f"tensorflow-gpu=={gpu_pkg} does not exist as a real package (the "
            "tensorflow-gpu name stopped at 2.11)",
            hint=f"pin tensorflow=={gpu_pkg}; it carries the GPU support",
        )
    torch = pins.get("torch", "")
    if "+" in torch and torch.split("+", 1)[1] in ("cpu", "cpu.cxx11.abi"):
        raise CompatibilityError(
            f"torch=={torch} is a CPU-only build, so a GPU image would quietly "
            "train on the CPU",
            hint=f"pin torch=={torch.split('+', 1)[0]} or a +cuXYZ build",
        )


@dataclass(frozen=True)
class _KnownBase:
    """A base image whose cuDNN (and maybe CUDA) reprobox knows."""

    image: str
    cuda: str | None
    cudnn: str
    os: str | None


def _known_base(base_image: str | None, base_cudnn: str | None) -> _KnownBase | None:
    if not base_image:
        return None
    entry = find_base_image(base_image)
    cuda = entry.cuda if entry else cuda_of_image(base_image)
    cudnn = base_cudnn or (entry.cudnn if entry else None)
    if cudnn is None:
        return None
    return _KnownBase(base_image, cuda, cudnn, entry.os if entry else None)


def _check_python(name: str, version: str, python: str, lo: str, hi: str) -> None:
    key = major_minor(python, what="Python version")
    if not major_minor(lo) <= key <= major_minor(hi):
        raise CompatibilityError(
            f"{name} {version} supports Python {lo}-{hi}, not Python {python}",
            hint=f"use Python {hi} for the image, or pin a {name} that supports "
            f"Python {python}",
        )


def _base_for_old_tensorflow(
    fw: FrameworkGpu, row: TFRow, base_image: str | None, known: _KnownBase | None
) -> BaseImage | None:
    if base_image is None:
        base = fitting_base(row.cuda, row.cudnn)
        if base is None:
            raise CompatibilityError(
                f"{fw.name} {fw.version} needs CUDA {row.cuda} with cuDNN "
                f"{row.cudnn}, and no CUDA base image in reprobox's table carries "
                "them",
                hint="pin tensorflow 2.4 or newer, or give a base image and its "
                "cuDNN version",
            )
        return base
    if known is None:
        raise CompatibilityError(
            f"{fw.name} {fw.version} takes cuDNN {row.cudnn} from the base image, "
            f"and the cuDNN of {base_image} is unknown",
            hint="pass the base image's cuDNN version, or leave the base image "
            "out and reprobox picks one that fits",
        )
    _check_base(fw, known, base_image)
    return None


def _check_base(fw: FrameworkGpu, known: _KnownBase, base_image: str) -> None:
    problems = []
    if known.cuda and not cuda_fits(known.cuda, fw.cuda):
        problems.append(f"CUDA {known.cuda}")
    if not cudnn_fits(known.cudnn, fw.cudnn):
        problems.append(f"cuDNN {known.cudnn}")
    if not problems:
        return
    fit = fitting_base(fw.cuda, fw.cudnn)
    hint = (
        f"use base image {fit.image} (CUDA {fit.cuda}, cuDNN {fit.cudnn})"
        if fit
        else "use a base image with the same CUDA and cuDNN major versions and "
        "an equal or newer minor"
    )
    raise CompatibilityError(
        f"{fw.name} {fw.version} was built with CUDA {fw.cuda} and cuDNN "
        f"{fw.cudnn}, but base image {base_image} carries "
        f"{' and '.join(problems)}; it would fail when it loads them",
        hint=hint,
    )


def _plan_torch(version: str, python: str) -> tuple[FrameworkGpu, str, str | None]:
    public, _, local = version.partition("+")
    row = lookup_torch(public)
    _check_python("torch", version, python, row.python_min, row.python_max)
    if local and not _LOCAL_BUILD.match(local):
        raise CompatibilityError(
            f"torch=={version} has a build label reprobox does not know ({local})",
            hint="pin the plain version or a +cuXYZ build",
        )
    build = row.build(local or None)
    # PyPI serves only the plain version; every +cuXYZ wheel is on PyTorch's index.
    index = TORCH_INDEX.format(tag=local) if local else None
    fw = FrameworkGpu(
        name="torch",
        version=version,
        cuda=build.cuda,
        cudnn=build.cudnn,
        cuda_source="pip-wheels",
    )
    return fw, f"torch=={version}", index


def _newest(versions: list[str]) -> str | None:
    if not versions:
        return None
    return max(versions, key=version_tuple)
