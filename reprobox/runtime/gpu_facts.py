"""GPU facts seen inside the container, and strict GPU determinism.

Standalone: copied into the image and run there, so it uses only the standard
library and never imports reprobox (which is why it starts nvidia-smi itself
instead of going through reprobox.proc). Framework helpers take a module the
training script already imported; this file imports no framework.
"""

from __future__ import annotations

import os
import subprocess

QUERY_FIELDS = (
    "index",
    "name",
    "uuid",
    "driver_version",
    "memory.total",
    "compute_cap",
    "pci.bus_id",
)
STRICT_GPU_ENV = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
# cuBLAS workspace settings that make its results deterministic: a run given
# either keeps it (":16:8" uses less memory); anything else gets ":4096:8".
DETERMINISTIC_CUBLAS = (":4096:8", ":16:8")


def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode, (proc.stdout or "") + (proc.stderr or "")


def gpu_facts(run=_run) -> dict:
    """Return the GPUs nvidia-smi shows: model, count, memory, driver, capability."""
    facts = {
        "available": False,
        "count": 0,
        "cuda_driver": None,
        "driver": None,
        "error": None,
        "gpus": [],
    }
    try:
        code, out = run(
            [
                "nvidia-smi",
                "--query-gpu=" + ",".join(QUERY_FIELDS),
                "--format=csv,noheader,nounits",
            ]
        )
    except (OSError, subprocess.SubprocessError) as exc:
        facts["error"] = f"nvidia-smi not runnable: {exc}"
        return facts
    if code != 0:
        facts["error"] = " ".join(out.split())[:300] or f"nvidia-smi exit {code}"
        return facts
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(QUERY_FIELDS):
            continue
        row = {
            key: _value(cell) for key, cell in zip(QUERY_FIELDS, cells, strict=False)
        }
        facts["driver"] = row["driver_version"] or facts["driver"]
        facts["gpus"].append(
            {
                "compute_capability": row["compute_cap"],
                "index": int(row["index"]) if row["index"] else len(facts["gpus"]),
                "memory_total_mib": _int(row["memory.total"]),
                "name": row["name"],
                "pci_bus_id": row["pci.bus_id"],
                "uuid": row["uuid"],
            }
        )
    facts["count"] = len(facts["gpus"])
    facts["available"] = facts["count"] > 0
    if facts["available"]:
        facts["cuda_driver"] = _cuda_driver(run)
    else:
        facts["error"] = "nvidia-smi listed no GPU"
    return facts


def _cuda_driver(run):
    """Read the newest CUDA the driver supports from the `nvidia-smi -q` header."""
    try:
        code, out = run(["nvidia-smi", "-q", "-d", "COMPUTE"])
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if code == 0 and key.strip() in ("CUDA Version", "CUDA Driver Version"):
            return _value(value)
    return None


def _value(cell):
    cell = cell.strip()
    if not cell or cell.startswith("[") or cell in ("N/A", "Not Supported"):
        return None
    return cell


def _int(cell):
    try:
        return int(float(cell)) if cell else None
    except ValueError:
        return None


def tf_gpu_facts(tf) -> dict:
    """Return what an imported TensorFlow was built with and sees on the GPU."""
    info = _tf_call(lambda: dict(tf.sysconfig.get_build_info()))
    devices = []
    for device in tf.config.list_physical_devices("GPU"):
        details = _tf_call(
            lambda d=device: tf.config.experimental.get_device_details(d)
        )
        capability = details.get("compute_capability")
        devices.append(
            {
                "compute_capability": ".".join(map(str, capability))
                if capability
                else None,
                "name": details.get("device_name") or device.name,
            }
        )
    determinism = getattr(tf.config.experimental, "is_op_determinism_enabled", None)
    return {
        "built_with_cuda": bool(
            info.get("is_cuda_build", tf.test.is_built_with_cuda())
        ),
        "cuda": _text(info.get("cuda_version")),
        "cudnn": _text(info.get("cudnn_version")),
        "gpu_devices": devices,
        "gpus_visible": len(devices),
        "op_determinism": bool(determinism()) if determinism else None,
        "tf32_enabled": bool(
            tf.config.experimental.tensor_float_32_execution_enabled()
        ),
        "version": tf.__version__,
    }


def _tf_call(get) -> dict:
    """Return what a TensorFlow query gives, or {} where this build lacks it."""
    try:
        return get()
    except Exception:  # noqa: BLE001 - old or CPU-only builds lack these queries
        return {}


def torch_gpu_facts(torch) -> dict:
    """Return what an imported torch was built with, sees and computes with."""
    cuda_ok = bool(torch.cuda.is_available())
    devices = []
    for index in range(torch.cuda.device_count() if cuda_ok else 0):
        props = torch.cuda.get_device_properties(index)
        devices.append(
            {
                "compute_capability": f"{props.major}.{props.minor}",
                "memory_total_mib": int(props.total_memory) // (1024 * 1024),
                "name": props.name,
                "sm_count": props.multi_processor_count,
            }
        )
    cudnn_raw = torch.backends.cudnn.version() if cuda_ok else None
    precision = getattr(torch, "get_float32_matmul_precision", None)
    return {
        "built_with_cuda": torch.version.cuda is not None,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "cuda": torch.version.cuda,
        "cudnn": cudnn_version_text(cudnn_raw),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "float32_matmul_precision": precision() if precision else None,
        "gpu_devices": devices,
        "gpus_visible": len(devices),
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "version": torch.__version__,
    }


def cudnn_version_text(raw) -> str | None:
    """Write torch's integer cuDNN version (8902, 90100) as 8.9.2 or 9.1.0."""
    if not raw:
        return None
    raw = int(raw)
    if raw >= 10000:  # cuDNN 9 and later: major * 10000 + minor * 100 + patch
        major, rest = divmod(raw, 10000)
    else:  # cuDNN 8 and earlier: major * 1000 + minor * 100 + patch
        major, rest = divmod(raw, 1000)
    minor, patch = divmod(rest, 100)
    return f"{major}.{minor}.{patch}"


def _text(value):
    return None if value in (None, "") else str(value)


def gpu_fallback_problem(framework_facts: dict, host_facts: dict) -> str | None:
    """Say why a run that should use the GPU would quietly use the CPU, or None."""
    if not host_facts.get("available"):
        return f"no GPU visible in the container ({host_facts.get('error')})"
    if not framework_facts.get("built_with_cuda"):
        return (
            f"the installed framework {framework_facts.get('version')} is a "
            "CPU-only build"
        )
    if not framework_facts.get("gpus_visible"):
        return (
            f"nvidia-smi shows {host_facts.get('count')} GPU(s) but the "
            f"framework sees none (built with CUDA {framework_facts.get('cuda')}, "
            f"cuDNN {framework_facts.get('cudnn')}, driver "
            f"{host_facts.get('driver')}): CUDA libraries failed to load"
        )
    return None


def apply_strict_gpu_determinism(framework) -> dict:
    """Switch a framework to deterministic GPU kernels, TF32 off; say what was set."""
    name = getattr(framework, "__name__", "").split(".")[0]
    if name == "tensorflow":
        return _strict_tensorflow(framework)
    if name == "torch":
        return _strict_torch(framework)
    raise ValueError(f"strict GPU determinism knows tensorflow and torch, not {name!r}")


def _strict_tensorflow(tf) -> dict:
    warnings = []
    enable = getattr(tf.config.experimental, "enable_op_determinism", None)
    if enable is not None:
        enable()
    else:
        warnings.append(
            f"TensorFlow {tf.__version__} has no enable_op_determinism; "
            "set TF_DETERMINISTIC_OPS=1 before importing it"
        )
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return {
        "framework": "tensorflow",
        "settings": {"op_determinism": enable is not None, "tf32": False},
        "warnings": warnings,
    }


def _strict_torch(torch) -> dict:
    warnings = []
    for key, value in STRICT_GPU_ENV.items():
        if os.environ.get(key) not in DETERMINISTIC_CUBLAS:
            if torch.cuda.is_initialized():
                warnings.append(
                    f"{key} was not {value} before CUDA started; cuBLAS "
                    "may stay nondeterministic (the runner must set it)"
                )
            os.environ[key] = value
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return {
        "framework": "torch",
        "settings": {
            "cudnn_benchmark": False,
            "cudnn_deterministic": True,
            "deterministic_algorithms": True,
            "tf32_cudnn": False,
            "tf32_matmul": False,
            **{key: os.environ[key] for key in STRICT_GPU_ENV},
        },
        "warnings": warnings,
    }
