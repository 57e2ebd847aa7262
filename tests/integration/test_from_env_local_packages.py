"""`freeze --from-env` of a real venv holding packages installed from a local path.

reprobox itself, installed with `pip install .`, is left out of the lock and
said to be, in packages.warnings and on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]


def make_venv(cli, where: Path, *installs: str) -> Path:
    """Make a venv at where, pip install installs into it; return its python."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *installs],
        check=True,
        env=cli.env(),
        timeout=300,
    )
    return python


def from_env_project(cli, where: Path) -> Path:
    """Write a project that locks the live environment; return its folder."""
    where.mkdir()
    (where / "reprobox.toml").write_text(
        'name = "from-env-local"\ncommand = "python train.py"\npython = "3.11"\n'
        f'base_image = "{cli.base_image}"\n\n[packages]\nfrom_env = true\n',
        encoding="utf-8",
    )
    (where / "train.py").write_text("print('trained')\n", encoding="utf-8")
    return where


def test_reprobox_installed_from_its_folder_is_left_out_and_said(cli, tmp_path):
    # --no-deps: the venv needs reprobox's own distribution, not what it runs on.
    python = make_venv(cli, tmp_path / "env", "six==1.17.0", "--no-deps", str(REPO))
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "reprobox" in {row["name"] for row in json.loads(listed.stdout)}
    project = from_env_project(cli, tmp_path / "project")

    result = cli.run("freeze", str(project), "--from-env", "--python-exe", str(python))
    warning = (
        "the live environment: reprobox is installed there and left out of the "
        "lock: the image gets reprobox's start-up hook instead, so code that "
        "imports reprobox would not find it there"
    )
    assert f"reprobox: warning: {warning}" in result.stderr.splitlines()
    manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
    assert manifest["packages"]["warnings"] == [warning]
    assert manifest["packages"]["pins"] == {"six": "1.17.0"}
