"""verify --runs-dir inside a project warns with the path its record takes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_the_warning_names_the_run_folder_the_record_goes_to(cli, tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "reprobox.toml").write_text('command = "python t.py"\n')
    runs = project / "vout"
    # The base image carries no reprobox labels: verify refuses it after the
    # warning, which comes before the engine is asked anything.
    done = cli.run("-q", "verify", cli.base_image, "--runs-dir", str(runs), check=False)
    assert done.returncode == 2, done.describe()
    first = done.stderr.splitlines()[0]
    assert first == (
        f"reprobox: warning: {runs}/<run id>/record.json is inside project "
        f"{project}: the next build copies it into the image, under a new tag; "
        "write it outside the project or under .reprobox/, or list it in "
        ".reproboxignore"
    )
