"""A build.log that cannot be written never hides why the build failed."""

from __future__ import annotations

import errno
import os
from types import SimpleNamespace

import pytest

from reprobox import build as build_module
from reprobox import cli_image_build
from reprobox.build_failure import drop_build_log, keep_build_log
from reprobox.errors import InputError


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_image_build, "log_printer", lambda: None)
    import reprobox.freeze as freeze

    monkeypatch.setattr(freeze, "resolve_ca_cert", lambda *a: None)
    (tmp_path / ".reprobox").mkdir()
    return SimpleNamespace(
        index_url=None,
        extra_index_urls=(),
        source=tmp_path / "reprobox.toml",
        ca_cert=None,
        root=tmp_path,
        state_dir=tmp_path / ".reprobox",
    )


def failing_build(cfg, engine, **kwargs):
    error = InputError("the base image has Python 3.11", hint="set python")
    error.build_log = ("#9 1.2 python3.12: not found",)
    raise error


def make_fifo(path):
    os.mkfifo(path)


def make_folder(path):
    path.mkdir()


def make_link_to_folder(path):
    (path.parent / "elsewhere").mkdir()
    path.symlink_to("elsewhere")


@pytest.mark.parametrize(
    "make, kind",
    [
        (make_fifo, "a FIFO (named pipe)"),
        (make_folder, "a folder"),
        (make_link_to_folder, "a link to a folder"),
    ],
)
def test_an_odd_build_log_is_a_warning_not_the_error(cfg, monkeypatch, make, kind):
    warned = []
    monkeypatch.setattr(cli_image_build, "warn", warned.append)
    monkeypatch.setattr(build_module, "build_project", failing_build)
    log = cfg.state_dir / "build.log"
    make(log)

    with pytest.raises(InputError) as caught:
        cli_image_build._build(cfg, engine=None, ca_cert=None)

    # The build's own error stands, its hint without a log that was not kept.
    assert caught.value.message == "the base image has Python 3.11"
    assert caught.value.hint == "set python"
    assert warned == [
        f"{log} is {kind}, not a file reprobox wrote, so the build log was not "
        "kept there (move it away, then build again)"
    ]
    assert os.path.lexists(log) and not log.is_file()  # left as it was


def test_an_unwritable_state_folder_is_a_warning_with_its_fix(cfg, monkeypatch):
    import reprobox.build_failure as build_failure

    log = cfg.state_dir / "build.log"

    def denied(path, text, mode):  # root passes a 0555 folder: say it is refused
        raise OSError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(build_failure, "atomic_write_text", denied)
    warned = []
    monkeypatch.setattr(cli_image_build, "warn", warned.append)
    monkeypatch.setattr(build_module, "build_project", failing_build)

    with pytest.raises(InputError) as caught:
        cli_image_build._build(cfg, engine=None, ca_cert=None)

    assert caught.value.message == "the base image has Python 3.11"
    assert caught.value.hint == "set python"
    assert warned == [
        f"could not keep the build log in {log}: Permission denied "
        f"(make {cfg.state_dir} writable, then build again)"
    ]


def test_a_link_to_a_file_is_replaced_not_written_through(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("mine\n")
    (tmp_path / "build.log").symlink_to(target)

    path, problem = keep_build_log(tmp_path, "the log")

    assert (path, problem) == (tmp_path / "build.log", None)
    assert not path.is_symlink()
    assert path.read_text() == "the log\n"
    assert target.read_text() == "mine\n"


def test_a_succeeded_build_removes_its_old_log_but_not_a_fifo(tmp_path):
    (tmp_path / "build.log").write_text("old failure\n")
    drop_build_log(tmp_path)
    assert not os.path.lexists(tmp_path / "build.log")

    os.mkfifo(tmp_path / "build.log")
    drop_build_log(tmp_path)
    assert os.path.lexists(tmp_path / "build.log")
