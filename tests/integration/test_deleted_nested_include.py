"""A nested -r include deleted after freeze is named, as missing, by build."""

from __future__ import annotations

import secrets

import pytest

pytestmark = pytest.mark.integration


def test_build_names_a_deleted_nested_include_as_missing(cli, tmp_path, engine_cleanup):
    # Round 39, BB 2: build named requirements.txt and reqs/base.txt, never
    # reqs/more.txt, the file that was gone.
    name = engine_cleanup.add(f"nested-include-it-{secrets.token_hex(3)}")
    path = tmp_path / name
    (path / "reqs").mkdir(parents=True)
    (path / "reprobox.toml").write_text(
        f'name = "{name}"\ncommand = "python train.py"\n'
        f'base_image = "{cli.base_image}"\n'
    )
    (path / "train.py").write_text("print('trained')\n")
    (path / "requirements.txt").write_text("-r reqs/base.txt\n")
    (path / "reqs" / "base.txt").write_text("-r more.txt\n")
    (path / "reqs" / "more.txt").write_text("")
    cli.run("-q", "freeze", str(path), timeout=600)

    (path / "reqs" / "more.txt").unlink()
    refused = cli.run("build", str(path), check=False, timeout=600)
    assert refused.returncode == 2, refused.describe()
    [line] = refused.stderr.strip().splitlines()
    assert "reqs/more.txt, included by reqs/base.txt, is missing. " in line, line
    assert (
        "or a file it includes (reqs/base.txt, reqs/more.txt) changed since freeze"
        in line
    ), line
    assert f"reprobox freeze {path}" in line, line
    assert "Traceback" not in refused.stderr
