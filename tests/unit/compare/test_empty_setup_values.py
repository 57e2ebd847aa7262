"""An empty setup value reads apart from an unset one, in every renderer."""

import json

import pytest
from reprobox_synthetic import clone, make_record

from reprobox.compare import compare_runs, render_json, render_markdown, render_text
from reprobox.compare.headlines import format_value
from reprobox.report import render_report_html


def empty_beside_unset():
    """A reference with X=1, a run given `--env X= --env Y=' '` (breaker BQ 2)."""
    ref = make_record("A", options__env={"X": "1"})
    return [ref, clone(ref, "B", options__env={"X": "", "Y": " "})]


def test_an_empty_env_value_is_not_an_empty_cell():
    comparison = compare_runs(empty_beside_unset())

    text = render_text(comparison)
    assert '    B    options.env.X  1          ""         env' in text
    assert '    B    options.env.Y  unset      " "        env' in text
    md = render_markdown(comparison)
    assert '|  | B | options.env.X | 1 | "" | env |' in md
    assert '|  | B | options.env.Y | unset | " " | env |' in md


def test_the_report_shows_it_as_compare_does():
    records = empty_beside_unset()
    html = render_report_html(records, compare_runs(records))

    assert '<td class="num">1</td><td class="num">&#34;&#34;</td><td>env</td>' in html
    assert (
        '<td class="num">unset</td><td class="num">&#34; &#34;</td><td>env</td>' in html
    )


def test_json_keeps_the_real_value():
    data = json.loads(render_json(compare_runs(empty_beside_unset())))

    values = {
        d["field"]: (d["reference_value"], d["run_value"]) for d in data["differences"]
    }
    assert values == {"options.env.X": ("1", ""), "options.env.Y": (None, " ")}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("", '""'),
        ("1 ", '"1 "'),
        ("\t", '"\\t"'),
        ('""', '"\\"\\""'),  # a value of two quotes is not the empty one
        ("a b", "a b"),
        ("unset", '"unset"'),  # the word, not a variable left unset
        (None, "unset"),
    ],
)
def test_a_value_that_would_read_as_another_is_quoted(value, shown):
    assert format_value(value) == shown
