"""GPU logic: the CUDA table, image planning, driver checks and device requests."""

from reprobox.gpu.devices import parse_gpus_option
from reprobox.gpu.driver import (
    check_driver,
    compat_library_path_allowed,
    parse_nvidia_smi,
    probe_host_gpus,
)
from reprobox.gpu.plan import GpuPlan, plan_gpu_image
from reprobox.gpu.table import lookup_tensorflow, lookup_torch, min_driver_for_cuda

__all__ = [
    "GpuPlan",
    "check_driver",
    "compat_library_path_allowed",
    "lookup_tensorflow",
    "lookup_torch",
    "min_driver_for_cuda",
    "parse_gpus_option",
    "parse_nvidia_smi",
    "plan_gpu_image",
    "probe_host_gpus",
]
