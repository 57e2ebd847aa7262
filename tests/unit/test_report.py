import importlib.util
import re
import sys
import time
from pathlib import Path

import pytest

from reprobox.compare import compare_runs
from reprobox.report import render_report_html


def _synthetic():
    """Load the shared synthetic record builders from tests/unit/compare."""
    if "reprobox_synthetic" not in sys.modules:
        path = Path(__file__).parent / "compare" / "synthetic.py"
        spec = importlib.util.spec_from_file_location("reprobox_synthetic", path)
        sys.modules["reprobox_synthetic"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["reprobox_synthetic"])
    return sys.modules["reprobox_synthetic"]


synthetic = _synthetic()


def two_runs(**changes):
    ref = synthetic.make_record("A")
    run = synthetic.clone(
        ref,
        "B",
        metrics={"loss": 0.1202998459, "accuracy": 0.9688},
        machine__onednn__TF_ENABLE_ONEDNN_OPTS="0",
        history=[{"call": 0, "epochs": synthetic.curve_epochs(7, seed=1, wobble=0.02)}],
        **changes,
    )
    records = [ref, run]
    return records, compare_runs(records)


def test_page_is_self_contained():
    html = render_report_html(*two_runs())
    assert html.startswith("<!DOCTYPE html>")
    assert (
        re.search(r"https?:|//[a-z]|src=|href=|url\(|@import", html, re.IGNORECASE)
        is None
    )
    assert "default-src 'none'" in html


def test_page_has_the_verdict_metrics_differences_and_one_chart_per_metric():
    records, comparison = two_runs()
    html = render_report_html(records, comparison)

    assert '<span class="verdict fail">FAIL</span> 1 of 2 metric checks' in html
    assert re.search(
        r'<td class="num fail" title="out of tolerance \(exact\)">'
        r"0.1202998459<span class=\"delta\">\+7.5e-09</span>",
        html,
    )
    assert "<code>machine.onednn.TF_ENABLE_ONEDNN_OPTS</code>" in html
    assert '<tr class="suspect">' in html
    assert html.count('<svg class="chart"') == len(comparison.history_metrics) == 4
    curves = re.findall(r'<path class="curve" d="[^"]+"[^>]*stroke="([^"]+)"', html)
    assert len(curves) == 8
    assert len(set(curves)) == 2
    assert "epoch 0: curves part" in html


@pytest.mark.parametrize("where", ["metric", "project"])
def test_untrusted_record_values_are_escaped(where):
    evil = '<script>alert("x")</script>'
    ref = synthetic.make_record("A")
    if where == "metric":
        ref.data["metrics"][evil] = 1.0
        ref.data["history"][0]["epochs"][0][evil] = 1.0
    else:
        ref.data["project"] = evil
    run = synthetic.clone(ref, "B", machine__env__X=evil)
    html = render_report_html([ref, run], compare_runs([ref, run]))

    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html


def test_thousand_runs_render_in_reasonable_time():
    records = synthetic.many_records(1000, epochs=10)
    comparison = compare_runs(records)
    started = time.perf_counter()
    html = render_report_html(records, comparison)
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"report of 1000 runs took {elapsed:.1f} s"
    assert "and 984 more runs" in html
