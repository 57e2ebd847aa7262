"""Build output reaches the terminal with the project's index credentials hidden."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from reprobox import build as build_module
from reprobox import cli_image_build
from reprobox.errors import BuildError, InputError

TOKEN = "s3cr3t-path-token"


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("HARD_TOK", TOKEN)
    return SimpleNamespace(
        index_url=None,
        extra_index_urls=("http://127.0.0.1:18731/${HARD_TOK}/simple/",),
        source=tmp_path / "reprobox.toml",
        ca_cert=None,
        root=tmp_path,
        state_dir=tmp_path / ".reprobox",
    )


def test_live_lines_and_a_failed_build_hide_a_path_token(cfg, monkeypatch):
    printed = []
    monkeypatch.setattr(cli_image_build, "log_printer", lambda: printed.append)
    import reprobox.freeze as freeze

    monkeypatch.setattr(freeze, "resolve_ca_cert", lambda *a: None)
    line = f"#9 1.2 Looking in indexes: http://127.0.0.1:18731/{TOKEN}/simple/"

    def failing_build(
        cfg, engine, *, secrets, force, on_line, on_note, on_info, on_built, frozen
    ):
        on_line(line)
        raise BuildError(
            f"build failed near {TOKEN}", step="pip", log_tail=line, build_log=(line,)
        )

    monkeypatch.setattr(build_module, "build_project", failing_build)
    with pytest.raises(BuildError) as caught:
        cli_image_build._build(cfg, engine=None, ca_cert=None)

    assert printed == ["#9 1.2 Looking in indexes: http://127.0.0.1:18731/***/simple/"]
    assert TOKEN not in str(caught.value)
    assert "/***/simple/" in caught.value.log_tail
    # The whole log is kept for reading, with the token hidden there too.
    kept = (cfg.state_dir / "build.log").read_text(encoding="utf-8")
    assert kept == "#9 1.2 Looking in indexes: http://127.0.0.1:18731/***/simple/\n"
    assert "build log is in" in caught.value.hint


def test_a_failure_named_as_bad_input_keeps_its_log_hidden_too(cfg, monkeypatch):
    monkeypatch.setattr(cli_image_build, "log_printer", lambda: None)
    import reprobox.freeze as freeze

    monkeypatch.setattr(freeze, "resolve_ca_cert", lambda *a: None)
    line = f"#9 1.2 the project is frozen for 3.12; index /{TOKEN}/simple/"

    def failing_build(cfg, engine, **kwargs):
        error = InputError("the base image has Python 3.11", hint="set python")
        error.build_log = (line,)
        raise error

    monkeypatch.setattr(build_module, "build_project", failing_build)
    with pytest.raises(InputError) as caught:
        cli_image_build._build(cfg, engine=None, ca_cert=None)

    kept = (cfg.state_dir / "build.log").read_text(encoding="utf-8")
    assert kept == "#9 1.2 the project is frozen for 3.12; index /***/simple/\n"
    assert caught.value.hint.startswith("set python; the whole build log is in ")
