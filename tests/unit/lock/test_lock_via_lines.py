"""The lock's via comments name the project's requirements, not reprobox's copy."""

from __future__ import annotations

import pytest

from reprobox.config import load_config
from reprobox.freeze import freeze_project
from reprobox.lock import resolve as resolve_module
from reprobox.lock import resolve_lock
from reprobox.lock.resolve import via_name

SIX, TORCH, FILELOCK = "b" * 64, "c" * 64, "d" * 64
# As uv 0.13 writes via comments: one origin on the via line, several under it.
UV_OUTPUT = f"""filelock==3.20.0 \\
    --hash=sha256:{FILELOCK}
    # via
    #   -r requirements.in
    #   torch
six==1.17.0 \\
    --hash=sha256:{SIX}
    # via -r requirements.in
torch==2.9.1 \\
    --hash=sha256:{TORCH}
    # via -r requirements.in
"""


@pytest.fixture
def uv_answering(monkeypatch, fake_runner):
    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")

    def handler(argv):
        if argv[1:] == ["--version"]:
            return 0, "uv 0.13.9\n", ""
        return 0, UV_OUTPUT, ""

    return fake_runner(handler)


def test_via_comments_name_the_file_given_and_keep_pins_and_hashes(uv_answering):
    lock = resolve_lock(["six", "torch"], requested_by="-r deps/requirements.txt")
    assert lock.text.split("\n", 1)[1] == (
        UV_OUTPUT.replace("-r requirements.in", "-r deps/requirements.txt")
    )
    assert lock.pins == {"filelock": "3.20.0", "six": "1.17.0", "torch": "2.9.1"}


def test_a_name_with_a_newline_stays_one_comment_line(uv_answering):
    lock = resolve_lock(["six"], requested_by="-r a\nb.txt")
    assert "    # via '-r a\\nb.txt'\n" in lock.text


@pytest.mark.parametrize(
    ("configured", "name"),
    [
        ("requirements.txt", "-r requirements.txt"),
        ("deps/train.in", "-r deps/train.in"),
        ("pyproject.toml", "pyproject.toml"),
        ("a\nb.txt", "-r 'a\\nb.txt'"),
        (None, "--from-env"),
    ],
)
def test_via_name_is_the_configured_file(configured, name):
    assert via_name(configured) == name


def test_freeze_names_the_project_file_and_gives_the_same_lock_twice(
    tmp_path, uv_answering
):
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "reqs.txt").write_text("six==1.17.0\ntorch==2.9.1\n")
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "deps/reqs.txt"\n'
    )
    cfg = load_config(tmp_path)
    first = freeze_project(cfg, environ={}).lock
    assert "requirements.in" not in first
    assert first.count("-r deps/reqs.txt") == 3
    assert freeze_project(cfg, environ={}).lock == first
