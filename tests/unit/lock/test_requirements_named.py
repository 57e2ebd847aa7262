"""How a message names a requirements file whose lock went stale."""

from __future__ import annotations

from pathlib import Path

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
