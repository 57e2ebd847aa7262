import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import (
    COMPARISON_SCHEMA_VERSION,
    compare_runs,
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


def test_markdown_escapes_pipes_and_html():
    a = make_record("A", metrics={"a|b<i>": 1.0})
    markdown = render_markdown(compare_runs([a, clone(a, "B")]))
    assert "| B | a\\|b&lt;i&gt; | 1.0 | 1.0 |" in markdown
    assert "<i>" not in markdown
    assert markdown.startswith("# reprobox compare: 2 runs, reference A\n")
