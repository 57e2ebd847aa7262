"""`reprobox report` cuts a token a record holds as compare's text and --md do:
the page is for people, shared more than any terminal line (brk r48 BQ)."""

from __future__ import annotations

import json
import re

import pytest

from reprobox.seals import seal_record

pytestmark = pytest.mark.integration

TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
NAME = f"X_{TOKEN}"


def test_report_cuts_a_token_an_edited_record_holds_in_options_env(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    for _ in range(2):
        cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0")
    runs = project / ".reprobox" / "runs"
    paths = sorted(runs.glob("*/record.json"))
    assert len(paths) == 2
    # As an older reprobox wrote it, or as edited and sealed again by hand.
    record = json.loads(paths[1].read_text())
    record["options"]["env"][NAME] = TOKEN
    record["label"] = f"work_{TOKEN}"
    # Shortened to fit inside the token: what is left of it is cut too.
    record["options"]["env"]["LONG"] = "a" * 180 + " " + TOKEN
    paths[1].write_text(json.dumps(seal_record(record)))

    page = tmp_path / "f.html"
    written = cli.run("report", str(runs), "-o", str(page))
    text = cli.run("compare", str(runs), check=False)
    markdown = cli.run("compare", str(runs), "--md", check=False)
    shown = cli.run("report", str(runs), "-o", "-")
    # The sleeper records no metric: compare fails it, nothing checked.
    assert text.returncode == markdown.returncode == 1, text.describe()

    html = page.read_text()
    assert html == shown.stdout
    for output in (html, text.stdout, markdown.stdout, written.stderr):
        assert TOKEN[4:10] not in output
    assert "<code>options.env.X_ghp_***</code>" in html
    assert '<td class="num">ghp_***</td>' in html
    assert '<td class="num">work_ghp_***</td>' in html
    assert " ghp_***\u2026</td>" in html
    # Every cut form compare shows, the page shows.
    plain_md = markdown.stdout.replace("\\", "")
    cut = set(re.findall(r"[A-Za-z0-9_.-]*\*\*\*", text.stdout + plain_md))
    assert cut == {"options.env.X_ghp_***", "ghp_***", "work_ghp_***"}
    assert all(form in html for form in cut), cut
