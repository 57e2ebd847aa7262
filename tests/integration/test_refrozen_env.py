"""A variable of [env] that moves a metric is named by compare after a refreeze.

Changing `[env] MY_SHIFT` and freezing again gave a compare whose likely cause
was only `manifest_sha256`, never the variable, and whose `image.id` row said
a push had sealed the reference run into the labels, though nothing was pushed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
READS_SHIFT = """import json, os
shift = float(os.environ["MY_SHIFT"])
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    json.dump({"loss": 0.5 + shift}, fh)
print("shift", shift, flush=True)
"""


def _set_shift(path: Path, value: str) -> None:
    config = path / "reprobox.toml"
    text = config.read_text().split("\n[env]\n")[0]
    config.write_text(f'{text}\n[env]\nMY_SHIFT = "{value}"\n')


def _freeze_and_run(cli, path: Path, value: str) -> dict:
    _set_shift(path, value)
    cli.run("-q", "freeze", str(path))
    done = cli.run("run", str(path), "--json")
    record = json.loads(done.stdout)
    assert record["status"] == "succeeded", done.describe()
    return record


def test_compare_names_the_refrozen_variable_and_claims_no_push(
    cli, engine_cleanup, tmp_path
):
    path, name = cli.copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    (path / "train.py").write_text(READS_SHIFT)

    first = _freeze_and_run(cli, path, "0.01")
    second = _freeze_and_run(cli, path, "0.02")
    assert first["environment"]["MY_SHIFT"] == "0.01"
    assert second["environment"]["MY_SHIFT"] == "0.02"
    assert first["metrics"]["loss"] != second["metrics"]["loss"]

    done = cli.run("compare", str(path / ".reprobox" / "runs"), "--json", check=False)
    comparison = json.loads(done.stdout)
    rows = {d["field"]: d for d in comparison["differences"]}
    shift = rows["environment.MY_SHIFT"]
    assert (shift["reference_value"], shift["run_value"]) == ("0.01", "0.02")
    assert shift["changes_numerics"] is True
    (run,) = [r for r in comparison["runs"] if r["run_id"] == second["run_id"]]
    assert run["likely_cause"] == "environment.MY_SHIFT"
    # Only [env] changed: the image's files are the same, its settings are not.
    assert first["image"]["layers"] == second["image"]["layers"]
    assert "refreeze" in rows["image.id"]["explanation"]
    assert "push" not in done.stdout
