"""report's default path replaces only a report reprobox wrote, as -o does
(brk r50 BU 4: a file of one's own at .reprobox/report.html was overwritten)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

WRITES_ACC = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"acc": 0.9}, fh)
"""


def test_the_default_report_path_keeps_a_file_that_is_no_report(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_ACC)
    cli.run("-q", "freeze", str(project))
    for _ in range(2):
        json.loads(cli.run("-q", "run", str(project), "--json").stdout)
    notes = project / ".reprobox" / "report.html"
    notes.write_text("my own notes\n")

    def report():
        return subprocess.run(
            [sys.executable, "-m", "reprobox", "report", ".reprobox/runs"],
            env=cli.env(),
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    refused = report()
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr == (
        "reprobox: error: .reprobox/report.html exists and is not a report "
        "reprobox wrote; reprobox will not replace it (choose another path with "
        "-o, or remove that file yourself)\n"
    )
    assert notes.read_text() == "my own notes\n"
    notes.unlink()
    written = report()
    assert written.returncode == 0, written.stderr
    assert written.stdout == "wrote .reprobox/report.html\n"
    assert report().returncode == 0  # its own report it replaces
