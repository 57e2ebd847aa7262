"""Numerics variables the freezing shell had, against the strict profile.

brk r45 (BL F3): `TF_ENABLE_ONEDNN_OPTS=1 reprobox freeze` put 1 in the image;
`run --profile strict` then ran with 0 without a word, where the same value
in [env] is refused; with profile = "strict" freeze dropped the shell's 1
without a word.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SAYS_ONEDNN = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"onednn": int(os.environ["TF_ENABLE_ONEDNN_OPTS"])}, fh)
"""


def freeze_in_a_shell_with(cli, project, **environ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reprobox", "-q", "freeze", str(project)],
        env={**cli.env(), **environ},
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_a_strict_run_says_it_replaces_the_shells_value(cli, engine_cleanup, tmp_path):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(SAYS_ONEDNN)
    froze = freeze_in_a_shell_with(cli, project, TF_ENABLE_ONEDNN_OPTS="1")
    assert froze.returncode == 0, froze.stderr
    manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
    assert manifest["environment"]["TF_ENABLE_ONEDNN_OPTS"] == "1"

    plain = cli.run("-q", "run", str(project), "--json", timeout=600)
    assert json.loads(plain.stdout)["metrics"] == {"onednn": 1}
    assert plain.stderr == ""
    strict = cli.run("-q", "run", str(project), "--profile", "strict", "--json")
    assert json.loads(strict.stdout)["metrics"] == {"onednn": 0}
    assert strict.stderr.splitlines() == [
        "reprobox: warning: the image sets TF_ENABLE_ONEDNN_OPTS='1', from the "
        "shell that froze it, but --profile strict sets '0' and wins (pass --env "
        "TF_ENABLE_ONEDNN_OPTS=1 to keep the image's)"
    ]
    kept = cli.run(
        "-q",
        "run",
        str(project),
        "--profile",
        "strict",
        "--json",
        "--env",
        "TF_ENABLE_ONEDNN_OPTS=1",
    )
    assert json.loads(kept.stdout)["metrics"] == {"onednn": 1}
    assert kept.stderr == ""


def test_a_strict_freeze_says_it_leaves_the_shells_value_out(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    toml = project / "reprobox.toml"
    toml.write_text('profile = "strict"\n' + toml.read_text())
    froze = freeze_in_a_shell_with(cli, project, TF_ENABLE_ONEDNN_OPTS="1")
    assert froze.returncode == 0, froze.stderr
    assert froze.stderr.splitlines() == [
        "reprobox: warning: TF_ENABLE_ONEDNN_OPTS=1 in this shell is not frozen: "
        "the strict profile sets 0; give another at run time with `reprobox run "
        "--env TF_ENABLE_ONEDNN_OPTS`"
    ]
    manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
    assert manifest["environment"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
