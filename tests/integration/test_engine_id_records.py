"""A run records its engine's ID, so compare tells engines apart by it, not by
a socket path it would have to read on the machine that compares (brk r48 BS 1)."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

WRITES_ACC = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"acc": 0.9}, fh)
"""


def test_runs_through_a_link_to_the_socket_are_one_engine_once_it_is_gone(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_ACC)
    cli.run("-q", "freeze", str(project))
    link = tmp_path / "engine.sock"
    link.symlink_to(os.path.realpath("/var/run/docker.sock"))
    plain = json.loads(cli.run("-q", "run", str(project), "--json").stdout)
    linked = json.loads(
        cli.run("-q", "run", str(project), "-H", f"unix://{link}", "--json").stdout
    )
    engine_id = docker_client.info()["ID"]
    assert plain["engine"]["id"] == linked["engine"]["id"] == engine_id
    assert linked["engine"]["host"] == f"unix://{link}"  # as given

    link.unlink()  # as on a colleague's machine: the path leads nowhere
    runs = project / ".reprobox" / "runs"
    done = cli.run("compare", str(runs), "--json", check=False)
    compared = json.loads(done.stdout)
    fields = {d["field"] for d in compared["differences"]}
    assert "engine.host" not in fields, done.describe()
    assert compared["passed"] is True, done.describe()
