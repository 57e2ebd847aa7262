"""A requirement uv cannot parse is named in the user's file, not reprobox's copy."""

from __future__ import annotations

import pytest

from reprobox.config import load_config
from reprobox.errors import LockError
from reprobox.freeze import freeze_project
from reprobox.lock import resolve as resolve_module

# What uv 0.13 printed for requirements.in holding "six==1.16.0\nnumpy===abc\n".
UV_UNPARSABLE = """error: Couldn't parse requirement in `requirements.in` at position 12
  cause: expected version to start with a number, but no leading ASCII digits were found
         numpy===abc
              ^^^^^^
"""  # noqa: E501
REASON = (
    "expected version to start with a number, but no leading ASCII digits were found"
)


def fake_uv(fake_runner, monkeypatch, output):
    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")

    def handler(argv):
        if argv[1:] == ["--version"]:
            return 0, "uv 0.13.9\n", ""
        return 2, "", output

    return fake_runner(handler)


def test_the_position_names_the_line_it_falls_in():
    from reprobox.lock.resolve import unparsable_requirement

    found = unparsable_requirement(UV_UNPARSABLE, ["six==1.16.0", "numpy===abc"])
    assert found.requirement == "numpy===abc"
    assert found.message == (
        f"the resolver cannot parse requirement 'numpy===abc': {REASON}"
    )


def test_a_position_past_the_lines_names_none():
    from reprobox.lock.resolve import unparsable_requirement

    assert unparsable_requirement(UV_UNPARSABLE, ["six==1.16.0"]) is None


def test_freeze_names_the_users_file_and_line(tmp_path, fake_runner, monkeypatch):
    (tmp_path / "requirements.txt").write_text(
        "six==1.16.0\n# the wrappers\n\nwrapt===abc\n"
    )
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
    )
    output = UV_UNPARSABLE.replace("numpy", "wrapt")
    runner = fake_uv(fake_runner, monkeypatch, output)
    with pytest.raises(LockError) as caught:
        freeze_project(load_config(tmp_path), environ={})
    # The lines as uv was given them: the position above falls in the second.
    assert runner.calls[-1]["requirements"] == "six==1.16.0\nwrapt===abc\n"
    assert "requirements.in" not in str(caught.value)
    assert caught.value.message == (
        f"{tmp_path / 'requirements.txt'}:4: the resolver cannot parse requirement "
        f"'wrapt===abc': {REASON}"
    )
