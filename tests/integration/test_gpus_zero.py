"""`run --gpus 0` asks for no GPU: recorded as a run without --gpus."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_gpus_zero_is_recorded_as_no_gpu_and_compares_equal(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    quick = ("--env", "SLEEPER_SECONDS=0", "--json")
    plain = json.loads(cli.run("run", str(project), *quick, timeout=300).stdout)
    zero = json.loads(
        cli.run("run", str(project), "--gpus", "00", *quick, timeout=300).stdout
    )
    runs = project / ".reprobox" / "runs"
    written = json.loads((runs / zero["run_id"] / "record.json").read_text())
    assert [plain["options"]["gpus"], zero["options"]["gpus"]] == [None, None]
    assert written["options"]["gpus"] is None
    assert [plain["status"], zero["status"]] == ["succeeded", "succeeded"]

    folders = [str(runs / r["run_id"]) for r in (plain, zero)]
    compared = cli.run("compare", *folders, timeout=120, check=False)
    assert "options.gpus" not in compared.stdout + compared.stderr, compared.describe()
