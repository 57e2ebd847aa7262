"""Of several published entries, `run -H` pulls the one sealing the newest run.

brk r45 (BK 5): pushed to 127.0.0.1:5000/team (sealing run A), then, after a
newer run B, to 127.0.0.1:5000 (sealing B): `run -H engine2` ran the first
entry listed, A's seal.
"""

from __future__ import annotations

import json

import pytest

# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE2,
    engine1_client,
    engine2_client,
    registry,
    two_engine_cleanup,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.second_engine,
    pytest.mark.registry,
    pytest.mark.timeout(900),
]

QUICK = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"acc": 0.9}, fh)
"""


def test_run_host_pulls_the_newest_seal(
    cli, engine_cleanup, two_engine_cleanup, registry, tmp_path
):
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    two_engine_cleanup.names.append(name)
    (project / "train.py").write_text(QUICK)
    first = json.loads(cli.run("-q", "run", str(project), "--json").stdout)
    p1 = cli.run("push", str(project), "--registry", f"{registry}/team")
    second = json.loads(cli.run("-q", "run", str(project), "--json").stdout)
    p2 = cli.run("push", str(project), "--registry", registry)
    manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
    runs = {entry["reference_run"]: entry["ref"] for entry in manifest["published"]}
    assert sorted(runs) == sorted([first["run_id"], second["run_id"]]), (
        p1.describe(),
        p2.describe(),
    )
    newest = runs[second["run_id"]]
    assert newest.startswith(f"{registry}/reprobox/")

    done = cli.run("-q", "run", str(project), "--host", ENGINE2, "--json")
    record = json.loads(done.stdout)
    assert record["status"] == "succeeded"
    assert record["image"]["ref"] == newest, done.describe()
