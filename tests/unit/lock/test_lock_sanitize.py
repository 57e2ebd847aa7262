"""Sanitising rules, one per kind of fault, and the freeze cases behind them."""

from __future__ import annotations

import json
import re

import pytest
from packaging.requirements import Requirement

from reprobox.errors import LockError
from reprobox.lock import collect_requirements, sanitize_requirements
from reprobox.lock.entries import RequirementEntry
from reprobox.lock.host_only import HOST_ONLY_PACKAGES, host_only_package


def entries(*lines, origin="requirements.txt:1"):
    return [RequirementEntry(Requirement(line), origin) for line in lines]


def env_listing(*dists):
    """Answer the environment-reading script with the given (name, version) pairs."""
    rows = [{"name": n, "version": v, "direct_url": None} for n, v in dists]
    return lambda argv: (0, json.dumps(rows), "")


# conda-file-url.txt


def installed_version_in_case(text):
    match = re.search(r"installed version of (\S+) in that environment: (\S+)", text)
    return match.group(1), match.group(2)


def test_conda_file_url_case_pins_the_installed_version(case_file, fake_runner):
    case = case_file("conda-file-url.txt")
    name, version = installed_version_in_case(case.read_text())
    fake_runner(env_listing((name, version), ("numpy", "1.26.4")))

    collected = collect_requirements(case, python="/envs/train/bin/python")

    assert collected.lines == ("certifi==2022.6.15", "numpy==1.26.4")
    assert not any("file:" in line for line in collected.lines)
    assert len(collected.warnings) == 1
    assert "certifi==2022.6.15" in collected.warnings[0]
    assert collected.source == "requirements"


def test_conda_file_url_case_without_environment_is_refused(case_file):
    case = case_file("conda-file-url.txt")
    with pytest.raises(LockError) as info:
        collect_requirements(case)
    assert str(info.value).startswith(f"{case}:1: certifi points at a local file")
    assert "--from-env" in info.value.hint
    assert "certifi==<version>" in info.value.hint


def test_local_file_pins_are_reported_in_one_warning():
    lines, warnings, _ = sanitize_requirements(
        entries(
            "certifi @ file:///opt/conda/conda-bld/certifi_1/work/certifi",
            "requests[socks] @ file:///home/me/wheels/requests-2.31.0.whl",
            "six==1.16.0",
        ),
        {"certifi": "2022.6.15", "requests": "2.31.0"},
    )
    assert lines == ["certifi==2022.6.15", "requests[socks]==2.31.0", "six==1.16.0"]
    assert len(warnings) == 1
    assert (
        "certifi==2022.6.15" in warnings[0] and "requests[socks]==2.31.0" in warnings[0]
    )


# windows-only.txt and the host-only table


def test_windows_only_case_drops_tensorflow_intel_with_a_warning(case_file):
    case = case_file("windows-only.txt")
    collected = collect_requirements(case)
    assert collected.lines == (
        "tensorflow==2.14.1",
        "tensorflow-io-gcs-filesystem==0.31.0",
    )
    assert len(collected.warnings) == 1
    assert f"{case}:3: tensorflow-intel" in collected.warnings[0]
    assert "dropped" in collected.warnings[0]


def test_tensorflow_macos_maps_to_tensorflow_at_the_same_version():
    lines, warnings, _ = sanitize_requirements(
        entries("tensorflow-macos==2.13.0", "tensorflow-metal==1.0.1", "appnope==0.1.3")
    )
    assert lines == ["tensorflow==2.13.0"]
    assert len(warnings) == 3
    assert "locked tensorflow==2.13.0 instead" in warnings[0]
    assert "tensorflow-metal" in warnings[1] and "appnope" in warnings[2]


def test_tensorflow_macos_is_dropped_when_tensorflow_is_listed():
    lines, warnings, _ = sanitize_requirements(
        entries("tensorflow==2.13.0", "tensorflow-macos==2.13.0")
    )
    assert lines == ["tensorflow==2.13.0"]
    assert "tensorflow is locked instead" in warnings[0]


@pytest.mark.parametrize(
    "name", ["pywin32", "pywinpty", "pywin32-ctypes", "pyobjc-framework-Cocoa", "WMI"]
)
def test_other_host_only_packages_are_dropped(name):
    lines, warnings, _ = sanitize_requirements(entries(f"{name}==1.0", "six"))
    assert lines == ["six"]
    assert warnings and name in warnings[0]


def test_portable_packages_are_not_in_the_host_only_table():
    for name in (
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-io-gcs-filesystem",
        "colorama",
        "pyobject",
        "numpy",
    ):
        assert host_only_package(name) is None, name
    assert all(name == name.lower() for name in HOST_ONLY_PACKAGES)


# git-branch-direct_url.json (requirement-file form; the env form is in
# test_lock_environment.py)


def test_git_reference_with_a_full_commit_needs_git_and_no_warning(case_file):
    origin = json.loads(case_file("git-branch-direct_url.json").read_text())
    commit = origin["vcs_info"]["commit_id"]
    line = f"example-fork @ git+{origin['url']}@{commit}"
    lines, warnings, needs_git = sanitize_requirements(entries(line))
    assert lines == [line]
    assert warnings == []
    assert needs_git is True


def test_git_reference_to_a_branch_warns_it_is_not_pinned():
    line = (
        "example-fork @ git+https://github.com/example-org/example-fork.git@fix-branch"
    )
    lines, warnings, needs_git = sanitize_requirements(entries(line))
    assert lines == [line]
    assert needs_git is True
    assert "names no commit" in warnings[0]


def test_plain_requirements_do_not_need_git():
    _, _, needs_git = sanitize_requirements(entries("six", "numpy==1.26.4"))
    assert needs_git is False


def test_other_version_control_systems_are_refused():
    with pytest.raises(LockError, match="only git sources can be locked"):
        sanitize_requirements(entries("pkg @ hg+https://example.org/repo@abc"))


def test_direct_urls_with_credentials_are_refused():
    with pytest.raises(LockError, match="carries credentials") as info:
        sanitize_requirements(
            entries("pkg @ git+https://user:tok3n-value@example.org/r.git@" + "a" * 40)
        )
    assert "tok3n-value" not in str(info.value)


def test_output_is_sorted_and_deduplicated_by_name():
    lines, _, _ = sanitize_requirements(
        entries(
            "tensorflow-io-gcs-filesystem==0.31.0", "Six", "tensorflow==2.14.1", "Six"
        )
    )
    assert lines == [
        "Six",
        "tensorflow==2.14.1",
        "tensorflow-io-gcs-filesystem==0.31.0",
    ]
