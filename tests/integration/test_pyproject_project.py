"""A project whose only package list is [project].dependencies of pyproject.toml."""

from __future__ import annotations

import json
import secrets

import pytest
from conftest import TEST_PROJECTS, run_reprobox

pytestmark = pytest.mark.integration

TRAIN = """\
import json, os
import six
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"six_major": int(six.__version__.split(".")[0])}, fh)
"""


def test_pyproject_dependencies_are_locked_installed_and_guarded(
    tmp_path, docker_client, engine_cleanup
):
    name = engine_cleanup.add(f"pyproject-only-it-{secrets.token_hex(3)}")
    path = tmp_path / name
    path.mkdir()
    (path / "train.py").write_text(TRAIN)
    base = (TEST_PROJECTS / "hard-tiny" / "reprobox.toml").read_text()
    base_image = next(ln for ln in base.splitlines() if ln.startswith("base_image"))
    pyproject = (
        f'[project]\nname = "{name}"\nversion = "0.1"\n'
        'dependencies = ["six==1.17.0"]\n\n'
        f'[tool.reprobox]\nname = "{name}"\ncommand = "python train.py"\n'
        f"{base_image}\n"
    )
    (path / "pyproject.toml").write_text(pyproject)

    run_reprobox("freeze", str(path))
    lock = (path / ".reprobox" / "requirements.lock").read_text()
    assert "six==1.17.0" in lock and "--hash=sha256:" in lock

    ran = run_reprobox("run", str(path), "--json")
    record = json.loads(ran.stdout)
    assert record["status"] == "succeeded", ran.describe()
    assert record["metrics"] == {"six_major": 1}
    assert record["machine"]["packages"]["six"] == "1.17.0"

    # A new pin in [project].dependencies without a new freeze: refused, no build.
    (path / "pyproject.toml").write_text(pyproject.replace("1.17.0", "1.16.0"))
    refused = run_reprobox("run", str(path), check=False)
    assert refused.returncode == 2, refused.describe()
    [line] = [ln for ln in refused.stderr.splitlines() if "error" in ln]
    assert "pyproject.toml: its [project].dependencies changed since freeze" in line
