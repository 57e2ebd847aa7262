"""Base images pinned by digest in the config; CA bundles inside the project."""

from __future__ import annotations

from pathlib import Path

import pytest
from six_projects import project as six_project_files

from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project, resolve_ca_cert
from reprobox.image_files import project_files

DIGEST = "sha256:" + "0" * 64
# A real certificate: a CA bundle is loaded, not only searched for BEGIN.
PEM = (Path(__file__).parent / "data" / "test-ca.pem").read_text()


def project(tmp_path: Path, extra: str = "") -> Path:
    return six_project_files(tmp_path, extra, base=None)


@pytest.mark.parametrize(
    "lookup", [None, lambda ref: ref.split("@")[1], lambda r: None]
)
def test_a_base_image_pinned_by_digest_is_used_as_written(tmp_path, fake_lock, lookup):
    ref = f"localhost:5000/a:b@{DIGEST}"
    cfg = load_config(project(tmp_path, f'base_image = "{ref}"\n'))
    result = freeze_project(cfg, environ={}, base_digest=lookup)
    assert f"\nFROM {ref}\n" in result.dockerfile
    assert result.dockerfile.count("@sha256:") == 1
    assert result.manifest["base_image"] == {"ref": ref, "digest": DIGEST}


def test_a_tag_still_gets_its_digest_looked_up(tmp_path, fake_lock):
    cfg = load_config(project(tmp_path, 'base_image = "localhost:5000/a:b"\n'))
    result = freeze_project(cfg, environ={}, base_digest=lambda ref: DIGEST)
    assert f"\nFROM localhost:5000/a:b@{DIGEST}\n" in result.dockerfile
    assert result.manifest["base_image"]["digest"] == DIGEST


@pytest.mark.parametrize("source", ["flag", "PIP_CERT", "SSL_CERT_FILE"])
def test_a_ca_inside_the_project_named_outside_the_config_is_refused(
    tmp_path, source, monkeypatch
):
    root = project(tmp_path)
    (root / "certs").mkdir()
    (root / "certs" / "corp.pem").write_text(PEM)
    cfg = load_config(root)
    assert "certs/corp.pem" in project_files(cfg)
    monkeypatch.chdir(root)
    flag = "certs/corp.pem" if source == "flag" else None
    environ = {} if source == "flag" else {source: "certs/corp.pem"}
    with pytest.raises(InputError) as info:
        resolve_ca_cert(flag, cfg, environ)
    assert "is inside the project, so it would be copied into the image" in str(
        info.value
    )
    assert info.value.hint.startswith('set build.ca_cert = "certs/corp.pem"')


def test_a_ca_left_out_of_the_image_is_fine(tmp_path):
    root = project(tmp_path)
    (root / ".reproboxignore").write_text("certs/\n")
    (root / "certs").mkdir()
    (root / "certs" / "corp.pem").write_text(PEM)
    cfg = load_config(root)
    path = resolve_ca_cert(str(root / "certs" / "corp.pem"), cfg, {})
    assert path == root / "certs" / "corp.pem"


def test_build_ca_cert_inside_the_project_is_left_out(tmp_path):
    root = project(tmp_path, '[build]\nca_cert = "corp.pem"\n')
    (root / "corp.pem").write_text(PEM)
    cfg = load_config(root)
    assert resolve_ca_cert(None, cfg, {}) == root / "corp.pem"
    assert "corp.pem" not in project_files(cfg)


def test_a_ca_outside_the_project_is_fine(tmp_path):
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "ca.pem").write_text(PEM)
    root = tmp_path / "proj"
    root.mkdir()
    cfg = load_config(project(root))
    assert resolve_ca_cert(None, cfg, {"PIP_CERT": str(outside / "ca.pem")}) == (
        outside / "ca.pem"
    )
