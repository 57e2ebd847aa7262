"""An -r include that is not a readable file is said to be what it is."""

from __future__ import annotations

import os

import pytest

from reprobox.errors import LockError
from reprobox.lock.requirements_file import read_requirements_file

CASES = [
    (lambda p: p.mkdir(), "is a folder", "name the requirements file itself"),
    (
        os.mkfifo,
        "is not a regular file (a FIFO, socket or device)",
        "include a regular file",
    ),
    (
        lambda p: os.symlink("/nonexist", p),
        "is a link to a missing file",
        "point the link at the file",
    ),
    (
        lambda p: os.symlink(p.name, p),
        "is a symbolic link that loops",
        "point the link at a real file",
    ),
    (lambda p: None, "is missing", "paths are relative to the file"),
]


@pytest.mark.parametrize(
    ("make", "fault", "fix"),
    CASES,
    ids=["folder", "fifo", "broken-link", "link-loop", "missing"],
)
def test_an_include_that_cannot_be_read_says_what_it_is(tmp_path, make, fault, fix):
    # Round 39, BB 3: each was "included file more.txt not found next to
    # base.txt", though a folder or FIFO of that name was right there.
    (tmp_path / "reqs").mkdir()
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n-r reqs/base.txt\n")
    (tmp_path / "reqs" / "base.txt").write_text("\n-r more.txt\n")
    make(tmp_path / "reqs" / "more.txt")
    with pytest.raises(LockError) as info:
        read_requirements_file(tmp_path / "requirements.txt", root=tmp_path)
    assert info.value.message == (
        f"{tmp_path / 'reqs' / 'base.txt'}:2: -r more.txt {fault}"
        + (" (it leads back to itself)" if "loops" in fault else "")
    )
    assert fix in info.value.hint


def test_a_link_to_a_file_outside_the_project_is_outside(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (tmp_path / "elsewhere.txt").write_text("six==1.16.0\n")
    (root / "requirements.txt").write_text("-r more.txt\n")
    os.symlink("../elsewhere.txt", root / "more.txt")
    with pytest.raises(LockError) as info:
        read_requirements_file(root / "requirements.txt", root=root)
    assert info.value.message == (
        f"{root / 'requirements.txt'}:1: -r more.txt is outside the project "
        f"folder {root.resolve()}"
    )


def test_a_link_outside_to_nothing_is_a_link_to_a_missing_file(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r more.txt\n")
    os.symlink("../../nonexist/more.txt", tmp_path / "more.txt")
    with pytest.raises(LockError) as info:
        read_requirements_file(tmp_path / "requirements.txt", root=tmp_path)
    assert info.value.message.endswith("-r more.txt is a link to a missing file")
