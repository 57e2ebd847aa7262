"""Check the benchmark's own helpers: formatting, epoch counting, synthetic records."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common  # noqa: E402
import bench_compare  # noqa: E402
from bench_run import _epochs  # noqa: E402


def test_fmt_times_gives_median_and_range():
    assert bench_common.fmt_times([3.0, 1.0, 2.0]) == "2.00 s (n=3, 1.00 s–3.00 s)"
    assert bench_common.fmt_times([0.25]) == "250 ms (n=1)"


def test_epochs_counts_keras_epoch_lines():
    log = "Epoch 1/100\n45/45 - 1s\nEpoch 2/100\n45/45 - 0s\ntest accuracy: 0.97\n"
    assert _epochs(log) == 2
    assert _epochs("no epochs here") == 1


def test_synthetic_records_load_and_compare(tmp_path, monkeypatch):
    from reprobox.compare import compare_runs, load_records

    monkeypatch.setattr(bench_compare, "WORK", tmp_path)
    template = {"schema_version": 1, "run_id": "x", "status": "succeeded",
                "seed": 0, "metrics": {"test_accuracy": 0.97}, "history": []}
    folder = bench_compare.write_records(template, 12)
    records = load_records([Path(folder)])
    assert len(records) == 12
    assert len({r.data["run_id"] for r in records}) == 12
    comparison = compare_runs(records, metrics=["test_accuracy"],
                              tolerances={"test_accuracy": {"abs": 0.01}})
    assert comparison is not None
