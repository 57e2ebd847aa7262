"""The report page cuts tokens as compare's text and --md do (brk r48 BQ)."""

import re

from reprobox.compare import compare_runs, render_markdown, render_text
from reprobox.report import render_report_html
from reprobox.shown_text import cut_tokens
from tests.unit.test_report import synthetic

GHP = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
HF = "hf_" + "Qw7eR5tY9u" * 3
# Long enough that the chart legend shortens it inside the token.
RUN_ID = f"20240101T000100Z-b_{GHP}"


def token_records():
    """Return a reference and a run whose record holds tokens in every place
    the page shows: an env name and value, a label, a metric, a curve, a
    machine fact, the project, the run id, and a value that needs escaping."""
    ref = synthetic.make_record("20240101T000000Z-aaaaaa")
    run = synthetic.clone(
        ref,
        RUN_ID,
        label=f"work_{HF}",
        project=f"proj_{GHP}",
        options__env={f"X_{GHP}": GHP},
        machine__cpu__model=f"<b>{GHP}</b>",
        machine__cpu__vendor="%67hp_" + GHP[4:],
    )
    run.data["metrics"][f"loss_{HF}"] = 0.5
    run.data["history"][0]["epochs"][0][f"acc_{GHP}"] = 0.3
    return [ref, run]


def test_the_page_holds_no_token_and_shows_each_cut():
    records = token_records()
    html = render_report_html(records, compare_runs(records))

    # Not the token, nor any part of its random body beyond what a cut keeps.
    for token in (GHP, HF):
        assert re.search(re.escape(token[4:10]), html) is None, token
    assert "<code>options.env.X_ghp_***</code>" in html
    assert '<td class="num">ghp_***</td>' in html
    assert "work_hf_Q***" in html
    assert "<th>loss_hf_Q***</th>" in html
    assert "<title>acc_ghp_***</title>" in html
    assert "reprobox report: digits, proj_ghp_***</title>" in html
    assert "<th>20240101T000100Z-b_ghp_***</th>" in html
    assert 'data-run="20240101T000100Z-b_ghp_***"' in html
    # The legend shortens a label after its token is cut, not inside it.
    assert ">20240101T000100Z-b_ghp_***</text>" in html


def test_a_token_is_cut_before_the_page_escapes_it():
    records = token_records()
    html = render_report_html(records, compare_runs(records))

    assert "&lt;b&gt;ghp_***&lt;/b&gt;" in html
    assert "<b>" not in html.split("</style>")[1]
    assert "%67hp_" not in html  # a percent-escaped token is decoded and cut


def test_the_page_shows_each_cut_form_compare_text_and_markdown_show():
    records = token_records()
    comparison = compare_runs(records)
    html = render_report_html(records, comparison)

    shown = cut_tokens(render_text(comparison) + render_markdown(comparison))
    cut = set(re.findall(r"[A-Za-z0-9_.-]*\*\*\*", shown))
    assert {"options.env.X_ghp_***", "loss_hf_Q***", "proj_ghp_***"} <= cut
    for form in cut:
        assert form in html, form


def test_markdown_cuts_a_token_before_escaping_it():
    # Markdown wrote ghp\_Zx81..., whose escape hid it from the cut the
    # printed line gets: compare --md showed it whole.
    records = token_records()
    markdown = cut_tokens(render_markdown(compare_runs(records)))

    for token in (GHP, HF):
        assert token[4:10] not in markdown, token
    assert "| options.env.X\\_ghp\\_\\*\\*\\* | unset | ghp\\_\\*\\*\\* |" in markdown


def test_text_columns_are_sized_to_the_cut_token():
    # The widths were those of the whole token: printed (cut, as echo cuts),
    # the cut one sat far left of its column's heading.
    text = cut_tokens(render_text(compare_runs(token_records())))

    section = text.split("Setup differences")[1].split("\n\n")[0]
    header, *rows = section.splitlines()[1:]
    column = {row.index(" unset ") + 1 for row in rows if " unset " in row}
    assert column == {header.index("reference")}, section


def test_a_long_value_shortened_inside_its_token_shows_none_of_it():
    # Shortened to 200 characters inside the token, 14 of its characters
    # were no token to the cut, and the page and compare showed them.
    ref = synthetic.make_record("A")
    run = synthetic.clone(ref, "B", options__env={"LONG": "a" * 180 + " " + GHP})
    comparison = compare_runs([ref, run])
    html = render_report_html([ref, run], comparison)
    text = cut_tokens(render_text(comparison))

    for shown in (html, text):
        assert GHP[4:10] not in shown
        assert " ghp_***\u2026" in shown
