"""Editable installs: in the project they come as code, elsewhere they are refused."""

from __future__ import annotations

import json

import pytest

from reprobox.errors import LockError
from reprobox.lock import collect_requirements
from reprobox.lock.requirements_file import read_requirements_file

PYTHON = "/envs/train/bin/python"


def listing(*rows):
    return lambda argv: (0, json.dumps(list(rows)), "")


def editable(name, folder):
    origin = {"url": folder.as_uri(), "dir_info": {"editable": True}}
    return {"name": name, "version": "0.1", "direct_url": json.dumps(origin)}


def test_an_editable_install_inside_the_project_is_left_to_the_context(
    tmp_path, fake_runner
):
    (tmp_path / "src" / "mine").mkdir(parents=True)
    fake_runner(listing(editable("mine", tmp_path / "src" / "mine")))
    collected = collect_requirements(python=PYTHON, root=tmp_path)
    assert collected.lines == ()
    assert "mine is an editable install" in collected.warnings[0]


def test_an_editable_install_outside_the_project_is_refused(tmp_path, fake_runner):
    project, outside = tmp_path / "project", tmp_path / "libs" / "helper"
    project.mkdir()
    outside.mkdir(parents=True)
    fake_runner(listing(editable("helper", outside)))
    with pytest.raises(LockError) as info:
        collect_requirements(python=PYTHON, root=project)
    message = str(info.value)
    assert f"helper is an editable install of {outside}, outside the project" in message
    assert "git commit" in info.value.hint and "into the project" in info.value.hint


@pytest.mark.parametrize(
    "line", ["-e git+http://git.example/repo.git#egg=x", "--editable hg+https://h/r"]
)
def test_an_editable_vcs_url_is_named_as_such(tmp_path, line):
    path = tmp_path / "requirements.txt"
    path.write_text(line + "\n")
    with pytest.raises(LockError) as info:
        read_requirements_file(path)
    assert "folder on this machine" not in str(info.value)
    assert "has no fixed commit" in str(info.value)
    assert "drop the -e" in info.value.hint
