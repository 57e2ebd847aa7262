"""--from-env with packages installed from a local path, and with reprobox itself.

Such a package is locked from the index at its installed version (a conda
build's leftover URL is the usual case); when the index has no such version,
the refusal names the package and the path it came from, not only the
resolver's words.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprobox import proc
from reprobox.config import load_config
from reprobox.errors import LockError
from reprobox.freeze import freeze_project
from reprobox.lock import collect_requirements
from reprobox.lock import resolve as resolve_module
from reprobox.lock.collect import local_install_not_on_index

PYTHON = "/envs/train/bin/python"
FOLDER = {"url": "file:///home/me/my%20pkg", "dir_info": {}}
WHEEL = {"url": "file:///home/me/dist/tool-2.0-py3-none-any.whl", "archive_info": {}}
UV_NOT_FOUND = (
    "error: No solution found when resolving dependencies\n"
    "  cause: Because my-pkg was not found in the package registry and you "
    "require my-pkg==0.1.0, we can conclude that your requirements are "
    "unsatisfiable.\n"
)


def row(name, version, direct_url=None):
    text = json.dumps(direct_url) if direct_url is not None else None
    return {"name": name, "version": version, "direct_url": text}


def listing(*rows):
    return lambda argv: (0, json.dumps(list(rows)), "")


def test_reprobox_in_the_environment_is_left_out_and_said(fake_runner):
    fake_runner(listing(row("reprobox", "0.1.0", FOLDER), row("six", "1.16.0")))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("six==1.16.0",)
    assert collected.warnings == (
        "the live environment: reprobox is installed there and left out of the "
        "lock: the image gets reprobox's start-up hook instead, so code that "
        "imports reprobox would not find it there",
    )
    assert collected.local_installs == {}


def test_local_installs_are_kept_with_their_paths(fake_runner):
    fake_runner(
        listing(
            row("My_Pkg", "0.1.0", FOLDER),
            row("tool", "2.0", WHEEL),
            row("six", "1.16.0"),
        )
    )
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("My_Pkg==0.1.0", "six==1.16.0", "tool==2.0")
    assert collected.local_installs == {
        "my-pkg": "file:///home/me/my%20pkg",
        "tool": "file:///home/me/dist/tool-2.0-py3-none-any.whl",
    }


@pytest.mark.parametrize(
    "reason",
    [
        UV_NOT_FOUND.replace("\n", " "),
        "No solution found when resolving dependencies: Because there is no "
        "version of my-pkg==0.1.0 and you require my-pkg==0.1.0, we can conclude",
        "No solution found when resolving dependencies: Because only my-pkg<=0.0.9 "
        "is available and you require my-pkg==0.1.0, we can conclude",
        "No matching distribution found for My_Pkg==0.1.0",
        "Could not find a version that satisfies the requirement my.pkg==0.1.0 "
        "(from versions: none)",
    ],
)
def test_a_local_install_the_index_lacks_is_named_with_its_path(fake_runner, reason):
    fake_runner(listing(row("My_Pkg", "0.1.0", FOLDER), row("six", "1.16.0")))
    collected = collect_requirements(python=PYTHON)
    error = local_install_not_on_index(reason, collected)
    assert error.message == (
        "my-pkg 0.1.0 was installed from /home/me/my pkg on this machine (so says "
        "its direct_url.json), and the package index has no my-pkg 0.1.0 for the "
        "image to install"
    )
    assert error.hint.startswith("publish my-pkg to an index named in")


@pytest.mark.parametrize(
    "reason",
    [
        # A conflict that merely mentions the local package is not a missing one.
        "No solution found when resolving dependencies: Because torch==2.1.0 "
        "depends on my-pkg<0.1 and you require my-pkg==0.1.0, we can conclude",
        # A missing package that the environment had from an index.
        "No matching distribution found for six==1.16.0",
    ],
)
def test_other_resolver_failures_are_left_as_they_are(fake_runner, reason):
    fake_runner(listing(row("my-pkg", "0.1.0", FOLDER), row("six", "1.16.0")))
    collected = collect_requirements(python=PYTHON)
    assert local_install_not_on_index(reason, collected) is None


def test_freeze_refuses_a_local_install_the_index_lacks_in_one_line(
    fake_runner, monkeypatch, tmp_path: Path
):
    (tmp_path / "reprobox.toml").write_text(
        'name = "p"\ncommand = "python train.py"\n[packages]\nfrom_env = true\n'
    )
    (tmp_path / "train.py").write_text("print(1)\n")
    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")

    def answer(argv):
        if argv[0] == PYTHON:
            return 0, json.dumps([row("my-pkg", "0.1.0", FOLDER)]), ""
        if argv[-1] == "--version":
            return 0, "uv 0.13.9 (fake)\n", ""
        return 1, "", UV_NOT_FOUND

    fake_runner(answer)
    with pytest.raises(LockError) as caught:
        freeze_project(load_config(tmp_path), from_env_python=PYTHON, environ={})
    assert caught.value.message.startswith(
        "--from-env: my-pkg 0.1.0 was installed from /home/me/my pkg on this machine"
    )
    assert "\n" not in str(caught.value)
    assert proc.run_command.calls[-1]["argv"][0] == "/fake/bin/uv"
