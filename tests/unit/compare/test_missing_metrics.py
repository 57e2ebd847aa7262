"""A metric one run lacks, and a run that failed before writing any, in words."""

import json

from reprobox_synthetic import clone, make_record

from reprobox.compare import (
    compare_runs,
    exit_code,
    render_json,
    render_markdown,
    render_text,
)
from reprobox.errors import EXIT_FAILED

VERDICT = (
    "verdict: FAIL (run B has status failed (exit code 1); "
    "0 of 1 metric checks out of tolerance, 2 missing metrics in the checks of 2 runs)"
)


def reference_failed_and_newer():
    """A reference, a run that failed before metrics, a run with a new metric f1."""
    a = make_record("A", metrics={"acc": 0.9})
    b = clone(a, "B", status="failed", exit_code=1, metrics={})
    c = clone(a, "C", metrics={"acc": 0.9, "f1": 0.8})
    return compare_runs([a, b, c])


def test_a_failed_run_without_metrics_is_said_to_have_failed():
    comparison = reference_failed_and_newer()
    failed = comparison.runs[1]

    assert failed.headline == (
        "failed (exit code 1) and has no metrics to compare: its failure is the finding"
    )
    assert not failed.passed and not failed.metrics_differ


def test_an_interrupted_run_without_metrics_names_its_status():
    a = make_record("A", metrics={"acc": 0.9})
    b = clone(a, "B", status="interrupted", exit_code=None, metrics={})
    assert compare_runs([a, b]).runs[1].headline == (
        "interrupted and has no metrics to compare: it cannot pass"
    )


def test_a_failed_run_whose_metrics_differ_is_not_called_nondeterministic():
    a = make_record("A", metrics={"acc": 0.9})
    b = clone(a, "B", status="failed", exit_code=1, metrics={"acc": 0.5})
    assert compare_runs([a, b]).runs[1].headline == (
        "metrics differ (acc -0.4); but status failed (exit code 1): it cannot pass"
    )


def test_a_metric_added_since_the_reference_is_missing_not_nondeterminism():
    comparison = reference_failed_and_newer()
    newer = comparison.runs[2]

    assert comparison.nondeterminism == ()
    assert newer.headline == (
        "shared metrics identical; f1 only in this run (0.8), not in the reference"
    )
    assert not newer.metrics_differ and newer.likely_cause is None
    assert [(m.run_id, m.metric, m.missing_in, m.value, m.reason) for m in
            comparison.missing_metrics] == [
        ("B", "acc", "run", 0.9, "only in the reference (0.9), not in this run"),
        ("C", "f1", "reference", 0.8, "only in this run (0.8), not in the reference"),
    ]  # fmt: skip


def test_a_metric_dropped_since_the_reference_is_said_so():
    a = make_record("A", metrics={"acc": 0.9, "f1": 0.8})
    b = clone(a, "B", metrics={"acc": 0.9})
    comparison = compare_runs([a, b])

    assert comparison.nondeterminism == ()
    assert comparison.runs[1].headline == (
        "shared metrics identical; f1 only in the reference (0.8), not in this run"
    )
    assert render_text(comparison).splitlines()[1] == (
        "verdict: FAIL (0 of 1 metric checks out of tolerance, "
        "1 missing metric in the checks of a run)"
    )


def test_missing_metrics_keep_the_verdict_a_failure():
    comparison = reference_failed_and_newer()
    assert not comparison.passed
    assert exit_code(comparison) == EXIT_FAILED
    assert [r.passed for r in comparison.runs[1:]] == [False, False]


def test_text_counts_missing_metrics_apart_and_lists_them():
    text = render_text(reference_failed_and_newer())
    lines = text.splitlines()

    assert lines[1] == VERDICT
    assert "nondeterminism" not in text.lower()
    at = lines.index("Missing metrics")
    assert lines[at + 1 : at + 3] == [
        "  - run B: acc only in the reference (0.9), not in this run",
        "  - run C: f1 only in this run (0.8), not in the reference",
    ]


def test_markdown_says_the_same_as_text():
    md = render_markdown(reference_failed_and_newer())

    assert VERDICT in md
    assert (
        "## Missing metrics\n\n"
        "- run B: acc only in the reference (0.9), not in this run\n"
        "- run C: f1 only in this run (0.8), not in the reference\n"
    ) in md
    assert "nondeterminism" not in md.lower()


def test_json_lists_missing_metrics_and_marks_their_checks():
    data = json.loads(render_json(reference_failed_and_newer()))

    assert data["nondeterminism"] == []
    assert data["missing_metrics"][1] == {
        "metric": "f1",
        "missing_in": "reference",
        "reason": "only in this run (0.8), not in the reference",
        "run_id": "C",
        "value": 0.8,
    }
    assert {(r["run_id"], r["metric"]): r["missing"] for r in data["results"]} == {
        ("B", "acc"): "run",
        ("C", "acc"): "",
        ("C", "f1"): "reference",
    }


def test_out_of_tolerance_and_missing_are_counted_apart():
    a = make_record("A", metrics={"acc": 0.9, "loss": 0.1})
    # Another thread count: acc moving is a setup difference, not nondeterminism.
    b = clone(a, "B", metrics={"acc": 0.8}, machine__threads__intra_op=8)
    line = render_text(compare_runs([a, b])).splitlines()[1]
    assert line == (
        "verdict: FAIL (1 of 1 metric checks out of tolerance, "
        "1 missing metric in the checks of a run)"
    )


def test_a_metric_no_run_has_is_counted_for_the_run_whose_check_lists_it():
    a = make_record("A", metrics={"acc": 0.9})
    comparison = compare_runs([a, clone(a, "B")], metrics=["acc", "f1"])

    assert render_text(comparison).splitlines()[1] == (
        "verdict: FAIL (0 of 1 metric checks out of tolerance, "
        "1 missing metric in the checks of a run)"
    )
    [gap] = comparison.missing_metrics
    assert gap.reason == "in neither this run nor the reference"
    assert comparison.runs[1].headline == (
        "shared metrics identical; f1 in neither this run nor the reference"
    )


def test_the_count_of_runs_missing_a_metric_is_the_runs_the_list_names():
    # Round 36 F: '2 metrics missing in 3 runs' beside a list naming 2 runs:
    # the count took in the reference, which lacks f1 that B has.
    a = make_record("A", metrics={"acc": 0.9})
    b = clone(a, "B", metrics={"f1": 0.8})
    c = clone(a, "C", metrics={})
    comparison = compare_runs([a, b, c])
    lines = render_text(comparison).splitlines()

    assert lines[1] == ("verdict: FAIL (3 missing metrics in the checks of 2 runs)")
    at = lines.index("Missing metrics")
    listed = [line for line in lines[at + 1 :] if line.startswith("  - run ")]
    assert {line.split(":")[0] for line in listed} == {"  - run B", "  - run C"}


def test_the_count_of_missing_metrics_is_the_entries_the_list_holds():
    # acc is missing in B and in C, f1 in the reference B is checked against:
    # two metric names, but three missing metrics listed (and in the JSON);
    # the count said 2 beside a list of 3.
    a = make_record("A", metrics={"acc": 0.9})
    b = clone(a, "B", metrics={"f1": 0.8})
    c = clone(a, "C", metrics={})
    comparison = compare_runs([a, b, c])
    lines = render_text(comparison).splitlines()

    at = lines.index("Missing metrics")
    listed = [line for line in lines[at + 1 :] if line.startswith("  - run ")]
    assert listed == [
        "  - run B: acc only in the reference (0.9), not in this run",
        "  - run B: f1 only in this run (0.8), not in the reference",
        "  - run C: acc only in the reference (0.9), not in this run",
    ]
    assert len(json.loads(render_json(comparison))["missing_metrics"]) == 3
    assert "(3 missing metrics in the checks of 2 runs)" in lines[1]
    assert "3 missing metrics in the checks of 2 runs" in render_markdown(comparison)


def test_one_metric_missing_in_two_runs_counts_twice():
    a = make_record("A", metrics={"acc": 0.9, "loss": 0.1})
    b = clone(a, "B", metrics={"loss": 0.1})
    c = clone(a, "C", metrics={"loss": 0.1})
    lines = render_text(compare_runs([a, b, c])).splitlines()
    assert lines[1] == (
        "verdict: FAIL (0 of 2 metric checks out of tolerance, "
        "2 missing metrics in the checks of 2 runs)"
    )
