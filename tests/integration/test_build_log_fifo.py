"""A build.log that is a FIFO does not hide why a build failed.

The failed build's own one-line error and exit code stand; that the log
could not be kept is a warning that names build.log and says to move it
away. Nothing is written through the FIFO, and with no reader on it the
build does not wait for one.
"""

from __future__ import annotations

import os
import stat

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXIT_USAGE = 2


def test_a_fifo_build_log_is_a_warning_beside_the_real_cause(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=False)
    # The base image has Python 3.11: the build's own check fails it.
    toml = project / "reprobox.toml"
    toml.write_text(toml.read_text().replace('python = "3.11"', 'python = "3.12"'))
    cli.run("-q", "freeze", str(project), timeout=600)
    log = project / ".reprobox" / "build.log"
    os.mkfifo(log)

    result = cli.run("-q", "build", str(project), timeout=600, check=False)

    assert result.returncode == EXIT_USAGE, result.describe()
    error = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error) == 1 and "the base image has Python 3.11" in error[0], (
        result.describe()
    )
    assert (
        f"warning: {log} is a FIFO (named pipe), not a file reprobox wrote, so "
        "the build log was not kept there (move it away, then build again)"
    ) in result.stderr, result.describe()
    assert "build log is in" not in result.stderr
    assert stat.S_ISFIFO(os.lstat(log).st_mode)
