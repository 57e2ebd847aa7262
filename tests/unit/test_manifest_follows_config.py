"""A manifest hand-edited after freeze is refused, not trained with silently."""

from __future__ import annotations

import copy

import pytest

from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.manifest import check_manifest_follows_config, config_settings

TOML = """
name = "edits"
command = "python train.py --epochs 3"
python = "3.11"
seed = 1
[metrics]
compare = ["acc"]
tolerances = { acc = { abs = 0.01 } }
"""


@pytest.fixture
def cfg(make_project, tmp_path):
    return load_config(make_project(tmp_path, TOML, {"train.py": "print(1)\n"}))


def manifest_of(cfg):
    settings = config_settings(cfg)
    return {
        "project": settings["project"],
        "python": settings["python"],
        "seed": settings["seed"],
        "determinism": {"profile": settings["determinism.profile"]},
        "metrics": settings["metrics"],
    }


def test_the_settings_are_the_config_s(cfg):
    settings = config_settings(cfg)
    assert settings["project"]["command"] == ["python", "train.py", "--epochs", "3"]
    assert settings["seed"] == 1
    assert settings["metrics"]["tolerances"] == {"acc": {"abs": 0.01, "rel": None}}
    check_manifest_follows_config(cfg.root / "m.json", manifest_of(cfg), cfg)


@pytest.mark.parametrize(
    "edit, field, shown",
    [
        (lambda m: m.update(seed=7), "seed", "seed is 7, but reprobox.toml says 1"),
        (lambda m: m.update(seed=None), "seed", "seed is null"),
        (lambda m: m["project"].update(command=["python", "other.py"]), "project", ""),
        (lambda m: m["project"].update(name="other"), "project", '"other"'),
        (lambda m: m.update(python="3.12"), "python", '"3.12"'),
        (
            lambda m: m["determinism"].update(profile="strict"),
            "determinism.profile",
            '"strict", but reprobox.toml says "default"',
        ),
        (
            lambda m: m["metrics"]["tolerances"]["acc"].update(abs=0.5),
            "metrics",
            "0.5",
        ),
        (lambda m: m.pop("metrics"), "metrics", "metrics is null"),
    ],
)
def test_an_edit_names_the_field_and_the_fix(cfg, edit, field, shown):
    manifest = copy.deepcopy(manifest_of(cfg))
    edit(manifest)
    with pytest.raises(InputError) as caught:
        check_manifest_follows_config(cfg.root / "m.json", manifest, cfg)
    message = caught.value.message
    assert message.startswith(f"{cfg.root / 'm.json'}: {field} is ")
    assert shown in message
    assert message.endswith("the manifest was edited after freeze")
    assert "run `reprobox freeze" in caught.value.hint
