"""--from-env metadata that is malformed or would read back as something else."""

from __future__ import annotations

import json

import pytest

from reprobox.errors import LockError
from reprobox.lock import collect_requirements

PYTHON = "/envs/train/bin/python"


def listing(*rows):
    return lambda argv: (0, json.dumps(list(rows)), "")


def row(name, version, direct_url=None):
    text = direct_url if direct_url is None else json.dumps(direct_url)
    return {"name": name, "version": version, "direct_url": text}


@pytest.mark.parametrize(
    "direct_url",
    [
        {"url": "https://github.com/x/six", "vcs_info": "git"},
        {"url": "https://github.com/x/six", "vcs_info": ["git"]},
        {"url": "file:///src/six", "dir_info": "editable"},
        {"url": "file:///src/six", "dir_info": None},
        {"url": "https://h/six.whl", "archive_info": 3},
        {"url": 5},
        ["not", "an", "object"],
        {"url": "https://github.com/x/six", "vcs_info": {"vcs": "git", "commit_id": 7}},
        {"url": "https://h/six.whl ; python_version < '3'"},
        {
            "url": "https://github.com/x/six",
            "vcs_info": {"vcs": "git", "commit_id": "abc ; python_version < '3'"},
        },
    ],
)
def test_a_malformed_direct_url_json_is_locked_from_the_index(fake_runner, direct_url):
    fake_runner(listing(row("six", "1.16.0", direct_url)))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("six==1.16.0",)
    assert collected.warnings == (
        "six: unreadable direct_url.json; locked as six==1.16.0 from an index",
    )


@pytest.mark.parametrize(
    "version",
    ["1.0; python_version < '3'", "1.0 ; sys_platform == 'win32'", "1.0 extra", ""],
)
def test_a_version_that_is_not_one_is_refused(fake_runner, version):
    fake_runner(listing(row("six", version), row("numpy", "1.26.4")))
    with pytest.raises(LockError) as info:
        collect_requirements(python=PYTHON)
    text = str(info.value)
    assert text.startswith(f"the live environment: six has version {version!r}")
    assert "\n" not in text


@pytest.mark.parametrize(
    "name", ["six==1.0; python_version<'3'", "six @ https://h/x.whl", "-e", "a b"]
)
def test_a_name_that_is_not_one_is_refused_in_one_line(fake_runner, name):
    fake_runner(listing(row(name, "1.0")))
    with pytest.raises(LockError) as info:
        collect_requirements(python=PYTHON)
    assert "is not a package name" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "printed",
    [
        "{}",
        '[{"name": "six"}]',
        '[{"name": "six", "version": 1}]',
        '[{"name": null, "version": "1"}]',
        '[{"name": "six", "version": "1", "direct_url": 3}]',
        '["six"]',
        "3",
    ],
)
def test_an_odd_package_list_is_one_input_error(fake_runner, printed):
    from reprobox.errors import InputError

    fake_runner(lambda argv: (0, printed, ""))
    with pytest.raises(InputError) as info:
        collect_requirements(python=PYTHON)
    assert str(info.value).startswith(
        f"{PYTHON} printed a package list reprobox cannot read"
    )
