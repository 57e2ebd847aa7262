"""A configured file that is a broken link is said to be one, not "outside"."""

from __future__ import annotations

import os

import pytest

from reprobox.config import load_config
from reprobox.errors import ConfigError

CMD = 'command = "python train.py"\n'

# (reprobox.toml, the link's name, the key the error names)
CONFIGURED = [
    (CMD, "requirements.txt", "packages (requirements.txt, taken by default)"),
    (CMD + '[packages]\nrequirements = "r.txt"\n', "r.txt", "packages.requirements"),
    (CMD + 'data = ["d.csv"]\n', "d.csv", "data"),
]
IDS = ["default-requirements", "packages-requirements", "data"]


@pytest.mark.parametrize(("toml", "name", "key"), CONFIGURED, ids=IDS)
@pytest.mark.parametrize("target", ["/nonexist", "gone.txt", "../../nonexist"])
def test_a_broken_link_is_a_link_to_a_missing_file(
    tmp_path, make_project, toml, name, key, target
):
    # Round 39, BB 3: requirements.txt -> /nonexist was said to point outside
    # the project, and moving a file that does not exist fixes nothing.
    root = make_project(tmp_path, toml, {})
    os.symlink(target, root / name)
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert info.value.key == key
    assert info.value.message.endswith(f"{name!r} is a link to a missing file")
    assert info.value.hint == "point the link at the file, or fix the path"


@pytest.mark.parametrize(("toml", "name", "key"), CONFIGURED, ids=IDS)
def test_a_link_to_an_existing_file_outside_is_outside(
    tmp_path, make_project, toml, name, key
):
    root = make_project(tmp_path, toml, {})
    (tmp_path / "elsewhere.txt").write_text("six==1.16.0\n")
    os.symlink(tmp_path / "elsewhere.txt", root / name)
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert info.value.key == key
    assert info.value.message.endswith(f"{name!r} points outside the project folder")


def test_a_path_through_a_folder_link_to_nothing_says_so(tmp_path, make_project):
    root = make_project(tmp_path, CMD + 'data = ["ext/d.csv"]\n', {})
    os.symlink("/nonexist", root / "ext")
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert info.value.message.endswith(
        "'ext/d.csv' leads through a link to a missing path (/nonexist/d.csv)"
    )


def test_a_missing_path_written_outside_is_outside(tmp_path, make_project):
    # No link on the way: '../' itself leaves the project.
    root = make_project(tmp_path, CMD + 'data = ["../none.csv"]\n', {})
    with pytest.raises(ConfigError) as info:
        load_config(root)
    assert info.value.message.endswith(
        "'../none.csv' points outside the project folder"
    )
