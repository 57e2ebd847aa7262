"""A token or login in a registry name never reaches a push, a manifest or a record.

The registry names the pushed repository, which the manifest's published
list, the engine's RepoDigests and every later run record hold: a token
there would travel with all of them (round 42, BE 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reprobox import cli_share, engine
from reprobox.bundles import import_bundle
from reprobox.cli import app
from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.frozen_tokens import refuse_record_tokens
from reprobox.image_names import choose_name
from reprobox.share import check_published, check_registry

TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
DIGEST = "sha256:" + "d" * 64
ID = "sha256:" + "1" * 64


@pytest.mark.parametrize(
    "registry",
    [
        f"127.0.0.1:5000/{TOKEN}",
        f"127.0.0.1:5000/team/{TOKEN}/",
        f"reg.example/x_{TOKEN}",  # joined to other characters: a name still
        f"reg.example/hf_{'a1b2c3d4e5' * 3}",
    ],
)
def test_a_registry_holding_a_token_is_refused_without_showing_it(registry):
    with pytest.raises(InputError) as refused:
        check_registry(registry, "p")
    said = str(refused.value)
    assert said.startswith("--registry ")
    assert "holds a token of a published format" in said
    assert "nothing was pushed" in said
    assert "docker login" in refused.value.hint
    assert TOKEN not in said and "a1b2c3d4e5a1b2" not in said


@pytest.mark.parametrize(
    "registry",
    [
        "user:s3cretpass@127.0.0.1:5000",
        "s3cretpass@reg.example/team",
        "https://user:s3cretpass@reg.example",
        "[::1]:5000/s3cretpass@x",
    ],
)
def test_a_registry_with_a_login_is_refused_without_showing_it(registry):
    with pytest.raises(InputError) as refused:
        check_registry(registry, "p")
    said = str(refused.value)
    assert said.startswith("--registry holds an '@'")
    assert "s3cretpass" not in said
    assert "docker login HOST" in refused.value.hint


@pytest.mark.parametrize(
    "registry",
    ["127.0.0.1:5000/sk-learn-models", "reg.example/ghp_xxxxxxxxxxxxxxxxxxxxxxxx"],
)
def test_a_registry_of_words_or_a_blanked_token_is_taken(registry):
    assert check_registry(registry, "p") == registry


@pytest.fixture
def frozen_project(six_project):
    cfg = load_config(six_project)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    return cfg


def test_push_refuses_such_a_registry_before_the_engine_and_leaves_the_manifest(
    frozen_project, monkeypatch
):
    def no_engine(*args, **kwargs):
        raise AssertionError("push reached the engine")

    monkeypatch.setattr(engine, "connect", no_engine)
    monkeypatch.setattr(cli_share, "_build", no_engine)
    manifest = frozen_project.state_dir / "manifest.json"
    before = manifest.read_bytes()
    result = CliRunner().invoke(
        app,
        [
            "push",
            str(frozen_project.root),
            "--registry",
            f"127.0.0.1:5000/{TOKEN}",
        ],
    )
    # main() prints an InputError as one line and exits 2 (test_cli_errors).
    refused = result.exception
    assert isinstance(refused, InputError) and refused.exit_code == 2, result.output
    assert str(refused).startswith("--registry '127.0.0.1:5000/ghp_***' holds")
    assert TOKEN not in str(refused) + result.output
    assert manifest.read_bytes() == before


def entry(ref: str) -> dict:
    return {"ref": ref, "image_id": ID, "source_image_id": ID, "reference_run": None}


@pytest.mark.parametrize(
    "ref",
    [
        f"127.0.0.1:5000/{TOKEN}/reprobox/p@{DIGEST}",
        f"127.0.0.1:5000/x_{TOKEN}/reprobox/p@{DIGEST}",
        f"127.0.0.1:5000/{TOKEN}@{DIGEST[:20]}",  # of the wrong shape as well
    ],
)
def test_a_published_ref_holding_a_token_is_refused_by_its_field(ref):
    path = Path("proj/.reprobox/manifest.json")
    good = entry(f"127.0.0.1:5000/reprobox/p@{DIGEST}")
    with pytest.raises(InputError) as refused:
        check_published(path, {"published": [good, entry(ref)]})
    said = str(refused.value)
    assert said.startswith(f"{path}: published[1].ref ")
    assert "holds a token of a published format" in said
    assert TOKEN not in said
    assert "remove that entry" in refused.value.hint
    assert "push` again" in refused.value.hint


def test_a_record_naming_the_image_by_a_ref_with_a_token_is_refused():
    record = {"image": {"ref": f"127.0.0.1:5000/x_{TOKEN}/reprobox/p@{DIGEST}"}}
    with pytest.raises(InputError, match=r"field image\.ref holds"):
        refuse_record_tokens(record, "runs/r1/record.json")


def test_a_record_leaves_out_names_of_the_image_that_hold_a_token():
    pushed = f"127.0.0.1:5000/{TOKEN}/reprobox/p@{DIGEST}"
    clean = f"127.0.0.1:5000/team/reprobox/p@sha256:{'e' * 64}"
    tag = "reprobox/p:0123456789abcdef"
    # The engine still lists the repository an older push named with a token.
    assert choose_name(tag, False, ID, [tag], [pushed]) == (tag, None)
    assert choose_name(tag, False, ID, [tag], [pushed, clean])[0] == clean
    assert choose_name(pushed, True, ID, [tag], [pushed]) == (tag, None)
    tagged = f"127.0.0.1:5000/{TOKEN}/reprobox/p:t"
    assert choose_name(tagged, True, ID, [tagged], []) == (ID, None)


def test_a_bundle_whose_tag_holds_a_token_is_refused_before_the_engine(tmp_path):
    from tests.unit.test_share import MEMBERS, NoEngine, write_bundle

    path = tmp_path / "b.tar"
    index = write_bundle(path, MEMBERS)
    index["tag"] = f"reprobox/{TOKEN}:0123456789abcdef"
    write_bundle(path, MEMBERS, index)
    with pytest.raises(InputError) as refused:
        import_bundle(NoEngine(), path)
    said = str(refused.value)
    assert "tag reprobox/ghp_***:0123456789abcdef holds a token" in said, said
    assert TOKEN not in said
