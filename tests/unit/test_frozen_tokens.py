"""No token of a published format reaches what freeze writes, by any field."""

from __future__ import annotations

import os

import pytest
from six_projects import project

from reprobox import freeze as freeze_module
from reprobox.config import load_config
from reprobox.errors import ConfigError, InputError
from reprobox.freeze import _host_facts, freeze_project
from reprobox.frozen_tokens import token_fields
from reprobox.lock import LockResult

# Made up for these tests: the shapes of a GitHub token and an AWS key id.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
AWS_ID = "AKIA" + "Q7ZX2M4N6P8R1T3V"
LOCK = "six==1.17.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"


@pytest.fixture
def fake_lock(monkeypatch):
    def install(text=LOCK, warnings=()):
        def resolve(lines, **kwargs):
            return LockResult(
                text=text,
                pins={"six": "1.17.0"},
                warnings=tuple(warnings),
                needs_git=False,
                resolver="fake 1",
            )

        monkeypatch.setattr(freeze_module, "resolve_lock", resolve)

    install()
    return install


def refused(cfg, error=ConfigError, environ=None) -> str:
    """Freeze, expecting a refusal; return its text, checked to hold no token."""
    with pytest.raises(error) as info:
        freeze_project(cfg, environ=environ or {})
    text = f"{info.value} {info.value.hint}"
    assert TOKEN not in text and AWS_ID not in text
    assert not cfg.state_dir.exists()  # nothing written
    return text


def test_a_token_as_an_env_name_is_refused_without_showing_it(tmp_path, fake_lock):
    cfg = load_config(project(tmp_path, f'[env]\n{TOKEN} = "1"\n'))
    text = refused(cfg)
    assert text.startswith(f"{cfg.source}: env.ghp_*** (40 characters): ")
    assert "plain name" in text and "reprobox run --env NAME" in text


def test_a_token_as_a_pass_env_name_is_refused(tmp_path, fake_lock):
    cfg = load_config(project(tmp_path, f'pass_env = ["{AWS_ID}"]\n'))
    text = refused(cfg, environ={AWS_ID: "1"})
    assert text.startswith(f"{cfg.source}: pass_env: the variable name AKIA***")


def test_ordinary_env_names_are_frozen(tmp_path, fake_lock):
    cfg = load_config(project(tmp_path, '[env]\nTF_ENABLE_ONEDNN_OPTS = "0"\n'))
    result = freeze_project(cfg, environ={})
    assert result.manifest["environment"] == {"TF_ENABLE_ONEDNN_OPTS": "0"}


def test_a_token_as_a_metric_name_is_refused_naming_the_field(tmp_path, fake_lock):
    cfg = load_config(project(tmp_path, f'[metrics]\ncompare = ["acc", "{TOKEN}"]\n'))
    text = refused(cfg)
    assert text.startswith(
        f"{cfg.source}: metrics.compare: the manifest's metrics.compare[1] would "
        "hold a token of a published format"
    )


def test_a_token_as_a_tolerance_name_is_shown_shortened(tmp_path, fake_lock):
    extra = f"[metrics]\ntolerances.{TOKEN} = {{ abs = 0.1 }}\n"
    cfg = load_config(project(tmp_path, extra))
    text = refused(cfg)
    assert "metrics.tolerances: the manifest's metrics.tolerances.ghp_***" in text


def test_a_token_in_a_data_file_name_is_refused_naming_the_field(tmp_path, fake_lock):
    (tmp_path / f"{TOKEN}.csv").write_text("a,b\n1,2\n")
    cfg = load_config(project(tmp_path, f'data = ["{TOKEN}.csv"]\n'))
    text = refused(cfg)
    assert text.startswith(f"{cfg.source}: data: the manifest's data[0].path would")


def test_a_token_in_a_resolver_warning_is_refused(tmp_path, fake_lock):
    fake_lock(warnings=[f"six: yanked, see https://x.example/{TOKEN}"])
    cfg = load_config(project(tmp_path))
    text = refused(cfg, InputError)
    assert "manifest.json: the manifest's packages.warnings[0] would hold" in text


def test_a_token_in_the_lock_text_is_refused_naming_its_line(tmp_path, fake_lock):
    fake_lock(text=LOCK + f"# via {AWS_ID}\n")
    cfg = load_config(project(tmp_path))
    text = refused(cfg, InputError)
    assert "requirements.lock: line 3 would hold a token" in text


def test_a_token_in_base_image_is_refused_naming_base_image(tmp_path, fake_lock):
    # base_image reaches the Dockerfile's FROM line too; the fix is the key.
    cfg = load_config(project(tmp_path, base=f"registry.example/base:{TOKEN}"))
    text = refused(cfg)
    assert text.startswith(f"{cfg.source}: base_image: the manifest's base_image")
    assert "would hold a token" in text and "Dockerfile" not in text


def test_the_real_host_facts_and_a_whole_freeze_hold_no_token(tmp_path, fake_lock):
    # The facts of the machine the tests run on: CPU flags, OS, Python.
    assert list(token_fields(_host_facts(os.environ))) == []
    cfg = load_config(project(tmp_path, '[metrics]\ncompare = ["acc"]\n'))
    result = freeze_project(cfg, environ=os.environ)
    assert list(token_fields(result.manifest)) == []


def test_token_fields_name_keys_and_values_and_pass_hidden_ones():
    doc = {
        "a": [{"b": "x"}, {"b": f"see {TOKEN}"}],
        TOKEN: "1",
        "env": {"HF_TOKEN": "***"},
    }
    assert list(token_fields(doc)) == ["a[1].b", "ghp_*** (40 characters)"]
