#!/usr/bin/env python3
"""Check reprobox.runtime.gpu_facts on a real GPU machine (PyTorch, no Docker).

Run from the repository root: python3 tests/gpu/check_gpu_facts.py
Exit 0: facts are complete and agree with nvidia-smi, and two seeded strict
runs of a tiny MLP gave identical losses. Exit 1: a check failed. Exit 2: no
GPU here (or no PyTorch), so nothing could be checked.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reprobox.runtime import gpu_facts as gf

# cuBLAS reads this when CUDA starts, so it goes in before torch is imported.
os.environ.update(gf.STRICT_GPU_ENV)

STEPS = 20


def no_gpu(reason: str) -> int:
    """Say why nothing was checked and return exit code 2."""
    print(f"no GPU: {reason}; nothing checked", file=sys.stderr)
    return 2


def train_once(torch, seed: int) -> list[float]:
    """Train a tiny MLP on seeded random data on the GPU; return the losses."""
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    device = torch.device("cuda:0")
    data = torch.randn(256, 32, device=device)
    target = torch.randn(256, 1, device=device)
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
    ).to(device)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(STEPS):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(data), target)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.item()))
    torch.cuda.synchronize()
    return losses


def problems_in(record: dict) -> list[str]:
    """List what is missing or inconsistent in the record."""
    host, fw = record["nvidia_smi"], record["torch"]
    found = []
    for key in ("driver", "cuda_driver"):
        if not host.get(key):
            found.append(f"nvidia-smi {key} is empty")
    for key in ("cuda", "cudnn", "version"):
        if not fw.get(key):
            found.append(f"torch {key} is empty")
    if not fw["gpu_devices"] or not fw["gpu_devices"][0]["name"]:
        found.append("torch names no GPU")
    if fw["gpus_visible"] > host["count"]:
        found.append(
            f"torch sees {fw['gpus_visible']} GPUs, nvidia-smi {host['count']}"
        )
    smi_names = {gpu["name"] for gpu in host["gpus"]}
    for device in fw["gpu_devices"]:
        if device["name"] not in smi_names:
            found.append(f"torch GPU {device['name']!r} not in nvidia-smi {smi_names}")
        if not device.get("sm_count"):
            found.append("torch reports no SM count")
    smi_caps = {gpu["compute_capability"] for gpu in host["gpus"]}
    if fw["gpu_devices"] and fw["gpu_devices"][0]["compute_capability"] not in smi_caps:
        found.append("compute capability differs between torch and nvidia-smi")
    if host.get("cuda_driver") and fw.get("cuda"):
        have = tuple(int(p) for p in host["cuda_driver"].split(".")[:2])
        built = tuple(int(p) for p in fw["cuda"].split(".")[:2])
        if built[0] > have[0]:
            found.append(
                f"torch CUDA {fw['cuda']} is newer than the driver's "
                f"{host['cuda_driver']} major"
            )
    if fw["tf32_matmul"] or fw["tf32_cudnn"]:
        found.append("TF32 still on after strict determinism")
    if not fw["deterministic_algorithms"]:
        found.append("deterministic algorithms off after strict determinism")
    if record["strict"]["warnings"]:
        found.extend(record["strict"]["warnings"])
    if record["losses_run1"] != record["losses_run2"]:
        found.append("two seeded strict runs gave different losses")
    problem = gf.gpu_fallback_problem(fw, host)
    if problem:
        found.append(problem)
    return found


def main() -> int:
    """Gather facts, train twice, print the record, return the verdict."""
    host = gf.gpu_facts()
    try:
        import torch
    except ImportError:
        return no_gpu("PyTorch is not installed")
    if not torch.cuda.is_available():
        return no_gpu(f"torch.cuda.is_available() is False ({host.get('error')})")
    strict = gf.apply_strict_gpu_determinism(torch)
    first, second = train_once(torch, 1234), train_once(torch, 1234)
    record = {
        "losses_run1": first,
        "losses_run2": second,
        "nvidia_smi": host,
        "strict": strict,
        "torch": gf.torch_gpu_facts(torch),
    }
    record["problems"] = problems_in(record)
    print(json.dumps(record, indent=2, sort_keys=True))
    for problem in record["problems"]:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if record["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
