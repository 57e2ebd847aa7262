"""Makefiles, Dockerfiles, justfiles and scripts go into the image as code.

Their rules and recipes read like a settings file's sections and indented
values; taken for credential files they were left out, and `make train` found
no Makefile. A credential on one of their lines is refused on that line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.code_files import code_file_name, code_text
from reprobox.config import load_config
from reprobox.image_files import project_files
from reprobox.image_inputs import written_credential

R = "Xk9mP2qR7vL4nT8wZ3jD"
MAKEFILE = f"train:\n\tpython train.py\n\nupload:\n\tTWINE_PASSWORD={R} twine upload\n"
FILES = {
    "Makefile": (MAKEFILE, 5, "a secret assigned in code"),
    "build.mk": (MAKEFILE, 5, "a secret assigned in code"),
    "justfile": (
        f"upload:\n\tAPI_TOKEN={R} ./push.sh\n",
        2,
        "a secret assigned in code",
    ),
    "Dockerfile.dev": (
        f"FROM python:3.11\nENV API_KEY={R}\nRUN pip install x\n",
        2,
        "a secret set by a script line",
    ),
    "tasks": (f"#!/bin/sh\nexport API_KEY={R}\n", 2, "a secret set by a script line"),
}


def _project(tmp_path: Path) -> Path:
    (tmp_path / "reprobox.toml").write_text('command = "make train"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    return tmp_path


@pytest.mark.parametrize("name", FILES)
def test_a_build_file_with_a_secret_goes_in_and_is_refused_on_its_line(tmp_path, name):
    text, line, kind = FILES[name]
    root = _project(tmp_path)
    (root / name).write_text(text)
    assert name in project_files(load_config(root))
    assert written_credential(root / name) == (line, kind)


def test_a_settings_file_is_still_left_out(tmp_path):
    root = _project(tmp_path)
    (root / "deploy.cfg").write_text(f"[upload]\npassword = {R}\n")
    (root / "settings").write_text(f"TWINE_PASSWORD={R}\nREPO=main\n")
    assert project_files(load_config(root)) == ["train.py"]


@pytest.mark.parametrize(
    "name", ["Makefile", "GNUmakefile", "rules.mk", "Dockerfile", "Dockerfile.gpu"]
)
def test_build_files_are_code_by_name(name):
    assert code_file_name(name)


@pytest.mark.parametrize("name", ["makefiles.txt", "docker.env", "settings", "make"])
def test_other_names_are_not(name):
    assert not code_file_name(name)


@pytest.mark.parametrize(
    "head",
    [
        b"#!/usr/bin/env bash\nset -e\n",
        b"# build\nFROM python:3.11-slim\n",
        b"VERSION = 1\n\nall: build\n\tgo build ./...\n",
        b".PHONY: train\ntrain: data\n\tpython train.py\n",
    ],
)
def test_scripts_rules_and_dockerfiles_are_code_by_their_text(head):
    assert code_text(head)


@pytest.mark.parametrize(
    "head",
    [
        b"database:\n  password: x\n",  # YAML: indented by blanks
        b"[upload]\npassword = x\n",
        b"TWINE_PASSWORD=x\nREPO=main\n",
        b"CC := gcc\n",
    ],
)
def test_settings_are_not(head):
    assert not code_text(head)
