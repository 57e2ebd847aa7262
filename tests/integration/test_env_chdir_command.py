"""A command behind `env -C DIR` runs its script from DIR, and freeze checks
it there: the check and the container agree (brk r48 BP 1)."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PRINTS_WHERE = """import os
print("ran in", os.getcwd(), flush=True)
"""


def set_command(project, command: str) -> None:
    toml = project / "reprobox.toml"
    text = re.sub(r"(?m)^command = .*$", command, toml.read_text())
    toml.write_text(text)


def test_env_chdir_moves_the_script_for_the_check_and_the_run(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "sub").mkdir()
    (project / "sub" / "where.py").write_text(PRINTS_WHERE)

    # where.py is not in the workdir: it was refused as missing there.
    set_command(project, 'command = "env -C sub python where.py"')
    cli.run("-q", "freeze", str(project))
    ran = cli.run("-q", "run", str(project), "--json")
    record = json.loads(ran.stdout)
    assert record["status"] == "succeeded", ran.describe()
    (run_dir,) = (project / ".reprobox" / "runs").iterdir()
    assert (run_dir / "container.log").read_text() == "ran in /app/sub\n"

    # train.py is in the workdir, not in sub: the run could not start it.
    set_command(project, 'command = "env -C sub python train.py"')
    refused = cli.run("-q", "freeze", str(project), check=False)
    assert refused.returncode == 2, refused.describe()
    assert refused.stderr.splitlines() == [
        f"reprobox: error: {project / 'reprobox.toml'}: command: runs "
        "'sub/train.py', which is not in the project (no such file), so the run "
        "could not start it (create it, or fix the path in command)"
    ], refused.describe()
