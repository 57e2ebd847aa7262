"""How a message names a requirements file whose lock went stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reprobox.lock.requirements_file import requirements_named


def test_a_file_with_no_includes_is_named_alone(tmp_path):
    top = tmp_path / "requirements.txt"
    top.write_text("numpy==2.0.0\n")
    assert requirements_named(top, root=tmp_path) == str(top)


def test_the_files_it_includes_are_named_beside_it(tmp_path):
    # The manifest keeps one digest of all of them: an edit of other.txt was
    # reported as requirements.txt alone, a file the user never touched.
    (tmp_path / "reqs").mkdir()
    top = tmp_path / "requirements.txt"
    top.write_text("-r other.txt\n--requirement reqs/base.txt\n")
    (tmp_path / "other.txt").write_text("")
    (tmp_path / "reqs" / "base.txt").write_text("-r ../other.txt\n")
    assert requirements_named(top, root=tmp_path) == (
        f"{top} or a file it includes (other.txt, reqs/base.txt)"
    )


def test_an_include_through_a_relative_path_is_named_from_the_project(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("-r ./sub/../other.txt\n")
    Path("sub").mkdir()
    Path("other.txt").write_text("")
    assert requirements_named(Path("requirements.txt"), root=Path(".")) == (
        "requirements.txt or a file it includes (other.txt)"
    )


def _nested(tmp_path: Path) -> Path:
    """requirements.txt -r reqs/base.txt; reqs/base.txt -r more.txt."""
    (tmp_path / "reqs").mkdir()
    top = tmp_path / "requirements.txt"
    top.write_text("-r reqs/base.txt\n")
    (tmp_path / "reqs" / "base.txt").write_text("-r more.txt\n")
    (tmp_path / "reqs" / "more.txt").write_text("six==1.16.0\n")
    return top


def test_includes_are_named_at_every_level(tmp_path):
    top = _nested(tmp_path)
    (tmp_path / "reqs" / "more.txt").write_text("-r ../last.txt\n")
    (tmp_path / "last.txt").write_text("")
    assert requirements_named(top, root=tmp_path) == (
        f"{top} or a file it includes (reqs/base.txt, reqs/more.txt, last.txt)"
    )


def test_an_include_loop_names_each_file_once(tmp_path):
    top = _nested(tmp_path)
    (tmp_path / "reqs" / "more.txt").write_text("-r base.txt\n-r ../requirements.txt\n")
    assert requirements_named(top, root=tmp_path) == (
        f"{top} or a file it includes (reqs/base.txt, reqs/more.txt)"
    )


def test_a_deleted_nested_include_is_named_as_missing_first(tmp_path):
    # Round 39, BB 2: only reqs/base.txt was named, the file that changed
    # (reqs/more.txt, deleted) not at all.
    top = _nested(tmp_path)
    (tmp_path / "reqs" / "more.txt").unlink()
    assert requirements_named(top, root=tmp_path) == (
        "reqs/more.txt, included by reqs/base.txt, is missing. "
        f"{top} or a file it includes (reqs/base.txt, reqs/more.txt)"
    )


@pytest.mark.parametrize(
    ("make", "fault"),
    [
        (lambda p: p.mkdir(), "is a folder"),
        (os.mkfifo, "is not a regular file (a FIFO, socket or device)"),
        (lambda p: os.symlink("/nonexist", p), "is a link to a missing file"),
        (lambda p: os.symlink(p.name, p), "is a symbolic link that loops"),
    ],
    ids=["folder", "fifo", "broken-link", "link-loop"],
)
def test_a_nested_include_that_cannot_be_read_says_what_it_is(tmp_path, make, fault):
    top = _nested(tmp_path)
    (tmp_path / "reqs" / "more.txt").unlink()
    make(tmp_path / "reqs" / "more.txt")
    named = requirements_named(top, root=tmp_path)
    assert named.startswith(f"reqs/more.txt, included by reqs/base.txt, {fault}")
    assert named.endswith(
        f". {top} or a file it includes (reqs/base.txt, reqs/more.txt)"
    )


def test_a_missing_include_of_the_top_file_names_it_as_the_includer(tmp_path):
    top = tmp_path / "requirements.txt"
    top.write_text("-r gone.txt\n")
    assert requirements_named(top, root=tmp_path) == (
        "gone.txt, included by requirements.txt, is missing. "
        f"{top} or a file it includes (gone.txt)"
    )
