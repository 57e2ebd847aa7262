"""Read the CUDA data table: framework versions, their CUDA/cuDNN, drivers, bases."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from reprobox.errors import CompatibilityError, InputError

TABLE_SCHEMA_VERSION = 1
TABLE_RESOURCE = "data/cuda_table.json"

_NUMERIC = re.compile(r"^\d+(\.\d+)*$")
_RELEASE = re.compile(r"^v?(\d+(?:\.\d+)*)")


def version_tuple(text: str, *, what: str = "version") -> tuple[int, ...]:
    """Turn '12.5', '8.0.5.39' or '2.5.2rc1+cu118' into its numeric release."""
    match = _RELEASE.match(str(text).strip())
    if not match:
        raise InputError(f"cannot read {what} {text!r}: expected numbers like 12.5")
    return tuple(int(part) for part in match.group(1).split("."))


def major_minor(text: str, *, what: str = "version") -> tuple[int, int]:
    """Return (major, minor) of a version string; a missing minor counts as 0."""
    parts = version_tuple(text, what=what) + (0,)
    return parts[0], parts[1]


def format_mm(pair: tuple[int, int]) -> str:
    """Write a (major, minor) pair back as 'major.minor'."""
    return f"{pair[0]}.{pair[1]}"


@dataclass(frozen=True)
class TFRow:
    """One TensorFlow release series and what it was built and tested with."""

    first: str
    last: str
    python_min: str
    python_max: str
    cuda: str
    cudnn: str
    pip_cuda: bool
    nvidia_wheels: str | None

    def covers(self, version: str) -> bool:
        """Say whether a TensorFlow version falls in this row's series."""
        key = major_minor(version)
        return major_minor(self.first) <= key <= major_minor(self.last)

    def python_fits(self, python: str) -> bool:
        """Say whether a Python major.minor is in the tested range."""
        key = major_minor(python)
        return major_minor(self.python_min) <= key <= major_minor(self.python_max)


@dataclass(frozen=True)
class TorchBuild:
    """One CUDA build of a torch release (the +cuXYZ wheels)."""

    tag: str
    cuda: str
    cudnn: str


@dataclass(frozen=True)
class TorchRow:
    """One torch release series: its Python range and CUDA builds."""

    first: str
    last: str
    python_min: str
    python_max: str
    default_build: str
    builds: tuple[TorchBuild, ...]

    def covers(self, version: str) -> bool:
        """Say whether a torch version falls in this row's series."""
        key = major_minor(version)
        return major_minor(self.first) <= key <= major_minor(self.last)

    def python_fits(self, python: str) -> bool:
        """Say whether a Python major.minor is in the supported range."""
        key = major_minor(python)
        return major_minor(self.python_min) <= key <= major_minor(self.python_max)

    def build(self, tag: str | None = None) -> TorchBuild:
        """Return the build with this tag (cu121...), or the one PyPI serves."""
        wanted = tag or self.default_build
        for build in self.builds:
            if build.tag == wanted:
                return build
        tags = ", ".join(b.tag for b in self.builds)
        raise CompatibilityError(
            f"torch {self.first}-{self.last} has no {wanted} build in reprobox's "
            f"CUDA table (builds: {tags})",
            hint=f"pin one of +{tags.replace(', ', ', +')} or the plain version",
        )


@dataclass(frozen=True)
class BaseImage:
    """A CUDA base image and the cuDNN runtime it carries."""

    image: str
    cuda: str
    cudnn: str
    os: str


@functools.lru_cache(maxsize=1)
def load_table() -> dict[str, Any]:
    """Load and check the packaged CUDA table (cached)."""
    text = resources.files("reprobox").joinpath(TABLE_RESOURCE).read_text("utf-8")
    return check_table_schema(json.loads(text))


def check_table_schema(data: dict[str, Any]) -> dict[str, Any]:
    """Refuse a table written by a newer reprobox."""
    version = data.get("schema_version")
    if not isinstance(version, int) or version > TABLE_SCHEMA_VERSION:
        raise InputError(
            f"reprobox/{TABLE_RESOURCE} has schema_version {version!r}; this "
            f"reprobox reads up to {TABLE_SCHEMA_VERSION}",
            hint="upgrade reprobox",
        )
    return data


def tensorflow_rows() -> tuple[TFRow, ...]:
    """Return every TensorFlow row of the table, oldest first."""
    return tuple(
        TFRow(
            first=row["first"],
            last=row["last"],
            python_min=row["python"][0],
            python_max=row["python"][1],
            cuda=row["cuda"],
            cudnn=row["cudnn"],
            pip_cuda=bool(row["pip_cuda"]),
            nvidia_wheels=row.get("nvidia_wheels"),
        )
        for row in load_table()["tensorflow"]
    )


def torch_rows() -> tuple[TorchRow, ...]:
    """Return every torch row of the table, oldest first."""
    return tuple(
        TorchRow(
            first=row["first"],
            last=row["last"],
            python_min=row["python"][0],
            python_max=row["python"][1],
            default_build=row["default_build"],
            builds=tuple(
                TorchBuild(tag=tag, cuda=b["cuda"], cudnn=b["cudnn"])
                for tag, b in sorted(row["builds"].items())
            ),
        )
        for row in load_table()["pytorch"]
    )


def base_images() -> tuple[BaseImage, ...]:
    """Return the CUDA base images the table knows, by CUDA version."""
    images = (BaseImage(**row) for row in load_table()["cuda_base_images"])
    return tuple(sorted(images, key=lambda b: (version_tuple(b.cuda), b.image)))


def _not_in_table(framework: str, version: str, rows) -> CompatibilityError:
    span = f"{rows[0].first}-{rows[-1].last}"
    return CompatibilityError(
        f"{framework} {version} is not in reprobox's CUDA table (it covers {span})",
        hint=f"pin a {framework} version in {span}, or refresh the table with "
        "scripts/refresh-cuda-table",
    )


def lookup_tensorflow(version: str) -> TFRow:
    """Return the row for a TensorFlow version, or refuse an unknown one."""
    rows = tensorflow_rows()
    for row in rows:
        if row.covers(version):
            return row
    raise _not_in_table("tensorflow", version, rows)


def lookup_torch(version: str) -> TorchRow:
    """Return the row for a torch version (a +cuXYZ label is ignored here)."""
    rows = torch_rows()
    for row in rows:
        if row.covers(version):
            return row
    raise _not_in_table("torch", version, rows)


def min_driver_for_cuda(cuda_version: str) -> str:
    """Return the lowest driver that runs this CUDA (minor version compatibility)."""
    major = str(version_tuple(cuda_version, what="CUDA version")[0])
    drivers = load_table()["cuda_min_driver"]
    if major not in drivers:
        # Before CUDA 11 there was no minor version compatibility: each release
        # needs the driver it shipped with.
        shipped = toolkit_driver(cuda_version)
        if shipped:
            return shipped
        known = ", ".join(sorted(drivers, key=int))
        raise CompatibilityError(
            f"CUDA {cuda_version} is not in reprobox's driver table (CUDA {known}.x)"
        )
    return drivers[major]


def toolkit_driver(cuda_version: str) -> str | None:
    """Return the driver a CUDA toolkit release ships with, if the table has it."""
    key = format_mm(major_minor(cuda_version, what="CUDA version"))
    return load_table()["cuda_toolkit_driver"].get(key)


def max_cuda_for_driver(driver: str) -> str | None:
    """Return the newest CUDA major.minor a driver supports natively."""
    have = version_tuple(driver, what="driver version")
    best = None
    for cuda, needed in load_table()["cuda_toolkit_driver"].items():
        if have >= version_tuple(needed) and (
            best is None or major_minor(cuda) > major_minor(best)
        ):
            best = cuda
    return best


def find_base_image(image: str) -> BaseImage | None:
    """Return the table entry for an image reference, ignoring a docker.io/ prefix."""
    wanted = _strip_registry(image)
    for base in base_images():
        if _strip_registry(base.image) == wanted:
            return base
    return None


def _strip_registry(image: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/"):
        if image.startswith(prefix):
            return image[len(prefix) :]
    return image


def is_numeric_version(text: str) -> bool:
    """Say whether text is a plain dotted number such as 12.5 or 8.9.6.50."""
    return bool(_NUMERIC.match(text))
