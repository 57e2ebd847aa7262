"""The lock's via comments name the project's requirements file.

brk r49 (BS 5): they said `-r requirements.in`, the name of the resolver's
temporary copy, which the project does not have.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_the_lock_names_requirements_txt_and_a_second_freeze_gives_the_same_lock(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    lock = project / ".reprobox" / "requirements.lock"
    first = lock.read_text()
    assert "    # via -r requirements.txt\n" in first
    assert "requirements.in" not in first
    cli.run("-q", "freeze", str(project), timeout=600)
    assert lock.read_text() == first
