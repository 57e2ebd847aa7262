"""Runtime GPU facts and strict determinism, with fake framework modules."""

import ast
import os
import types
from pathlib import Path

import pytest

from reprobox.runtime import gpu_facts as facts_mod
from reprobox.runtime.gpu_facts import (
    STRICT_GPU_ENV,
    apply_strict_gpu_determinism,
    cudnn_version_text,
    gpu_facts,
    gpu_fallback_problem,
    tf_gpu_facts,
    torch_gpu_facts,
)

CSV = (
    "0, NVIDIA A100-SXM4-40GB, GPU-aaaa1111, 535.104.05, 40960, 8.0, 00000000:07:00.0\n"
    "1, NVIDIA A100-SXM4-40GB, GPU-bbbb2222, 535.104.05, 40960, 8.0, 00000000:0F:00.0\n"
)
Q_HEAD = "==============NVSMI LOG==============\nDriver Version : 535.104.05\nCUDA Version : 12.2\n"


def test_module_is_standalone_stdlib_only():
    source = Path(facts_mod.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "os", "subprocess"}


def test_gpu_facts_from_nvidia_smi():
    calls = []

    def run(argv):
        calls.append(argv)
        return (0, CSV) if "--format=csv,noheader,nounits" in argv else (0, Q_HEAD)

    facts = gpu_facts(run)
    assert (
        calls[0][1]
        == "--query-gpu=index,name,uuid,driver_version,memory.total,compute_cap,pci.bus_id"
    )
    assert facts["available"] is True and facts["count"] == 2
    assert (facts["driver"], facts["cuda_driver"]) == ("535.104.05", "12.2")
    assert facts["gpus"][1] == {
        "compute_capability": "8.0",
        "index": 1,
        "memory_total_mib": 40960,
        "name": "NVIDIA A100-SXM4-40GB",
        "pci_bus_id": "00000000:0F:00.0",
        "uuid": "GPU-bbbb2222",
    }


def test_gpu_facts_without_nvidia_smi():
    def run(argv):
        raise FileNotFoundError("nvidia-smi")

    facts = gpu_facts(run)
    assert facts["available"] is False and facts["count"] == 0
    assert "not runnable" in facts["error"]


def test_gpu_facts_with_unloaded_driver():
    message = (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    )
    facts = gpu_facts(lambda argv: (9, message))
    assert facts["available"] is False and "couldn't communicate" in facts["error"]


@pytest.mark.parametrize(
    "raw,text",
    [
        (8902, "8.9.2"),
        (90100, "9.1.0"),
        (91002, "9.10.2"),
        (7605, "7.6.5"),
        (None, None),
    ],
)
def test_cudnn_version_text(raw, text):
    assert cudnn_version_text(raw) == text


def _fake_tf(gpus=1, tf32=True):
    state = {"tf32": tf32, "determinism": False}
    experimental = types.SimpleNamespace(
        get_device_details=lambda d: {
            "device_name": "NVIDIA A100-SXM4-40GB",
            "compute_capability": (8, 0),
        },
        tensor_float_32_execution_enabled=lambda: state["tf32"],
        enable_tensor_float_32_execution=lambda on: state.update(tf32=on),
        enable_op_determinism=lambda: state.update(determinism=True),
        is_op_determinism_enabled=lambda: state["determinism"],
    )
    devices = [
        types.SimpleNamespace(name=f"/physical_device:GPU:{i}") for i in range(gpus)
    ]
    tf = types.ModuleType("tensorflow")
    tf.__version__ = "2.15.1"
    tf.sysconfig = types.SimpleNamespace(
        get_build_info=lambda: {
            "is_cuda_build": True,
            "cuda_version": "12.2",
            "cudnn_version": "8",
        }
    )
    tf.test = types.SimpleNamespace(is_built_with_cuda=lambda: True)
    tf.config = types.SimpleNamespace(
        list_physical_devices=lambda kind: devices, experimental=experimental
    )
    return tf, state


def test_tf_gpu_facts():
    tf, _ = _fake_tf()
    facts = tf_gpu_facts(tf)
    assert facts == {
        "built_with_cuda": True,
        "cuda": "12.2",
        "cudnn": "8",
        "gpu_devices": [{"compute_capability": "8.0", "name": "NVIDIA A100-SXM4-40GB"}],
        "gpus_visible": 1,
        "op_determinism": False,
        "tf32_enabled": True,
        "version": "2.15.1",
    }


def test_strict_tensorflow_turns_determinism_on_and_tf32_off():
    tf, state = _fake_tf()
    result = apply_strict_gpu_determinism(tf)
    assert state == {"tf32": False, "determinism": True}
    assert result["settings"] == {"op_determinism": True, "tf32": False}
    assert tf_gpu_facts(tf)["op_determinism"] is True


def _fake_torch(initialized=False):
    torch = types.ModuleType("torch")
    torch.__version__ = "2.4.1+cu121"
    torch.version = types.SimpleNamespace(cuda="12.1")
    props = types.SimpleNamespace(
        major=9,
        minor=0,
        total_memory=80 * 1024**3,
        name="NVIDIA H100 80GB HBM3",
        multi_processor_count=132,
    )
    torch.cuda = types.SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 1,
        get_device_properties=lambda i: props,
        is_initialized=lambda: initialized,
    )
    torch.backends = types.SimpleNamespace(
        cudnn=types.SimpleNamespace(
            version=lambda: 90100, benchmark=True, deterministic=False, allow_tf32=True
        ),
        cuda=types.SimpleNamespace(matmul=types.SimpleNamespace(allow_tf32=True)),
    )
    state = {"det": False}
    torch.use_deterministic_algorithms = lambda on: state.update(det=on)
    torch.are_deterministic_algorithms_enabled = lambda: state["det"]
    torch.get_float32_matmul_precision = lambda: "highest"
    return torch


def test_torch_gpu_facts(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    facts = torch_gpu_facts(_fake_torch())
    assert facts["cuda"] == "12.1" and facts["cudnn"] == "9.1.0"
    assert facts["gpu_devices"] == [
        {
            "compute_capability": "9.0",
            "memory_total_mib": 81920,
            "name": "NVIDIA H100 80GB HBM3",
            "sm_count": 132,
        }
    ]
    assert (facts["tf32_matmul"], facts["tf32_cudnn"]) == (True, True)
    assert facts["deterministic_algorithms"] is False
    assert facts["cublas_workspace_config"] is None


def test_strict_torch(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch = _fake_torch()
    result = apply_strict_gpu_determinism(torch)
    facts = torch_gpu_facts(torch)
    assert facts["deterministic_algorithms"] is True
    assert (facts["tf32_matmul"], facts["tf32_cudnn"]) == (False, False)
    assert (facts["cudnn_benchmark"], facts["cudnn_deterministic"]) == (False, True)
    assert facts["cublas_workspace_config"] == ":4096:8"
    assert result["warnings"] == []
    assert STRICT_GPU_ENV == {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}


def test_strict_torch_keeps_the_other_deterministic_workspace(monkeypatch):
    # Freeze accepts CUBLAS_WORKSPACE_CONFIG=:16:8 under the strict profile;
    # the hook replaced it with :4096:8, so the run was not what was frozen.
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    torch = _fake_torch(initialized=True)
    result = apply_strict_gpu_determinism(torch)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    assert result["settings"]["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    assert result["warnings"] == []
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0")
    result = apply_strict_gpu_determinism(_fake_torch())
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert result["settings"]["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_strict_torch_warns_when_cuda_started_before_the_env(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    result = apply_strict_gpu_determinism(_fake_torch(initialized=True))
    assert "before CUDA started" in result["warnings"][0]


def test_strict_refuses_other_modules():
    with pytest.raises(ValueError, match="jax"):
        apply_strict_gpu_determinism(types.ModuleType("jax"))


def test_fallback_problem_detects_quiet_cpu_runs():
    host = {"available": True, "count": 1, "driver": "470.57.02", "error": None}
    tf_no_gpu = {
        "built_with_cuda": True,
        "gpus_visible": 0,
        "cuda": "12.2",
        "cudnn": "8",
        "version": "2.15.1",
    }
    assert "sees none" in gpu_fallback_problem(tf_no_gpu, host)
    assert "CPU-only" in gpu_fallback_problem(
        {**tf_no_gpu, "built_with_cuda": False}, host
    )
    assert "no GPU visible" in gpu_fallback_problem(
        tf_no_gpu, {"available": False, "error": "nvidia-smi not runnable"}
    )
    assert gpu_fallback_problem({**tf_no_gpu, "gpus_visible": 1}, host) is None
