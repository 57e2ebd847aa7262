#!/usr/bin/env python3
"""Time freeze's credential read of the files that go into an image.

Every line of every text file bound for the image is read for credentials
(reprobox.image_inputs.written_credential, as freeze and build call it). Two
shapes of project: 3,000 small source files (10 MB in all), and one large
JSON-lines training log (57 MB by default). Prints seconds and MB/s for each,
the best of n tries, so the figures in docs/config.md can be checked.

usage: python benchmarks/bench_credential_scan.py [--log-mb 57] [-n 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reprobox.image_inputs import written_credential  # noqa: E402

SOURCE = '''"""Module {i}: a layer of a model, as a project's code would hold it."""

import numpy as np

LEARNING_RATE = 1e-3  # tuned on the validation split
TOKEN_LIMIT = 512


def forward_{i}(x, weights, bias):
    """Apply one dense layer and a ReLU."""
    hidden = np.maximum(0.0, x @ weights + bias)
    return hidden / (np.linalg.norm(hidden) + 1e-7)
'''


def make_sources(folder: Path, count: int, total_bytes: int) -> list[Path]:
    """Write count source files of about total_bytes in all."""
    paths = []
    for i in range(count):
        body = SOURCE.format(i=i)
        pad = max(0, total_bytes // count - len(body))
        body += "".join(f"# note {n}: shapes are (batch, features)\n" for n in
                        range(pad // 42))
        path = folder / f"pkg{i // 100}" / f"layer_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        paths.append(path)
    return paths


def make_log(path: Path, mb: int) -> Path:
    """Write a JSON-lines training log of about mb megabytes."""
    rng = random.Random(1)
    with path.open("w") as fh:
        step = 0
        while fh.tell() < mb * 1_000_000:
            fh.write(json.dumps({
                "step": step, "loss": rng.random(), "accuracy": rng.random(),
                "lr": 1e-3, "epoch": step // 100, "host": "worker-3",
                "message": f"epoch {step // 100} batch {step % 100} done",
            }) + "\n")
            step += 1
    return path


def best_of(n: int, paths: list[Path]) -> float:
    """Return the fastest of n reads of every path, in seconds."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        found = [written_credential(p) for p in paths]
        times.append(time.perf_counter() - started)
        assert not any(found), "a benchmark file was judged a credential"
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-mb", type=int, default=57)
    parser.add_argument("-n", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        folder = Path(tmp)
        sources = make_sources(folder / "src", 3000, 10_000_000)
        log = make_log(folder / "train.jsonl", args.log_mb)
        rows = [
            ("3,000 source files", sum(p.stat().st_size for p in sources),
             best_of(args.n, sources)),
            ("one JSON-lines log", log.stat().st_size, best_of(args.n, [log])),
        ]
    print(f"{'files':<22} {'MB':>6} {'seconds':>8} {'MB/s':>7}  (best of {args.n})")
    for name, size, seconds in rows:
        mb = size / 1e6
        print(f"{name:<22} {mb:6.1f} {seconds:8.2f} {mb / seconds:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
