"""An interrupted build says truthfully whether it made its tag.

BuildKit finishes an export it has begun even when its CLI is stopped, so the
tag is asked of the engine after the stop, not assumed from where it landed.
"""

from __future__ import annotations

import contextlib

import pytest

from reprobox import build as build_module
from reprobox import cli, made_tags
from reprobox.build import build_project, context_entries, context_tag
from reprobox.config import load_config
from reprobox.errors import EngineError, Interrupted
from reprobox.freeze import freeze_project, write_frozen
from reprobox.manifest import load_frozen


@pytest.fixture
def cfg(six_project):
    config = load_config(six_project)
    write_frozen(config, freeze_project(config, environ={}))
    return config


def _tag(cfg) -> str:
    return context_tag(cfg, context_entries(cfg, load_frozen(cfg)))[0]


def _interrupted_build(cfg, monkeypatch, *, before, after, labels_match=True):
    """Build with a stop landing in build_image; return what on_built was told."""
    ids = {"calls": 0}

    def fake_image_id(engine, tag):
        ids["calls"] += 1
        if isinstance(after, Exception) and ids["calls"] > 1:
            raise after
        return before if ids["calls"] == 1 else after

    def stopped_build(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "image_id", fake_image_id)
    monkeypatch.setattr(made_tags, "image_id", fake_image_id)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(build_module, "build_image", stopped_build)
    monkeypatch.setattr(
        build_module, "carries_build_labels", lambda e, i, want: labels_match
    )
    told = []
    with pytest.raises(KeyboardInterrupt):
        build_project(
            cfg,
            None,
            secrets=lambda: contextlib.nullcontext({}),
            force=before is not None,
            on_built=lambda tag, made: told.append((tag, made)),
        )
    return told


def test_a_tag_the_engine_made_after_the_stop_is_reported(cfg, monkeypatch):
    told = _interrupted_build(cfg, monkeypatch, before=None, after="sha256:new")
    assert told == [(_tag(cfg), True)]


def test_a_build_stopped_before_its_tag_reports_nothing(cfg, monkeypatch):
    assert _interrupted_build(cfg, monkeypatch, before=None, after=None) == []


def test_a_tag_that_named_the_same_image_before_is_not_new(cfg, monkeypatch):
    told = _interrupted_build(cfg, monkeypatch, before="sha256:old", after="sha256:old")
    assert told == []


def test_a_tag_moved_to_another_build_is_not_this_builds(cfg, monkeypatch):
    told = _interrupted_build(
        cfg, monkeypatch, before=None, after="sha256:new", labels_match=False
    )
    assert told == []


def test_an_engine_that_cannot_answer_is_reported_as_unknown(cfg, monkeypatch):
    told = _interrupted_build(
        cfg, monkeypatch, before=None, after=EngineError("engine gone")
    )
    assert told == [(_tag(cfg), None)]


def test_a_finished_build_is_reported_once(cfg, monkeypatch):
    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(build_module, "build_image", lambda *a, **kw: "sha256:x")
    told = []
    build_project(
        cfg,
        None,
        secrets=lambda: contextlib.nullcontext({}),
        on_built=lambda tag, made: told.append((tag, made)),
    )
    assert told == [(_tag(cfg), True)]


def test_nothing_finished_says_nothing_was_half_written():
    assert cli.interrupted_message([]) == "interrupted; nothing was half-written"


def test_a_finished_build_is_named_with_its_tag():
    message = cli.interrupted_message([("build", "reprobox/p:0123456789abcdef", True)])
    assert message == (
        "build finished (tag reprobox/p:0123456789abcdef), then interrupted"
    )


def test_an_unknown_tag_is_neither_claimed_nor_denied():
    message = cli.interrupted_message([("build", "reprobox/p:0123456789abcdef", None)])
    assert message == (
        "interrupted; the engine may have tagged reprobox/p:0123456789abcdef or "
        "may still (`docker image inspect TAG` tells)"
    )


def test_the_wrapper_names_a_step_finished_before_the_stop():
    @cli.interruptible
    def command():
        note = cli.finished_step("import")
        note("reprobox/p:0123456789abcdef", True)
        note("reprobox/p:0123456789abcdef", True)  # told again after the stop
        raise KeyboardInterrupt

    with pytest.raises(Interrupted) as info:
        command()
    assert str(info.value) == (
        "import finished (tag reprobox/p:0123456789abcdef), then interrupted"
    )
    assert info.value.exit_code == 130


def test_each_command_starts_with_nothing_finished():
    @cli.interruptible
    def first():
        cli.finished_step("build")("reprobox/p:0123456789abcdef", True)

    @cli.interruptible
    def second():
        raise KeyboardInterrupt

    first()
    with pytest.raises(Interrupted, match=r"^interrupted; nothing was half-written$"):
        second()


def test_a_killed_build_cli_leaves_a_missing_tag_unknown(cfg, monkeypatch):
    from reprobox.engine import BuildCutShort

    def killed_build(*args, **kwargs):
        raise BuildCutShort

    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(made_tags, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(build_module, "build_image", killed_build)
    told = []
    with pytest.raises(KeyboardInterrupt):
        build_project(
            cfg,
            None,
            secrets=lambda: contextlib.nullcontext({}),
            on_built=lambda tag, made: told.append((tag, made)),
        )
    assert told == [(_tag(cfg), None)]
