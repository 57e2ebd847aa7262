"""A variable name that [env] refuses as a credential by its shape (a published
token anywhere in it, or a vendor's prefix and a random run) is refused by
`reprobox run --env` too, and a record that holds one among its variable
names is never sealed by push or export."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from mine_runs import succeeded_record, write_run

from reprobox.cli_run import _parse_env
from reprobox.cli_share import _reference_record
from reprobox.config import ProjectConfig
from reprobox.container_files import capture_without_tokens
from reprobox.credential_files import credential_name
from reprobox.envvars import frozen_environment
from reprobox.errors import ConfigError, InputError
from reprobox.frozen_tokens import refuse_record_tokens, token_fields
from reprobox.secret_shapes import token_in_name

# Made up: no published format, but a vendor's shape (a prefix, then a random
# run of letters and digits mixing both cases), as the breaker's was.
VENDOR = "acme_live_" + "Zx8Cv7Bn6Mq1Wr5Ty3Ui9Op2"
SHOWN = f"acme*** ({len(VENDOR)} characters)"
GHP = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"


def test_the_vendor_shaped_name_is_a_credential_name_and_plain_ones_are_not():
    assert not token_in_name(VENDOR)  # what --env and the seal judged by alone
    assert credential_name(VENDOR)
    assert credential_name(f"MY_{GHP}")
    for plain in ("TF_ENABLE_ONEDNN_OPTS", "MY_SETTING", "GITHUB_TOKEN", "ACME_KEY"):
        assert not credential_name(plain)


def test_env_and_run_env_refuse_the_vendor_shaped_name_alike(tmp_path):
    cfg = ProjectConfig(
        root=tmp_path,
        source=tmp_path / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        env={VENDOR: "1"},
    )
    with pytest.raises(ConfigError) as env_refusal:
        frozen_environment(cfg, {})
    assert (
        "is a credential by its shape (a token of a published format, or a "
        "vendor's prefix and a random run), which would be written into"
    ) in env_refusal.value.message

    with pytest.raises(InputError) as run_refusal:
        _parse_env([f"{VENDOR}=1"])
    assert run_refusal.value.message == (
        f"--env {SHOWN}: the variable name is a credential by its shape (a "
        "token of a published format, or a vendor's prefix and a random run), "
        "which the run record would keep; nothing was run"
    )
    assert run_refusal.value.hint.startswith("give the variable a plain name")
    assert VENDOR not in str(run_refusal.value) + run_refusal.value.hint


def test_run_env_refuses_the_vendor_shaped_name_taken_from_the_shell(monkeypatch):
    monkeypatch.setenv(VENDOR, "1")
    with pytest.raises(InputError, match="the variable name is a credential"):
        _parse_env([VENDOR])


def test_run_env_keeps_plain_names():
    given = ["TF_ENABLE_ONEDNN_OPTS=0", "GITHUB_TOKEN=x", "ACME_KEY=abc"]
    assert _parse_env(given) == {
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "GITHUB_TOKEN": "x",
        "ACME_KEY": "abc",
    }


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"options": {"env": {VENDOR: "1", "SEED_NOTE": "a"}}}, "options.env"),
        ({"environment": {VENDOR: "1"}}, "environment"),
        ({"machine": {"env": {VENDOR: "1"}}}, "machine.env"),
    ],
)
def test_a_record_whose_variable_name_is_vendor_shaped_is_not_sealed(record, field):
    with pytest.raises(InputError) as refused:
        refuse_record_tokens(record, "runs/r1/record.json")
    assert refused.value.message == (
        f"runs/r1/record.json: the record's field {field}.{SHOWN} names a variable "
        "that is a credential by its shape (a token of a published format, or "
        "a vendor's prefix and a random run), which sealing would "
        "write into the image label and the bundle; refused, nothing was shared"
    )
    assert VENDOR not in str(refused.value) + refused.value.hint


def test_export_refuses_an_old_record_with_the_name_in_options_env(tmp_path):
    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    path = write_run(cfg.state_dir, succeeded_record(options={"env": {VENDOR: "1"}}))
    with pytest.raises(InputError) as refused:
        _reference_record(cfg, "sha256:" + "a" * 64, path)
    assert refused.value.message.startswith(
        f"{path}: the record's field options.env.{SHOWN} names a variable"
    )


def test_the_vendor_shape_is_judged_in_variable_names_only():
    # A metric's name is read by the published formats, as before: the vendor
    # shape is for variables, whose names [env] already judges so.
    doc = {"metrics": {VENDOR: 1.0}, "options": {"env": {VENDOR: "1", "A": "2"}}}
    assert list(token_fields(doc)) == [f"options.env.{SHOWN}"]


def test_a_capture_leaves_out_a_vendor_shaped_variable_name():
    kept, warnings = capture_without_tokens({"env": {VENDOR: "1", "OMP": "2"}})
    assert kept == {"env": {"OMP": "2"}}
    assert len(warnings) == 1 and warnings[0].startswith(
        f"capture.json field env.{SHOWN}"
    )


@pytest.mark.parametrize("name", [VENDOR, f"x-{GHP}"])
def test_verify_refuses_a_reference_whose_env_name_is_a_credential(name):
    from reprobox.verify import reference_options

    reference = {"options": {"env": {name: "1"}}}
    with pytest.raises(InputError) as refused:
        reference_options(reference, "img:1")
    assert refused.value.message.startswith(
        "image img:1: reference record field options.env."
    )
    assert "names a variable that is a credential" in refused.value.message
    assert name not in str(refused.value) + refused.value.hint
