"""Every failed image build hands its whole log up, for .reprobox/build.log."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import pytest

from reprobox import engine
from reprobox.errors import BuildError, InputError

MISMATCH = (
    "#7 0.412 the base image has Python 3.11, the project is frozen for 3.12: "
    "change python or base_image"
)


def fake_build_cli(tmp_path, monkeypatch, lines):
    """Stand a script that prints lines and fails in for the docker CLI."""
    script = tmp_path / "docker"
    body = "".join(f"echo '{line}'\n" for line in lines)
    script.write_text(f"#!/bin/sh\n{body}exit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(engine, "find_build_cli", lambda env: (str(script), {}))


def build(tmp_path):
    return engine.build_image(
        SimpleNamespace(host=None), tmp_path, "rb-test:x", labels={}, secrets={}
    )


def test_a_python_mismatch_carries_the_whole_log(tmp_path, monkeypatch):
    lines = ["#6 [2/4] RUN python3 -c check", MISMATCH, "#7 ERROR: exit code: 1"]
    fake_build_cli(tmp_path, monkeypatch, lines)
    with pytest.raises(InputError) as caught:
        build(tmp_path)
    assert "the project is frozen for 3.12" in caught.value.message
    assert caught.value.build_log == tuple(lines)


def test_an_unexplained_failure_carries_the_whole_log(tmp_path, monkeypatch):
    lines = ["#6 [2/4] RUN false", "#6 ERROR: exit code: 1"]
    fake_build_cli(tmp_path, monkeypatch, lines)
    with pytest.raises(BuildError) as caught:
        build(tmp_path)
    assert caught.value.build_log == tuple(lines)
