"""A number flag that is not plain ASCII digits is refused before any run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_repeat_with_an_underscore_is_refused_and_starts_no_container(
    cli, engine_cleanup, tmp_path
):
    # int() reads "1_0" as 10: the run went ahead ten times.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    done = cli.run(
        "run",
        str(project),
        "--repeat",
        "1_0",
        "--env",
        "SLEEPER_SECONDS=0",
        check=False,
    )
    assert done.returncode == 2, done.describe()
    assert done.stderr == (
        "reprobox: error: invalid value for '--repeat': '1_0' is not a whole "
        "number in ASCII digits; write e.g. --repeat 10 (see reprobox run --help)\n"
    )
    assert engine_cleanup.containers(name) == []
    assert not (project / ".reprobox" / "runs").exists()
