"""Facts about the machine a process runs on, read from system files.

Standard library only: this module is used by `reprobox freeze` on the host and
is also copied into every image, where reprobox itself is not installed. It
never imports a numerical framework.
"""

from __future__ import annotations

import math
import os
import platform
import sys

# The instruction-set flags that change which kernels oneDNN, Eigen and BLAS pick.
ISA_FLAGS = (
    "sse4_1",
    "sse4_2",
    "fma",
    "f16c",
    "avx",
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512cd",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "sve",
    "sve2",
)

# Thread counts TensorFlow, OpenMP and the BLAS libraries read: the start-up hook
# fits them to the CPU quota, pins them to one under the strict profile, and
# leaves any the run sets alone.
THREAD_COUNT_VARS = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)

# Variables that change numerical results or thread counts; captured by freeze
# and recorded in every run.
NUMERICS_ENV = (
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_VISIBLE_DEVICES",
    "KERAS_BACKEND",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NVIDIA_TF32_OVERRIDE",
    "OMP_NUM_THREADS",
    "ONEDNN_MAX_CPU_ISA",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "PYTHONHASHSEED",
    "TF_CUDNN_DETERMINISTIC",
    "TF_DETERMINISTIC_OPS",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_XLA_FLAGS",
    "VECLIB_MAXIMUM_THREADS",
    "XLA_FLAGS",
)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def cpu_identity(cpuinfo_text: str | None = None) -> dict:
    """Return CPU vendor, model and the ISA flags that matter for numerics."""
    text = cpuinfo_text if cpuinfo_text is not None else (_read("/proc/cpuinfo") or "")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if ":" not in line:
            if fields:
                break  # only the first processor block
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    model = fields.get("model name") or fields.get("Model")
    if not model and fields.get("CPU part"):  # Arm: implementer, part, variant
        model = " ".join(
            f"{key.split()[-1]} {fields[key]}"
            for key in ("CPU implementer", "CPU part", "CPU variant", "CPU revision")
            if key in fields
        )
    return {
        "vendor": fields.get("vendor_id") or fields.get("CPU implementer"),
        "model": model or platform.processor() or None,
        "family": fields.get("cpu family"),
        "flags": sorted(f for f in ISA_FLAGS if f in flags),
        "arch": platform.machine(),
    }


def cgroup_cpu_quota(root: str = "/sys/fs/cgroup") -> tuple[float | None, str]:
    """Return the cgroup CPU quota in CPUs (None when unlimited) and the version."""
    cpu_max = _read(os.path.join(root, "cpu.max"))
    if cpu_max is not None:  # cgroup v2: "max 100000" or "150000 100000"
        parts = cpu_max.split()
        if len(parts) == 2 and parts[0] != "max":
            return int(parts[0]) / int(parts[1]), "v2"
        return None, "v2"
    for sub in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        quota = _read(os.path.join(root, sub, "cpu.cfs_quota_us"))
        period = _read(os.path.join(root, sub, "cpu.cfs_period_us"))
        if quota is not None and period is not None:
            q, p = int(quota), int(period)
            return (q / p if q > 0 and p > 0 else None), "v1"
    return None, "unknown"


def visible_cpus() -> int:
    """Return the CPUs this process may run on (affinity), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def fitted_threads(quota: float | None, visible: int) -> int:
    """Return the thread count that fits a CPU quota: at least 1, at most visible."""
    if quota is None:
        return visible
    return max(1, min(visible, math.floor(quota + 1e-9)))


def cpu_facts(cgroup_root: str = "/sys/fs/cgroup") -> dict:
    """Return identity, counts and the cgroup quota of this machine's CPUs."""
    quota, version = cgroup_cpu_quota(cgroup_root)
    visible = visible_cpus()
    facts = cpu_identity()
    facts.update(
        {
            "logical_cpus": os.cpu_count(),
            "visible_cpus": visible,
            "cpu_quota": quota,
            "cgroup_version": version,
            "fitted_threads": fitted_threads(quota, visible),
        }
    )
    return facts


def numerics_env(environ=None, extra_names=()) -> dict:
    """Return the numerics-relevant variables set in environ, plus extra names."""
    environ = os.environ if environ is None else environ
    names = set(NUMERICS_ENV) | set(extra_names)
    return {name: environ[name] for name in sorted(names) if name in environ}


def os_facts() -> dict:
    """Return the kernel and OS release of this machine."""
    release = {}
    for line in (_read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        release[key] = value.strip('"')
    return {
        "system": platform.system(),
        "kernel": platform.release(),
        "distro": release.get("PRETTY_NAME"),
        "libc": "-".join(platform.libc_ver()) or None,
    }


def python_facts() -> dict:
    """Return the running Python's version and implementation."""
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
