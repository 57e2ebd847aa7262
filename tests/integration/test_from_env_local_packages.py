"""`freeze --from-env` of a real venv holding packages installed from a local path.

A package the index does not have is refused in one line naming it and its
folder; reprobox itself, installed with `pip install .`, is left out of the
lock and said to be, in packages.warnings and on stderr.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
EXIT_USAGE = 2


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


def test_a_local_package_the_index_lacks_is_refused_naming_its_folder(cli, tmp_path):
    name = f"rbx-local-{secrets.token_hex(4)}"
    package = tmp_path / "localpkg"
    (package / name.replace("-", "_")).mkdir(parents=True)
    (package / name.replace("-", "_") / "__init__.py").write_text("X = 1\n")
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n',
        encoding="utf-8",
    )
    python = make_venv(cli, tmp_path / "env", "six==1.17.0", str(package))
    project = from_env_project(cli, tmp_path / "project")

    result = cli.run(
        "-q", "freeze", str(project), "--from-env", "--python-exe", str(python),
        check=False,
    )  # fmt: skip
    assert result.returncode == EXIT_USAGE, result.describe()
    assert result.stderr.splitlines() == [
        f"reprobox: error: --from-env: {name} 0.1.0 was installed from {package} "
        "on this machine (so says its direct_url.json), and the package index has "
        f"no {name} 0.1.0 for the image to install (publish {name} to an index "
        "named in packages.index_url or extra_index_urls, reinstall it from git "
        "at a commit, or uninstall it from that environment if training does not "
        "need it; then freeze again)"
    ], result.describe()
    assert not (project / ".reprobox" / "manifest.json").exists()


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


def test_a_requirements_file_beside_from_env_is_said_to_go_unread(cli, tmp_path):
    # brk r50 (BU 2): it pinned six==1.16.0, the environment held 1.17.0, and
    # freeze --from-env locked 1.17.0 without a word.
    python = make_venv(cli, tmp_path / "env", "six==1.17.0")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "reprobox.toml").write_text(
        'name = "from-env-req"\ncommand = "python train.py"\npython = "3.11"\n'
        f'base_image = "{cli.base_image}"\n',
        encoding="utf-8",
    )
    (project / "train.py").write_text("print('trained')\n", encoding="utf-8")
    (project / "requirements.txt").write_text("six==1.16.0\n", encoding="utf-8")
    done = cli.run(
        "-q", "freeze", str(project), "--from-env", "--python-exe", str(python)
    )
    assert done.stderr.splitlines()[0] == (
        f"reprobox: warning: {project / 'requirements.txt'} is not read with "
        "--from-env: the lock holds the environment's packages, whatever it pins "
        "(set packages.from_env = true to freeze from the environment alone)"
    ), done.describe()
    lock = (project / ".reprobox" / "requirements.lock").read_text()
    assert "six==1.17.0" in lock
