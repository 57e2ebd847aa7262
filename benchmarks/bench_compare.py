"""`reprobox compare` on synthetic records built from a real run record."""

from __future__ import annotations

import copy
import json
import random
import shutil

from bench_common import WORK, Row, clock, fmt_times, median, met, sh

SIZES = (10, 100, 1000)


def write_records(template: dict, count: int) -> str:
    """Write count records like template, metrics jittered within tolerance."""
    folder = WORK / f"compare-{count}" / "runs"
    shutil.rmtree(folder.parent, ignore_errors=True)
    rng = random.Random(count)
    for i in range(count):
        record = copy.deepcopy(template)
        record["run_id"] = f"20250101T{i // 3600 % 24:02d}{i // 60 % 60:02d}" \
                           f"{i % 60:02d}Z-{i:06x}"
        record["seed"] = i
        for name, value in list(record["metrics"].items()):
            record["metrics"][name] = value * (1 + rng.uniform(-1e-3, 1e-3))
        run_dir = folder / record["run_id"]
        run_dir.mkdir(parents=True)
        (run_dir / "record.json").write_text(json.dumps(record))
    return str(folder)


def bench_compare(n: int, template: dict) -> tuple[Row, list[str]]:
    """Time `reprobox compare` over 10, 100 and 1,000 records."""
    lines = ["| records | `reprobox compare` |", "|---|---|"]
    result = {}
    for count in SIZES:
        folder = write_records(template, count)
        times = [clock(lambda: sh(["reprobox", "compare", "--metric", "test_accuracy",
                                   "--tol", "test_accuracy=abs:0.01", folder],
                                  check=False)) for _ in range(n)]
        probe = sh(["reprobox", "compare", "--metric", "test_accuracy", folder],
                   check=False)
        if probe.returncode not in (0, 1):
            raise RuntimeError(f"compare failed on {count} records: {probe.stderr[-500:]}")
        result[count] = times
        lines.append(f"| {count} | {fmt_times(times)} |")
        shutil.rmtree(WORK / f"compare-{count}")
    row = Row("`reprobox compare` of 100 records", fmt_times(result[100]), "—", "—",
              "≤ 1 s", met(median(result[100]) <= 1.0))
    return row, lines
