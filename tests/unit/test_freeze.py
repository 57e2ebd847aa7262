"""freeze_project and write_frozen: git requirements, CA choice, base pinning."""

from __future__ import annotations

from pathlib import Path

import pytest
from six_projects import project

from reprobox import freeze as freeze_module
from reprobox.config import load_config
from reprobox.errors import InputError, LockError
from reprobox.freeze import freeze_project, resolve_ca_cert, write_frozen
from reprobox.lock import LockResult
from reprobox.manifest import VCS_NAME, load_frozen

GIT_LINE = (
    "example-fork @ git+https://github.com/example-org/example-fork.git"
    "@4f2c1e9b7d3a5c8e0f1a2b3c4d5e6f708192a3b4"
)
LOCK = "six==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
# A real certificate: a CA bundle is loaded, not only searched for BEGIN.
PEM = (Path(__file__).parent / "data" / "test-ca.pem").read_text()


@pytest.fixture
def fake_lock(monkeypatch):
    def install(vcs=()):
        def resolve(lines, **kwargs):
            return LockResult(
                text=LOCK,
                pins={"six": "1.17.0"},
                warnings=(),
                needs_git=bool(vcs),
                resolver="fake 1",
                vcs_requirements=tuple(vcs),
            )

        monkeypatch.setattr(freeze_module, "resolve_lock", resolve)

    return install


def test_git_requirements_get_their_own_file_and_build_step(tmp_path, fake_lock):
    fake_lock(vcs=[GIT_LINE])
    cfg = load_config(project(tmp_path))
    result = freeze_project(cfg, environ={})
    assert result.vcs_lock.endswith(GIT_LINE + "\n")
    assert GIT_LINE not in result.lock  # pip cannot hash-check a checkout
    assert "COPY requirements-vcs.txt" in result.dockerfile
    assert "pip install --no-deps --no-input -r /opt/reprobox/requirements-vcs.txt" in (
        result.dockerfile
    )
    assert result.manifest["packages"]["system"] == ["git"]
    write_frozen(cfg, result)
    assert (cfg.state_dir / VCS_NAME).read_text() == result.vcs_lock
    assert load_frozen(cfg).vcs_text == result.vcs_lock


def test_edited_git_requirements_are_refused(tmp_path, fake_lock):
    fake_lock(vcs=[GIT_LINE])
    cfg = load_config(project(tmp_path))
    write_frozen(cfg, freeze_project(cfg, environ={}))
    (cfg.state_dir / VCS_NAME).write_text("evil @ git+https://x.example/e.git@main\n")
    with pytest.raises(InputError, match="requirements-vcs.txt was changed"):
        load_frozen(cfg)


def test_without_git_requirements_there_is_no_file_and_no_step(tmp_path, fake_lock):
    fake_lock(vcs=[GIT_LINE])
    cfg = load_config(project(tmp_path))
    write_frozen(cfg, freeze_project(cfg, environ={}))
    fake_lock(vcs=())
    result = freeze_project(cfg, environ={})
    write_frozen(cfg, result)
    assert not (cfg.state_dir / VCS_NAME).exists()
    assert "requirements-vcs" not in result.dockerfile
    assert result.manifest["packages"]["vcs_sha256"] is None


def test_git_url_with_credentials_is_refused(tmp_path, fake_lock):
    fake_lock(vcs=["x @ git+https://user:tok3n@git.example/x.git@" + "b" * 40])
    with pytest.raises(LockError, match="carries credentials") as info:
        freeze_project(load_config(project(tmp_path)), environ={})
    assert "tok3n" not in str(info.value)


def test_base_image_is_pinned_when_its_digest_is_known(tmp_path, fake_lock):
    fake_lock()
    digest = "sha256:" + "c" * 64
    seen = []

    def lookup(ref):
        seen.append(ref)
        return digest

    result = freeze_project(
        load_config(project(tmp_path)), environ={}, base_digest=lookup
    )
    assert seen == ["reg.example:5000/base:1"]
    assert f"FROM reg.example:5000/base:1@{digest}\n" in result.dockerfile
    assert result.manifest["base_image"] == {
        "ref": "reg.example:5000/base:1",
        "digest": digest,
    }


def test_base_image_stays_a_tag_when_no_digest_is_known(tmp_path, fake_lock):
    fake_lock()
    result = freeze_project(
        load_config(project(tmp_path)), environ={}, base_digest=lambda ref: None
    )
    assert "FROM reg.example:5000/base:1\n" in result.dockerfile
    assert result.manifest["base_image"]["digest"] is None


@pytest.mark.parametrize(
    "variable", ["PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"]
)
def test_ca_bundle_comes_from_the_proxy_variables(tmp_path, variable):
    (tmp_path / "proj").mkdir()  # a CA inside the project would enter the image
    cfg = load_config(project(tmp_path / "proj"))
    pem = tmp_path / "corp.pem"
    pem.write_text(PEM)
    assert resolve_ca_cert(None, cfg, {variable: str(pem)}) == pem


def test_ca_flag_wins_and_pip_cert_beats_ssl_cert_file(tmp_path):
    (tmp_path / "proj").mkdir()
    cfg = load_config(project(tmp_path / "proj"))
    a, b, c = (tmp_path / n for n in ("a.pem", "b.pem", "c.pem"))
    for path in (a, b, c):
        path.write_text(PEM)
    env = {"SSL_CERT_FILE": str(c), "PIP_CERT": str(b)}
    assert resolve_ca_cert(str(a), cfg, env) == a
    assert resolve_ca_cert(None, cfg, env) == b


def test_ca_bundle_that_is_not_pem_is_refused(tmp_path):
    cfg = load_config(project(tmp_path))
    bad = tmp_path / "key.txt"
    bad.write_text("not a certificate")
    with pytest.raises(InputError, match="holds no PEM certificate"):
        resolve_ca_cert(None, cfg, {"PIP_CERT": str(bad)})


BODY = PEM.splitlines()[1:-1]


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN CERTIFICATE-----\nhello garbage\n-----END CERTIFICATE-----\n",
        PEM.replace(BODY[2], "A" * len(BODY[2])),  # a body that does not decode
        PEM + PEM[: len(PEM) // 2],  # a bundle cut off in its second certificate
        PEM[:-30] + "\n",  # its only certificate without the END line
    ],
    ids=["garbage-body", "corrupt-body", "truncated-bundle", "no-end-line"],
)
@pytest.mark.parametrize("where", ["flag", "PIP_CERT", "config"])
def test_a_damaged_ca_bundle_is_refused_naming_it(tmp_path, text, where):
    cfg = load_config(project(tmp_path, '[build]\nca_cert = "corp.pem"\n'))
    (tmp_path / "corp.pem").write_text(text)
    flag = str(tmp_path / "corp.pem") if where == "flag" else None
    environ = {"PIP_CERT": str(tmp_path / "corp.pem")} if where == "PIP_CERT" else {}
    if where != "config":
        cfg = load_config(project(tmp_path))
    with pytest.raises(InputError) as info:
        resolve_ca_cert(flag, cfg, environ)
    message = str(info.value)
    assert "holds a damaged certificate" in message
    assert "corp.pem" in message and "export the CA again" in message
    assert "\n" not in message
