"""A manifest hand-edited after freeze is refused, not trained with silently."""

from __future__ import annotations

import copy
import shlex

import pytest

from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.manifest import check_manifest_follows_config, config_settings
from reprobox.seals import seal_manifest

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


# --- the environment block: checked against the Dockerfile frozen with it ---

ODD = 'a "quoted" $HOME \\ value'


@pytest.fixture
def env_frozen(six_project):
    """six_project frozen with one [env] setting and two values from the shell."""
    from reprobox.freeze import freeze_project, write_frozen

    toml = six_project / "reprobox.toml"
    toml.write_text(toml.read_text() + "[env]\nMY_SETTING = '\"x'\n")
    cfg = load_config(six_project)
    shell = {"TF_ENABLE_ONEDNN_OPTS": "0", "XLA_FLAGS": ODD}
    write_frozen(cfg, freeze_project(cfg, environ=shell))
    return cfg


def _edit_environment(cfg, edit):
    import json

    path = cfg.state_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest["environment"])
    path.write_text(
        json.dumps(seal_manifest(manifest), indent=2, sort_keys=True) + "\n"
    )
    return path


def test_an_unedited_environment_loads_values_and_all(env_frozen):
    from reprobox.dockerfile import dockerfile_environment
    from reprobox.manifest import load_frozen

    frozen = load_frozen(env_frozen)
    assert frozen.manifest["environment"] == {
        "MY_SETTING": '"x',
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "XLA_FLAGS": ODD,
    }
    baked = dockerfile_environment(frozen.dockerfile_text)
    assert baked == frozen.manifest["environment"]


@pytest.mark.parametrize(
    "edit, shown",
    [
        # A value baked from the freezing shell: no config can say it again.
        (
            lambda env: env.update(TF_ENABLE_ONEDNN_OPTS="1"),
            'environment.TF_ENABLE_ONEDNN_OPTS is "1", but the Dockerfile frozen '
            'with it sets "0"',
        ),
        (
            lambda env: env.pop("XLA_FLAGS"),
            "environment.XLA_FLAGS is unset, but the Dockerfile frozen with it "
            'sets "a \\"quoted\\" $HOME \\\\ value"',
        ),
        (
            lambda env: env.update(OMP_NUM_THREADS="8"),
            'environment.OMP_NUM_THREADS is "8", but the Dockerfile frozen with '
            "it sets unset",
        ),
        (
            lambda env: env.update(MY_SETTING="y"),
            'environment.MY_SETTING is "y", but the Dockerfile frozen with it '
            'sets "\\"x"',
        ),
        (
            lambda env: env.update({"BAD\nNAME": "1"}),
            "environment.'BAD\\nNAME' is \"1\"",
        ),
        # A name that is a token is shortened, as every message shows one.
        (
            lambda env: env.update({"ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R": "1"}),
            'environment.ghp_*** (40 characters) is "1"',
        ),
    ],
)
def test_a_hand_edited_environment_is_refused(env_frozen, edit, shown):
    from reprobox.manifest import load_frozen

    path = _edit_environment(env_frozen, edit)
    with pytest.raises(InputError) as caught:
        load_frozen(env_frozen)
    message = caught.value.message
    assert message.startswith(f"{path}: {shown}")
    assert message.endswith("the manifest was edited after freeze")
    assert "\n" not in str(caught.value)
    assert caught.value.hint == f"run `reprobox freeze {env_frozen.root}` again"


def test_an_environment_emptied_by_hand_is_refused(env_frozen):
    from reprobox.manifest import load_frozen

    _edit_environment(env_frozen, dict.clear)
    with pytest.raises(InputError, match="environment.MY_SETTING is unset"):
        load_frozen(env_frozen)


def test_no_environment_means_no_env_block(six_project):
    from reprobox.dockerfile import dockerfile_environment
    from reprobox.freeze import freeze_project, write_frozen
    from reprobox.manifest import load_frozen

    cfg = load_config(six_project)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    frozen = load_frozen(cfg)
    assert frozen.manifest["environment"] == {}
    assert dockerfile_environment(frozen.dockerfile_text) == {}
    _edit_environment(cfg, lambda env: env.update(TF_DETERMINISTIC_OPS="1"))
    with pytest.raises(InputError, match="environment.TF_DETERMINISTIC_OPS is "):
        load_frozen(cfg)


def test_freeze_says_which_shell_variables_the_image_now_sets(six_project):
    # cg 4: TF_ENABLE_ONEDNN_OPTS=0 exported to quiet TensorFlow went into the
    # image's ENV (and its tag) without a word at freeze.
    from reprobox.freeze import freeze_project

    toml = six_project / "reprobox.toml"
    toml.write_text(toml.read_text() + "[env]\nTF_DETERMINISTIC_OPS = '1'\n")
    cfg = load_config(six_project)
    shell = {
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "XLA_FLAGS": ODD,
        "TF_DETERMINISTIC_OPS": "1",  # the config's: said by the config already
        "OMP_NUM_THREADS": "8",  # a fact of this machine: manifest only
    }
    notes = freeze_project(cfg, environ=shell).notes
    assert notes == [
        "from this shell, the image sets TF_ENABLE_ONEDNN_OPTS=0, XLA_FLAGS="
        + shlex.quote(ODD)
        + " (numerics settings); unset them and freeze again to leave them out"
    ]
    assert freeze_project(cfg, environ={}).notes == []
