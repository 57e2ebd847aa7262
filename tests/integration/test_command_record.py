"""A run record keeps the command its container ran, and compare names it.

Refrozen with another argument (`train.py 0.5` for `train.py 0.6`), the image
keeps its layers: compare could only blame "another manifest".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import freeze_and_build

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
WRITE_ARG = """import json, os, sys
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    json.dump({"acc": float(sys.argv[1])}, out)
"""


def test_compare_names_the_argument_that_changed(cli, engine_cleanup, tmp_path):
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "train.py").write_text(WRITE_ARG)
    config = path / "reprobox.toml"
    plain = config.read_text()
    records = []
    for acc in ("0.5", "0.6"):
        config.write_text(
            plain.replace(
                'command = "python train.py"', f'command = "python train.py {acc}"'
            )
        )
        freeze_and_build(path)
        records.append(json.loads(cli.run("run", str(path), "--json").stdout))
    assert [r["command"] for r in records] == [
        ["python", "train.py", "0.5"],
        ["python", "train.py", "0.6"],
    ]
    assert records[0]["image"]["layers"] == records[1]["image"]["layers"]
    runs = path / ".reprobox" / "runs"
    result = cli.run(
        "compare", *(str(runs / r["run_id"]) for r in records), "--json", check=False
    )
    assert result.returncode == 1, result.describe()
    compared = json.loads(result.stdout)
    assert compared["runs"][1]["likely_cause"] == "command"
    (command,) = [d for d in compared["differences"] if d["field"] == "command"]
    assert command["reference_value"] == ["python", "train.py", "0.5"]
    assert command["run_value"] == ["python", "train.py", "0.6"]
