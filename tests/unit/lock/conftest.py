"""Fixtures for the lock tests: the freeze cases, a clean environment, a fake runner."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reprobox import proc

HERE = Path(__file__).resolve().parent
FIXTURE_CASES = HERE / "cases"
# /work/main/tests/unit/lock -> /work/main -> /work/shared/cases/freeze
SHARED_CASES = HERE.parents[2] / ".." / "shared" / "cases" / "freeze"


@pytest.fixture
def case_folders() -> tuple[Path, Path]:
    """Return (the copies kept with the tests, the shared originals)."""
    return FIXTURE_CASES, SHARED_CASES


@pytest.fixture
def case_file():
    """Return the path of a freeze case, preferring the copy kept with the tests."""

    def locate(name: str) -> Path:
        for folder in (FIXTURE_CASES, SHARED_CASES):
            if (folder / name).is_file():
                return folder / name
        pytest.skip(
            f"freeze case {name} is neither in {FIXTURE_CASES} nor {SHARED_CASES}"
        )

    return locate


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Keep the host's pip, uv and docker settings out of every test."""
    import os

    for name in list(os.environ):
        if name.startswith(("PIP_", "UV_", "DOCKER_")):
            monkeypatch.delenv(name)


class FakeRunner:
    """Stands in for proc.run_command: records calls and answers from a handler."""

    def __init__(self, handler):
        self.handler = handler
        self.calls: list[dict] = []

    def __call__(
        self, argv, *, env=None, cwd=None, input=None, check=True, timeout=None
    ):
        argv = [str(a) for a in argv]
        call = {"argv": argv, "env": env, "cwd": cwd}
        if cwd is not None:
            requirements = Path(cwd) / "requirements.in"
            if requirements.is_file():
                call["requirements"] = requirements.read_text()
        self.calls.append(call)
        result = self.handler(argv)
        if isinstance(result, BaseException):
            raise result
        returncode, stdout, stderr = result
        if check and returncode != 0:
            raise subprocess.CalledProcessError(returncode, argv, stdout, stderr)
        return subprocess.CompletedProcess(argv, returncode, stdout, stderr)


@pytest.fixture
def fake_runner(monkeypatch):
    """Install a FakeRunner built from a handler(argv) -> (rc, stdout, stderr)."""

    def install(handler) -> FakeRunner:
        runner = FakeRunner(handler)
        monkeypatch.setattr(proc, "run_command", runner)
        return runner

    return install
