"""The real-GPU check script says 'no GPU' and exits 2 on a CPU machine."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "tests" / "gpu" / "check_gpu_facts.py"
FAKE_TORCH = """
class cuda:
    @staticmethod
    def is_available():
        return False
"""


def _run(extra_path=None):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = "/nonexistent"  # no nvidia-smi, whatever the host has
    if extra_path:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )


def test_without_pytorch_it_exits_2_saying_no_gpu(tmp_path):
    blocker = tmp_path / "torch.py"
    blocker.write_text("raise ImportError('no torch here')\n")
    proc = _run(tmp_path)
    assert proc.returncode == 2
    assert "no GPU: PyTorch is not installed" in proc.stderr
    assert proc.stdout == ""


def test_with_cpu_only_pytorch_it_exits_2_saying_no_gpu(tmp_path):
    (tmp_path / "torch.py").write_text(FAKE_TORCH)
    proc = _run(tmp_path)
    assert proc.returncode == 2
    assert "no GPU: torch.cuda.is_available() is False" in proc.stderr
    assert "nvidia-smi not runnable" in proc.stderr


def _load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_gpu_facts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record():
    gpu = {"name": "NVIDIA H200", "compute_capability": "9.0"}
    return {
        "losses_run1": [1.0, 0.5],
        "losses_run2": [1.0, 0.5],
        "nvidia_smi": {
            "available": True,
            "count": 1,
            "driver": "570.86.15",
            "cuda_driver": "12.8",
            "gpus": [gpu],
            "error": None,
        },
        "strict": {"warnings": []},
        "torch": {
            "version": "2.8.0",
            "cuda": "12.8",
            "cudnn": "9.10.2",
            "built_with_cuda": True,
            "gpus_visible": 1,
            "gpu_devices": [{**gpu, "sm_count": 132}],
            "tf32_matmul": False,
            "tf32_cudnn": False,
            "deterministic_algorithms": True,
        },
    }


def test_a_consistent_record_has_no_problems():
    assert _load_script().problems_in(_record()) == []


def test_inconsistent_records_are_caught():
    script = _load_script()
    record = _record()
    record["losses_run2"] = [1.0, 0.50001]
    record["torch"]["tf32_matmul"] = True
    record["torch"]["gpu_devices"][0]["name"] = "NVIDIA H100"
    record["nvidia_smi"]["driver"] = None
    problems = script.problems_in(record)
    assert "two seeded strict runs gave different losses" in problems
    assert "TF32 still on after strict determinism" in problems
    assert "nvidia-smi driver is empty" in problems
    assert any("'NVIDIA H100' not in nvidia-smi" in p for p in problems)
