"""Fixtures shared by every test: a clean environment and a project factory."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

HOST_PREFIXES = ("DOCKER_", "PIP_", "UV_")

# A suite started in the background (`scripts/test &`, nohup, a CI runner that
# does so) inherits SIGINT ignored, and so would every reprobox it starts: the
# Ctrl-C tests would then test nothing a user at a terminal sees. Give the
# suite, and through it each child, the disposition a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def clean_host_environment(monkeypatch, tmp_path_factory):
    """Keep the host's docker, pip and uv settings out of every test, and the
    user's reprobox state (import markers) out of reach of the fakes."""
    for name in list(os.environ):
        if name.startswith(HOST_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


def write_project(
    tmp_path: Path,
    toml_text: str | None,
    files: Mapping[str, str | bytes] | None = None,
    *,
    folder: str = "proj",
) -> Path:
    """Create tmp_path/folder with reprobox.toml (unless None) and files; return it."""
    root = tmp_path / folder
    root.mkdir(parents=True, exist_ok=True)
    if toml_text is not None:
        (root / "reprobox.toml").write_text(toml_text, encoding="utf-8")
    for rel, content in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def make_project() -> Callable[..., Path]:
    """Return the factory make_project(tmp_path, toml_text, files) -> project folder."""
    return write_project


SIX_LOCK = "six==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"


@pytest.fixture
def fake_lock(monkeypatch) -> list[list[str]]:
    """Fake the resolver: every freeze locks SIX_LOCK. Returns the requirement
    lines each call was asked to lock."""
    from reprobox import freeze as freeze_module
    from reprobox.lock import LockResult

    asked: list[list[str]] = []

    def resolve(lines, **kwargs):
        asked.append(list(lines))
        return LockResult(
            text=SIX_LOCK,
            pins={"six": "1.17.0"},
            warnings=(),
            needs_git=False,
            resolver="fake 1",
        )

    monkeypatch.setattr(freeze_module, "resolve_lock", resolve)
    return asked


@pytest.fixture
def six_project(tmp_path, fake_lock) -> Path:
    """A project needing six on the local base, frozen with fake_lock."""
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\nbase_image = "reprobox-base:bookworm-py3.11"\n'
    )
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("print(1)\n")
    return tmp_path
