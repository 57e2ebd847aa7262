import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import (
    COMPARISON_SCHEMA_VERSION,
    compare_runs,
    exit_code,
    render_json,
    render_markdown,
    render_text,
)


def strict_loads(text):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def pair(**changes):
    a = make_record("A")
    return compare_runs([a, clone(a, "B", **changes)])


def test_json_carries_schema_version_and_verdict():
    data = strict_loads(render_json(pair(metrics={"loss": 0.2, "accuracy": 0.9688})))
    assert data["schema_version"] == COMPARISON_SCHEMA_VERSION
    assert data["passed"] is False
    assert data["reference"] == "A"
    loss = next(r for r in data["results"] if r["metric"] == "loss")
    assert loss["delta"] == pytest.approx(0.2 - 0.1202998384)
    assert loss["tolerance"] == {"abs": None, "rel": None}


def test_json_writes_non_finite_numbers_as_strings():
    data = strict_loads(
        render_json(pair(metrics={"loss": float("nan"), "accuracy": float("inf")}))
    )
    values = data["values"]["B"]
    assert values == {"accuracy": "Infinity", "loss": "NaN"}


def test_output_is_stable_whatever_the_key_order_of_the_input():
    a = make_record("A")
    b = clone(a, "B", metrics={"loss": 0.2, "accuracy": 0.5})
    b_reordered = clone(a, "B", metrics={"accuracy": 0.5, "loss": 0.2})
    first, second = compare_runs([a, b]), compare_runs([a, b_reordered])
    for render in (render_json, render_text, render_markdown):
        assert render(first) == render(second)
        assert render(first).endswith("\n")


def test_text_shows_runs_metrics_and_differences_in_aligned_columns():
    text = render_text(
        pair(metrics={"loss": 0.2, "accuracy": 0.9688}, machine__threads__intra_op=8)
    )
    lines = text.splitlines()
    assert lines[0] == "reprobox compare: 2 runs, reference A"
    assert lines[1] == "verdict: FAIL (1 of 2 metric checks out of tolerance)"
    header = next(line for line in lines if line.lstrip().startswith("run  metric"))
    row = next(line for line in lines if line.lstrip().startswith("B    loss"))
    assert header.index("value") == row.index("0.2")
    assert "*  B    machine.threads.intra_op  2" in text


def test_text_escapes_control_characters_from_records():
    a = make_record("A", metrics={"\x1b[31mloss": 1.0})
    text = render_text(compare_runs([a, clone(a, "B")]))
    assert "\x1b" not in text
    assert "\\x1b[31mloss" in text


def test_text_escapes_bidi_overrides_from_records():
    # bu: U+202E in a metric name reached the terminal, which then shows the
    # rest of the line reversed (a name can be made to read as another).
    a = make_record("A", metrics={"acc\u202eyc\u2066": 1.0})
    text = render_text(compare_runs([a, clone(a, "B")]))
    assert "\u202e" not in text and "\u2066" not in text
    assert "acc\\u202eyc\\u2066" in text


def test_markdown_escapes_pipes_and_html():
    a = make_record("A", metrics={"a|b<i>": 1.0})
    markdown = render_markdown(compare_runs([a, clone(a, "B")]))
    assert "| B | a\\|b&lt;i&gt; | 1.0 | 1.0 |" in markdown
    assert "<i>" not in markdown
    assert markdown.startswith("# reprobox compare: 2 runs, reference A\n")


def test_markdown_shows_record_strings_as_written_not_as_markup():
    # brkc F5: links, images, emphasis and code from a record stay plain text.
    comparison = pair(
        project="[click](http://evil.example) ![x](http://evil.example/p.png)",
        image__ref="*bold* `code` ~~gone~~ <b>",
        metrics={"loss": 0.2, "accuracy": 0.9688},
    )
    md = render_markdown(comparison)
    assert "\\[click\\](http://evil.example)" in md
    assert "!\\[x\\](http://evil.example/p.png)" in md
    assert "\\*bold\\* \\`code\\` \\~\\~gone\\~\\~ &lt;b&gt;" in md
    assert "[click]" not in md.replace("\\[click\\]", "")


def test_markdown_list_items_cannot_start_a_list_or_heading():
    a = make_record("A", metrics={"- x": 0.1, "# y": 0.2, "1. z": 0.3})
    b = clone(a, "B", metrics={"- x": 0.5, "# y": 0.6, "1. z": 0.7})
    md = render_markdown(compare_runs([a, b]))
    items = [line[:12] for line in md.splitlines() if " differs across " in line]
    assert items == ["- \\# y diffe", "- \\- x diffe", "- 1\\. z diff"]


def test_json_holds_a_setup_value_nested_as_deep_as_json_allows():
    # brkc F6: --json raised RecursionError from dataclasses.asdict.
    deep: list = []
    for _ in range(960):
        deep = [deep]
    a = make_record("A", machine__odd=deep)
    b = make_record("B", metrics={"loss": 0.2, "accuracy": 0.9688})
    data = strict_loads(render_json(compare_runs([a, b])))
    [odd] = [d for d in data["differences"] if d["field"] == "machine.odd"]
    assert odd["reference_value"] == "[" * 961 + "]" * 961


def test_repeats_that_disagree_within_tolerance_fail_in_text_json_and_exit():
    # Round 35 F2: run --repeat exited 1 and its JSON said passed: false while
    # its text, and compare of the same records, said PASS. Repeats exist to
    # catch nondeterminism: no tolerance lets them differ.
    a = make_record("A", options__repeat_index=0)
    b = clone(
        a, "B", options__repeat_index=1, metrics={"loss": 0.1203, "accuracy": 0.9688}
    )
    comparison = compare_runs([a, b], tolerances={"loss": {"abs": 0.01}})
    assert not comparison.passed and exit_code(comparison) == 1
    assert render_text(comparison).splitlines()[1] == (
        "verdict: FAIL (repeats of one setup gave different loss: nondeterminism, "
        "which no tolerance allows (see below); 0 of 2 metric checks out of "
        "tolerance)"
    )
    data = strict_loads(render_json(comparison))
    assert data["passed"] is False
    assert [r["passed"] for r in data["runs"]] == [False, False]
    loss = next(r for r in data["results"] if r["metric"] == "loss")
    assert loss["passed"] is False
    assert loss["overruled"] == (
        "repeats of one setup (A, B) gave different loss: nondeterminism"
    )
    assert [f["repeats_disagree"] for f in data["nondeterminism"]] == [True]


def test_runs_of_one_setup_not_repeats_are_judged_by_tolerance_and_told():
    # Round 35 F2: run -H A -H B, two engines of one setup, within tolerance:
    # the same answer as compare, a pass, with the difference told.
    a = make_record("A", engine__host="unix:///a.sock")
    b = clone(
        a,
        "B",
        engine__host="unix:///b.sock",
        metrics={"loss": 0.1203, "accuracy": 0.9688},
    )
    comparison = compare_runs([a, b], tolerances={"loss": {"abs": 0.01}})
    assert comparison.passed and exit_code(comparison) == 0
    assert render_text(comparison).splitlines()[1] == (
        "verdict: PASS (all 2 metric checks within tolerance); but runs of one "
        "setup gave different loss: nondeterminism (see below)"
    )
    data = strict_loads(render_json(comparison))
    assert data["passed"] is True
    assert [r["passed"] for r in data["runs"]] == [True, True]
    assert [f["repeats_disagree"] for f in data["nondeterminism"]] == [False]


def test_a_huge_setup_value_is_cut_in_text():
    comparison = pair(project="p" * 5000, machine__python=10**400, metrics={})
    text = render_text(comparison)
    assert "p" * 199 + "\u2026" in text and "p" * 200 not in text
    assert "an integer of 401 digits" in text


def test_records_without_metrics_say_nothing_was_checked_in_every_format():
    a = make_record("A", metrics={})
    comparison = compare_runs([a, clone(a, "B", status="failed", exit_code=1)])
    why = (
        "run B has status failed (exit code 1); no run recorded any metric, so "
        "nothing was checked"
    )

    text = render_text(comparison)
    assert text.splitlines()[1] == f"verdict: FAIL ({why})"
    assert "0 of 0" not in text
    assert "  B        42    failed (exit code 1)  FAIL     nothing compared" in text
    assert render_markdown(comparison).splitlines()[2] == f"verdict: FAIL ({why})"
    data = strict_loads(render_json(comparison))
    assert (data["passed"], data["results"], data["metrics"]) == (False, [], [])
    assert [r["passed"] for r in data["runs"]] == [True, False]  # ref, B
    assert data["notes"][-1] == (
        "no run recorded any metric, so nothing was checked: the verdict is a failure"
    )


def test_huge_and_tiny_metrics_print_in_scientific_notation_json_keeps_them():
    import re

    from reprobox.report import render_report_html

    a = make_record("A", metrics={"big": 1e308, "whole": 10**308, "tiny": 5e-324})
    records = [a, clone(a, "B", metrics={"big": 1e307, "whole": 1, "tiny": 0.0})]
    comparison = compare_runs(records)
    for out in (
        render_text(comparison),
        render_markdown(comparison),
        render_report_html(records, comparison),
    ):
        assert re.search(r"\d{20}", out) is None
        assert "1e+308" in out and "1e+307" in out and "5e-324" in out
    values = strict_loads(render_json(comparison))["values"]
    assert values["A"] == {"big": 1e308, "tiny": 5e-324, "whole": 10**308}


@pytest.mark.parametrize(
    ("code", "signal", "shown"),
    [
        (3, None, "failed (exit code 3)"),
        (137, "SIGKILL", "failed (exit code 137, SIGKILL)"),
    ],
)
def test_a_failed_run_says_its_exit_code_in_every_format(code, signal, shown):
    # The README promises it; text, --md and --json said only "status failed".
    comparison = pair(status="failed", exit_code=code)

    text = render_text(comparison)
    assert f"verdict: FAIL (run B has status {shown}; " in text
    assert f"  B        42    {shown}  FAIL" in text
    assert f"but status {shown}: it cannot pass" in text
    assert f"  - run B has status {shown}" in text
    md = render_markdown(comparison)
    assert f"verdict: FAIL (run B has status {shown}; " in md
    assert f"| B | 42 | {shown} | FAIL |" in md
    runs = strict_loads(render_json(comparison))["runs"]
    assert [(r["exit_code"], r["signal"]) for r in runs] == [(0, None), (code, signal)]
    assert f"but status {shown}: it cannot pass" in runs[1]["headline"]


def test_an_interrupted_run_has_no_exit_code_to_show():
    comparison = pair(status="interrupted", exit_code=None)
    assert "run B has status interrupted;" in render_text(comparison)
    run = strict_loads(render_json(comparison))["runs"][1]
    assert (run["exit_code"], run["signal"]) == (None, None)


def _metric_row(comparison, run_id="B"):
    rows = render_text(comparison).split("Metrics\n")[1].splitlines()
    return next(line.split() for line in rows if line.split()[0] == run_id)


@pytest.mark.parametrize(
    ("value", "delta", "verdict"),
    [
        (0.9050001, "+0.0050001", "FAIL"),
        (0.9049999, "+0.0049999", "pass"),
        (0.905, "+0.005", "pass"),  # 0.905 - 0.9 as written: at the bound
        (0.9050000000000001, "+0.0050000000000001", "FAIL"),
        (0.904, "+0.004", "pass"),
        (0.95, "+0.05", "FAIL"),
    ],
)
def test_a_shown_delta_never_reads_against_its_verdict(value, delta, verdict):
    # round 33 item 6: 0.0050001 and 0.0049999 both read +0.005 beside abs 0.005.
    a = make_record("A", metrics={"acc": 0.9})
    comparison = compare_runs(
        [a, clone(a, "B", metrics={"acc": value})], tolerances={"acc": {"abs": 0.005}}
    )
    row = _metric_row(comparison)
    assert (row[4], row[6:8], row[8]) == (delta, ["abs", "0.005"], verdict)
    if verdict == "FAIL":  # the run's headline shows the same digits
        assert f"metrics differ (acc {delta})" in comparison.runs[1].headline


def test_a_tolerance_is_shown_as_the_float_it_is():
    a = make_record("A", metrics={"acc": 1.0})
    comparison = compare_runs(
        [a, clone(a, "B", metrics={"acc": 2.0000001})],
        tolerances={"acc": {"rel": 1.0000001}},
    )
    row = _metric_row(comparison)
    # rel of the larger value (2.0000001) passes; the rel column is of 1.0.
    assert row[6:9] == ["rel", "1.0000001", "pass"]
    assert comparison.results[0].reason == "within tolerance (rel 1.0000001)"


def test_bounds_and_deltas_below_the_smallest_normal_float_read_as_written():
    # Round 34 (AS 5): abs 1e-320 read 9.99989e-321 (with a 700-digit "exactly"
    # beside it), abs 5e-324 read 4.94066e-324, a delta of 5e-324 -4.94e-324.
    from reprobox.compare.exact import bound_text, three_digits, written

    assert [bound_text(b) for b in (1e-320, 5e-324, 1.0000001, 2.0)] == [
        "1e-320",
        "5e-324",
        "1.0000001",
        "2",
    ]
    assert three_digits(written(5e-324) - written(1e-323), sign=True) == "-5e-324"
    a = make_record("A", metrics={"b": 1e-323})
    comparison = compare_runs(
        [a, clone(a, "B", metrics={"b": 5e-324})], tolerances={"b": {"abs": 1e-320}}
    )
    row = _metric_row(comparison)
    assert (row[4], row[6:8], row[8]) == ("-5e-324", ["abs", "1e-320"], "pass")
    assert "exactly" not in render_text(comparison)
