"""Freeze and build say which credential files they leave out of the image."""

from __future__ import annotations

import contextlib

import pytest
from typer.testing import CliRunner

from reprobox import build as build_module
from reprobox.build import build_project
from reprobox.cli import app
from reprobox.config import load_config
from reprobox.freeze import freeze_project, write_frozen
from reprobox.image_files import left_out_note

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
LEFT_OUT = (
    "left out of the image as credential files: .aws/, .env, notakey.dat "
    "(pass secrets at run time with `reprobox run --env NAME`)"
)
NOTE = f"note: {LEFT_OUT}"
WARNING = f"reprobox: warning: {LEFT_OUT}"


@pytest.fixture
def with_credentials(six_project):
    (six_project / ".env").write_text("WANDB_API_KEY=abc123secret\n")
    (six_project / ".aws").mkdir()
    (six_project / ".aws" / "credentials").write_text("[default]\nx = y\n")
    (six_project / "notakey.dat").write_text(KEY)
    return six_project


def test_freeze_names_the_credential_files_it_leaves_out(with_credentials):
    result = CliRunner().invoke(app, ["-v", "freeze", str(with_credentials)])
    assert result.exit_code == 0, result.output
    assert WARNING in result.stderr.splitlines()


def test_freeze_warns_of_them_with_quiet_too(with_credentials):
    # brk r39 (BB a): a file the training reads (params.yaml holding a
    # password) went missing from the image with no word under -q, which
    # still shows warnings.
    result = CliRunner().invoke(app, ["-q", "freeze", str(with_credentials)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [WARNING]


def test_freeze_of_a_project_without_credentials_notes_none(six_project):
    result = CliRunner().invoke(app, ["freeze", str(six_project)])
    assert result.exit_code == 0, result.output
    assert "left out" not in result.stderr


def test_build_names_them_too(with_credentials, monkeypatch):
    cfg = load_config(with_credentials)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(build_module, "build_image", lambda *a, **kw: "sha256:x")
    infos: list[str] = []
    build_project(
        cfg, None, secrets=lambda: contextlib.nullcontext({}), on_info=infos.append
    )
    assert infos == [NOTE]


def test_a_long_list_is_capped():
    note = left_out_note([f"k{i}.pem" for i in range(8)])
    assert note is not None
    assert "k0.pem, k1.pem, k2.pem, k3.pem, k4.pem and 3 more" in note
    assert left_out_note([]) is None
