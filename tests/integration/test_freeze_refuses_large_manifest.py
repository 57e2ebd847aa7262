"""freeze refuses a manifest too large for the image's labels, before writing."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"


def test_freeze_refuses_fifty_thousand_variables_with_the_env_fix(cli, tmp_path):
    project, _ = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    config = project / "reprobox.toml"
    text = config.read_text().replace("[packages]", "[env]\n")
    many = "".join(f'V{i} = "{"x" * 40}"\n' for i in range(50_000))
    config.write_text(text.replace("[env]\n", "[env]\n" + many + "\n[packages]", 1))
    done = cli.run("freeze", str(project), check=False, timeout=600)
    assert done.returncode == 2, done.describe()
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("reprobox: error")]
    assert line.startswith(f"reprobox: error: {config}: the manifest is ")
    assert "(environment holds most of it)" in line
    assert "set fewer variables in [env] and pass_env" in done.stderr
    assert "data files" not in done.stderr
    assert not (project / ".reprobox" / "manifest.json").exists()
