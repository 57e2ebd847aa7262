"""Build synthetic run records for compare and report tests."""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path
from typing import Any

from reprobox.compare.records import RECORD_SCHEMA_VERSION, Record
from reprobox.seals import seal_record


def record_data(run_id: str = "20240101T000000Z-aaaaaa", **changes: Any) -> dict:
    """Return a plausible record.json payload; dotted keys in changes set fields."""
    data: dict[str, Any] = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "run_id": run_id,
        "status": "succeeded",
        "exit_code": 0,
        "started_at": "2024-01-01T00:00:00Z",
        "finished_at": "2024-01-01T00:01:00Z",
        "duration_s": 60.0,
        "project": "digits",
        "image": {
            "ref": "reprobox/digits:latest",
            "id": "sha256:" + "1" * 64,
            "digest": None,
        },
        "manifest_sha256": "a" * 64,
        "engine": {
            "host": "unix:///var/run/docker.sock",
            "server_version": "24.0.7",
            "os": "linux",
            "arch": "x86_64",
        },
        "seed": 42,
        "profile": "strict",
        "options": {
            "gpus": None,
            "cpus": 2.0,
            "repeat_index": None,
            "seed_sweep": None,
        },
        "machine": {
            "cpu": {
                "vendor": "GenuineIntel",
                "model": "Xeon Gold 6248",
                "flags": ["avx", "avx2", "avx512f", "fma", "sse4_2"],
                "logical_cpus": 40,
                "visible_cpus": 40,
                "cpu_quota": 2.0,
                "cgroup_version": 1,
            },
            "threads": {"intra_op": 2, "inter_op": 1, "omp": 2},
            "onednn": {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": None},
            "gpu": [],
            "python": "3.11",
            "packages": {"numpy": "1.26.4", "tensorflow": "2.15.0"},
            "tensorflow": {
                "version": "2.15.0",
                "built_with_cuda": False,
                "cuda": None,
                "cudnn": None,
                "gpus_visible": 0,
            },
            "keras": {"version": "2.15.0", "jit_compile": False},
            "env": {
                "TF_DETERMINISTIC_OPS": "1",
                "TF_ENABLE_ONEDNN_OPTS": "1",
                "PYTHONHASHSEED": "42",
            },
        },
        "metrics": {"loss": 0.1202998384, "accuracy": 0.9688},
        "history": [{"call": 0, "epochs": curve_epochs(5, seed=0)}],
        "evaluations": [],
        "log": "run.log",
        "error": None,
    }
    for dotted, value in changes.items():
        set_field(data, dotted, value)
    return data


def set_field(data: dict, dotted: str, value: Any) -> None:
    """Set data[a][b][c] for 'a__b__c' (keyword-friendly) or 'a.b.c'."""
    keys = dotted.replace("__", ".").split(".")
    target = data
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value


def curve_epochs(n: int, *, seed: int = 0, wobble: float = 0.0) -> list[dict]:
    """Return n epochs of falling loss and rising accuracy, shifted by wobble."""
    rng = random.Random(seed)
    rows = []
    for epoch in range(n):
        base = math.exp(-0.4 * epoch)
        noise = rng.uniform(-0.01, 0.01)
        rows.append(
            {
                "epoch": epoch,
                "loss": round(1.2 * base + noise + wobble, 10),
                "accuracy": round(0.97 - 0.6 * base + noise - wobble, 10),
                "val_loss": round(1.3 * base + 0.05 + noise + wobble, 10),
                "val_accuracy": round(0.95 - 0.6 * base + noise - wobble, 10),
            }
        )
    return rows


def make_record(run_id: str = "20240101T000000Z-aaaaaa", **changes: Any) -> Record:
    """Return a Record built from record_data, as if read from disk."""
    data = record_data(run_id, **changes)
    return Record(path=Path(f"/runs/{run_id}/record.json"), data=data)


def sealed_json(data: dict, **dumps_args: Any) -> str:
    """Return data as record.json text, sealed with its digest as run writes it."""
    return json.dumps(seal_record(data), **dumps_args)


def write_record(folder: Path, data: dict) -> Path:
    """Write data as folder/<run_id>/record.json and return the file."""
    path = folder / data["run_id"] / "record.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sealed_json(data, indent=2, sort_keys=True))
    return path


def many_records(count: int, *, epochs: int = 20) -> list[Record]:
    """Return count records that differ a little in metrics, curves and setup."""
    records = []
    for index in range(count):
        data = record_data(
            f"20240101T{index // 3600:02d}{index // 60 % 60:02d}{index % 60:02d}Z-"
            f"{index:06x}",
            started_at=f"2024-01-01T00:00:{index % 60:02d}Z",
        )
        data["metrics"] = {
            "loss": 0.12 + index * 1e-9,
            "accuracy": 0.97,
            "val_loss": 0.15,
            "eval_loss": 0.16,
        }
        data["history"] = [
            {
                "call": 0,
                "epochs": curve_epochs(epochs, seed=index % 7, wobble=index * 1e-4),
            }
        ]
        data["machine"]["threads"]["intra_op"] = 1 + index % 4
        records.append(Record(Path(f"/runs/{index}/record.json"), data))
    return records


def clone(record: Record, run_id: str, **changes: Any) -> Record:
    """Copy a record under a new run id with some fields changed."""
    data = copy.deepcopy(dict(record.data))
    data["run_id"] = run_id
    for dotted, value in changes.items():
        set_field(data, dotted, value)
    return Record(Path(f"/runs/{run_id}/record.json"), data)
