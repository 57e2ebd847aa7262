"""Reading the live training environment (--from-env) through its own Python."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from reprobox.errors import InputError, LockError
from reprobox.lock import collect_requirements
from reprobox.lock.environment import _READ_DISTRIBUTIONS

PYTHON = "/envs/train/bin/python"


def listing(*rows):
    return lambda argv: (0, json.dumps([dict(r) for r in rows]), "")


def row(name, version, direct_url=None):
    text = json.dumps(direct_url) if isinstance(direct_url, dict) else direct_url
    return {"name": name, "version": version, "direct_url": text}


def test_environment_is_read_through_the_given_python(fake_runner):
    runner = fake_runner(listing(row("six", "1.16.0")))
    collect_requirements(python=PYTHON)
    assert len(runner.calls) == 1
    assert runner.calls[0]["argv"][:2] == [PYTHON, "-c"]


def test_script_reads_metadata_and_imports_no_framework():
    imports = [
        line.strip()
        for line in _READ_DISTRIBUTIONS.splitlines()
        if line.strip().startswith(("import ", "from "))
    ]
    assert imports == ["import json, re, sys", "from importlib import metadata"]
    assert "direct_url.json" in _READ_DISTRIBUTIONS


def test_installer_tooling_and_reprobox_are_left_out(fake_runner):
    fake_runner(
        listing(
            row("pip", "24.0"),
            row("setuptools", "69.0"),
            row("wheel", "0.42"),
            row("reprobox", "0.1.0"),
            row("numpy", "1.26.4"),
            row("Keras", "3.3.3"),
        )
    )
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("Keras==3.3.3", "numpy==1.26.4")
    assert collected.source == "env"
    assert collected.installed_versions["keras"] == "3.3.3"


def test_git_install_from_the_case_becomes_a_commit_pinned_url(case_file, fake_runner):
    origin = json.loads(case_file("git-branch-direct_url.json").read_text())
    fake_runner(
        listing(row("example-fork", "0.3.0.dev0", origin), row("six", "1.16.0"))
    )
    collected = collect_requirements(python=PYTHON)
    expected_git_line = (
        "example-fork @ git+https://github.com/example-org/example-fork.git"
        "@4f2c1e9b7d3a5c8e0f1a2b3c4d5e6f708192a3b4"
    )
    assert collected.lines == (expected_git_line, "six==1.16.0")
    assert collected.needs_git is True
    assert collected.warnings == ()


def test_git_install_in_a_subdirectory_keeps_it(fake_runner):
    origin = {
        "url": "https://example.org/mono.git",
        "subdirectory": "pkgs/tool",
        "vcs_info": {"vcs": "git", "commit_id": "b" * 40},
    }
    fake_runner(listing(row("tool", "1.0", origin)))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == (
        f"tool @ git+https://example.org/mono.git@{'b' * 40}#subdirectory=pkgs/tool",
    )


def test_non_git_vcs_install_is_refused(fake_runner):
    origin = {
        "url": "https://example.org/repo",
        "vcs_info": {"vcs": "hg", "commit_id": "1"},
    }
    fake_runner(listing(row("tool", "1.0", origin)))
    with pytest.raises(LockError, match="only git sources"):
        collect_requirements(python=PYTHON)


def test_conda_file_install_is_pinned_to_the_installed_version(fake_runner):
    origin = {
        "url": "file:///opt/conda/conda-bld/certifi_1655968806487/work/certifi",
        "dir_info": {},
    }
    fake_runner(listing(row("certifi", "2022.6.15", origin), row("numpy", "1.26.4")))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("certifi==2022.6.15", "numpy==1.26.4")
    assert (
        len(collected.warnings) == 1 and "certifi==2022.6.15" in collected.warnings[0]
    )


def test_editable_install_is_left_out_with_a_warning(fake_runner):
    origin = {"url": "file:///home/me/project", "dir_info": {"editable": True}}
    fake_runner(listing(row("my-project", "0.1", origin), row("six", "1.16.0")))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("six==1.16.0",)
    assert "my-project is an editable install" in collected.warnings[0]


def test_windows_environment_drops_tensorflow_intel(fake_runner):
    fake_runner(listing(row("tensorflow", "2.14.1"), row("tensorflow-intel", "2.14.1")))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("tensorflow==2.14.1",)
    assert "tensorflow-intel" in collected.warnings[0]


def test_unreadable_direct_url_falls_back_to_the_version(fake_runner):
    fake_runner(listing(row("six", "1.16.0", "{not json")))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("six==1.16.0",)
    assert "unreadable direct_url.json" in collected.warnings[0]


def test_missing_python_is_an_input_error(fake_runner):
    fake_runner(lambda argv: FileNotFoundError(argv[0]))
    with pytest.raises(InputError, match="Python executable not found: /envs/train"):
        collect_requirements(python=PYTHON)


def test_failing_python_is_an_input_error_with_its_last_line(fake_runner):
    fake_runner(lambda argv: (1, "", "Traceback...\nModuleNotFoundError: importlib"))
    with pytest.raises(InputError, match="ModuleNotFoundError: importlib"):
        collect_requirements(python=PYTHON)


def test_slow_python_is_an_input_error(fake_runner):
    fake_runner(lambda argv: subprocess.TimeoutExpired(argv, 120))
    with pytest.raises(InputError, match="over 120 s"):
        collect_requirements(python=PYTHON)


def test_nothing_to_collect_is_an_input_error():
    with pytest.raises(InputError, match="nothing to lock"):
        collect_requirements()


def _site(tmp_path, monkeypatch):
    """Return a Python that sees only tmp_path/site, and that folder."""
    site = tmp_path / "site"
    site.mkdir()
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    python.chmod(0o755)
    monkeypatch.setenv("PYTHONPATH", str(site))
    return str(python), site


def _dist_info(site, folder, metadata: bytes | None):
    (site / folder).mkdir()
    (site / folder / "RECORD").write_text("")
    if metadata is not None:
        (site / folder / "METADATA").write_bytes(metadata)


GOOD = b"Metadata-Version: 2.1\nName: good\nVersion: 1.0\n"


def test_a_dist_info_that_is_not_utf8_is_refused_naming_its_folder(
    tmp_path, monkeypatch
):
    # by: it was "UnicodeDecodeError: ..." and "give the python of the
    # environment you trained in", which it was.
    python, site = _site(tmp_path, monkeypatch)
    _dist_info(site, "good-1.0.dist-info", GOOD)
    _dist_info(site, "bad_enc-1.0.dist-info", GOOD + b"Summary: caf\xe9\n")
    with pytest.raises(InputError) as caught:
        collect_requirements(python=python)
    assert caught.value.message == (
        f"cannot list the packages of {python}: {site / 'bad_enc-1.0.dist-info'}: "
        "its metadata is not UTF-8"
    )
    assert caught.value.hint == (
        "reinstall bad_enc in that environment: pip install --force-reinstall bad_enc"
    )


def test_a_dist_info_without_metadata_is_skipped_with_a_warning(tmp_path, monkeypatch):
    # by: it was dropped without a word, "0 packages locked".
    python, site = _site(tmp_path, monkeypatch)
    _dist_info(site, "good-1.0.dist-info", GOOD)
    _dist_info(site, "gone-2.0.dist-info", None)
    _dist_info(site, "nameless-1.0.dist-info", b"Metadata-Version: 2.1\n")
    collected = collect_requirements(python=python)
    assert collected.lines == ("good==1.0",)
    assert collected.warnings == (
        f"the live environment: {site / 'gone-2.0.dist-info'} has no METADATA file, "
        "so it is skipped and not locked; reinstall gone there if training needs "
        "it, or remove the folder",
        f"the live environment: {site / 'nameless-1.0.dist-info'} has no Name in "
        "its metadata, so it is skipped and not locked; reinstall nameless there "
        "if training needs it, or remove the folder",
    )


def test_an_unreadable_folder_of_no_known_package_is_refused(fake_runner):
    problem = {"folder": "/envs/x/odd", "problem": "PermissionError: denied"}
    fake_runner(listing(row("six", "1.16.0"), problem))
    with pytest.raises(InputError) as caught:
        collect_requirements(python=PYTHON)
    assert caught.value.message == (
        f"cannot list the packages of {PYTHON}: /envs/x/odd: PermissionError: denied"
    )
    assert caught.value.hint == "reinstall the package that folder belongs to"
