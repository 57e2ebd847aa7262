"""Reading a project's requirements file."""

from __future__ import annotations

import pytest

from reprobox.errors import InputError, LockError
from reprobox.lock.requirements_file import read_requirements_file


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def lines_of(entries):
    return [str(entry.requirement) for entry in entries]


def test_comments_blank_lines_and_continuations(tmp_path):
    path = write(
        tmp_path,
        "requirements.txt",
        "# a comment\n\nnumpy==1.26.4  # pinned for the paper\n"
        "scikit-learn>=1.3,\\\n  <1.8\n",
    )
    entries, warnings = read_requirements_file(path)
    assert lines_of(entries) == ["numpy==1.26.4", "scikit-learn<1.8,>=1.3"]
    assert [e.origin for e in entries] == [f"{path}:3", f"{path}:4"]
    assert warnings == []


def test_environment_markers_are_kept(tmp_path):
    path = write(tmp_path, "r.txt", 'colorama==0.4.6; sys_platform == "win32"\n')
    entries, _ = read_requirements_file(path)
    assert lines_of(entries) == ['colorama==0.4.6; sys_platform == "win32"']


def test_include_is_relative_to_the_including_file(tmp_path, monkeypatch):
    write(tmp_path, "reqs/base.txt", "six==1.16.0\n")
    top = write(
        tmp_path, "reqs/top.txt", "-r base.txt\n--requirement=base.txt\nnumpy\n"
    )
    monkeypatch.chdir(tmp_path)  # not the folder of top.txt
    entries, _ = read_requirements_file(top)
    assert lines_of(entries) == ["six==1.16.0", "six==1.16.0", "numpy"]
    assert entries[0].origin.endswith("base.txt:1")


def test_missing_include_names_file_and_line(tmp_path):
    top = write(tmp_path, "top.txt", "numpy\n-r nowhere.txt\n")
    with pytest.raises(LockError, match=r"top\.txt:2: -r nowhere\.txt is missing"):
        read_requirements_file(top)


def test_include_loop_is_refused(tmp_path):
    write(tmp_path, "a.txt", "-r b.txt\n")
    write(tmp_path, "b.txt", "-r a.txt\n")
    with pytest.raises(LockError, match="includes itself"):
        read_requirements_file(tmp_path / "a.txt")


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read requirements file"):
        read_requirements_file(tmp_path / "absent.txt")


@pytest.mark.parametrize(
    "line", ["-e .", "--editable ../lib", "-e git+https://x/y.git#egg=y"]
)
def test_editable_is_refused_with_location_and_fix(tmp_path, line):
    path = write(tmp_path, "requirements.txt", f"numpy\n{line}\n")
    with pytest.raises(LockError) as info:
        read_requirements_file(path)
    assert str(info.value).startswith(f"{path}:2: editable install")
    assert "name @ git+URL@<commit>" in info.value.hint


@pytest.mark.parametrize(
    "line",
    [
        "./vendor/pkg",
        "/opt/wheels/torch-2.1-cp311-linux_x86_64.whl",
        "dist/mypkg-1.0.tar.gz",
        "C:\\wheels\\pkg.whl",
        "~/src/pkg",
    ],
)
def test_local_paths_are_refused_with_location_and_fix(tmp_path, line):
    path = write(tmp_path, "requirements.txt", f"{line}\n")
    with pytest.raises(
        LockError, match=r"requirements\.txt:1: .* is a local path"
    ) as info:
        read_requirements_file(path)
    assert "name==version" in info.value.hint


def test_url_without_a_name_is_refused(tmp_path):
    path = write(tmp_path, "r.txt", "https://example.org/pkg-1.0-py3-none-any.whl\n")
    with pytest.raises(LockError, match="URL without a package name"):
        read_requirements_file(path)


def test_constraints_files_are_refused(tmp_path):
    write(tmp_path, "c.txt", "six<2\n")
    path = write(tmp_path, "r.txt", "-c c.txt\n")
    with pytest.raises(LockError, match=r"r\.txt:1: constraints files"):
        read_requirements_file(path)


def test_index_options_are_ignored_with_a_redacted_warning(tmp_path):
    path = write(
        tmp_path,
        "r.txt",
        "--extra-index-url https://__token__:${HUNTER2}@pkgs.example/simple\n"
        "--find-links /opt/wheels\n-f /opt/wheels\nsix\n",
    )
    entries, warnings = read_requirements_file(path)
    assert lines_of(entries) == ["six"]
    assert len(warnings) == 3
    assert all("indexes come only from the project config" in w for w in warnings)
    # A reference names a variable, and is shown as written: no secret in it.
    assert "https://__token__:${HUNTER2}@pkgs.example/simple" in warnings[0]


def test_per_requirement_hashes_are_dropped(tmp_path):
    path = write(tmp_path, "r.txt", "six==1.16.0 --hash=sha256:" + "a" * 64 + "\n")
    entries, _ = read_requirements_file(path)
    assert lines_of(entries) == ["six==1.16.0"]


def test_invalid_requirement_names_file_and_line(tmp_path):
    path = write(tmp_path, "r.txt", "six\nnumpy[cpu==1\n")
    with pytest.raises(LockError, match=r"r\.txt:2: not a valid requirement") as info:
        read_requirements_file(path)
    # A line a user can fix says how: it had no hint at all.
    assert info.value.hint == (
        "fix the line to one PEP 508 requirement, like 'name==1.2', "
        "'name[extra]>=1.0' or 'name @ URL'"
    )
