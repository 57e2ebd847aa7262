"""Which variables a frozen project carries, and which secrets it never writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.config import ProjectConfig
from reprobox.envvars import (
    BAKED_FROM_HOST,
    STRICT_ENV,
    frozen_environment,
    looks_secret,
)
from reprobox.errors import ConfigError

SHARED_CASES = Path(__file__).resolve().parents[3] / "shared" / "cases"
TOKEN_CASE = SHARED_CASES / "freeze" / "index-with-token.env"
PLANTED_URL = "https://__token__:s3cr3t-planted-value@pypi.example.internal/simple/"


def _cfg(tmp_path: Path, **kwargs) -> ProjectConfig:
    return ProjectConfig(
        root=tmp_path,
        source=tmp_path / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        **kwargs,
    )


@pytest.mark.parametrize(
    "name",
    [
        "TOKEN",
        "API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "DB_PASSWORD",
        "MY_PAT",
        "GITHUB_TOKEN",
        "HF_TOKEN",
        "WANDB_API_KEY",
        "apiKey",
        "db-passwd",
        "SESSION_COOKIE",
        "PRIVATE_KEY_PATH",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "BASIC_AUTH",
    ],
)
def test_secret_names_are_flagged(name):
    assert looks_secret(name) is True
    assert looks_secret(name, "harmless") is True


@pytest.mark.parametrize(
    "name",
    [
        "TF_ENABLE_ONEDNN_OPTS",
        "KERAS_BACKEND",
        "OMP_NUM_THREADS",
        "PATH",
        "PYTHONHASHSEED",
        "TF_DETERMINISTIC_OPS",
        "CUBLAS_WORKSPACE_CONFIG",
        "XLA_FLAGS",
        "ONEDNN_MAX_CPU_ISA",
        "KEYBOARD_LAYOUT",
        "PATHOLOGY_DIR",
    ],
)
def test_numerics_and_ordinary_names_are_not_flagged(name):
    assert looks_secret(name, "1") is False


@pytest.mark.parametrize(
    "value",
    [
        PLANTED_URL,
        "postgres://user:pw@db.internal:5432/app",
        "https://ghp_abcdef@github.com/org/repo.git",
        "HTTPS://U:P@HOST/",
    ],
)
def test_values_with_url_credentials_are_flagged(value):
    assert looks_secret("PIP_EXTRA_INDEX_URL", value) is True
    assert looks_secret("DATA_URL", value) is True


@pytest.mark.parametrize(
    "value",
    [
        "https://pypi.org/simple/",
        "file:///opt/pypi/simple",
        "user@example.com",
        "--xla_gpu_deterministic_ops=true",
        "",
        None,
    ],
)
def test_values_without_credentials_are_not_flagged(value):
    assert looks_secret("PIP_INDEX_URL", value) is False


def test_shared_token_case_is_flagged():
    if not TOKEN_CASE.is_file():
        pytest.skip(f"{TOKEN_CASE} is not here")
    name, _, value = TOKEN_CASE.read_text().strip().partition("=")
    assert (name, value) == ("PIP_EXTRA_INDEX_URL", PLANTED_URL)
    assert looks_secret(name, value) is True


def test_only_numerics_host_variables_are_baked(tmp_path):
    environ = {
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "KERAS_BACKEND": "jax",
        "OMP_NUM_THREADS": "4",
        "HOME": "/root",
        "CUDA_VISIBLE_DEVICES": "0",
    }
    env, warnings = frozen_environment(_cfg(tmp_path), environ)
    assert env == {"KERAS_BACKEND": "jax", "TF_ENABLE_ONEDNN_OPTS": "0"}
    assert warnings == []


def test_every_baked_name_is_copied_and_none_looks_secret(tmp_path):
    environ = {name: f"v-{name}" for name in BAKED_FROM_HOST}
    env, _ = frozen_environment(_cfg(tmp_path), environ)
    assert env == environ
    assert not any(looks_secret(name) for name in BAKED_FROM_HOST)


def test_pass_env_copies_a_plain_variable(tmp_path):
    env, warnings = frozen_environment(
        _cfg(tmp_path, pass_env=("MY_FLAG",)), {"MY_FLAG": "on"}
    )
    assert env == {"MY_FLAG": "on"}
    assert warnings == []


def test_pass_env_unset_variable_is_warned_about(tmp_path):
    env, warnings = frozen_environment(_cfg(tmp_path, pass_env=("MY_FLAG",)), {})
    assert env == {}
    assert len(warnings) == 1
    assert "MY_FLAG" in warnings[0] and "not set" in warnings[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [("HF_TOKEN", "hf_abc"), ("PIP_EXTRA_INDEX_URL", PLANTED_URL)],
)
def test_pass_env_secret_is_skipped_with_a_warning(tmp_path, name, value):
    env, warnings = frozen_environment(_cfg(tmp_path, pass_env=(name,)), {name: value})
    assert env == {}
    assert len(warnings) == 1
    assert name in warnings[0] and "secret" in warnings[0]
    assert value not in warnings[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [("API_KEY", "abc"), ("EXTRA_URL", PLANTED_URL)],
)
def test_config_env_secret_is_a_config_error(tmp_path, name, value):
    cfg = _cfg(tmp_path, env={name: value})
    with pytest.raises(ConfigError) as info:
        frozen_environment(cfg, {})
    assert info.value.key == f"env.{name}"
    assert str(tmp_path / "reprobox.toml") in str(info.value)
    assert info.value.hint and f"--env {name}" in info.value.hint
    assert value not in str(info.value)


def test_config_env_overrides_host_value(tmp_path):
    cfg = _cfg(tmp_path, env={"TF_ENABLE_ONEDNN_OPTS": "1"})
    env, _ = frozen_environment(cfg, {"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert env == {"TF_ENABLE_ONEDNN_OPTS": "1"}


def test_strict_profile_pins_determinism_and_onednn(tmp_path):
    cfg = _cfg(tmp_path, profile="strict", env={"TF_ENABLE_ONEDNN_OPTS": "1"})
    env, _ = frozen_environment(cfg, {"TF_DETERMINISTIC_OPS": "0", "XLA_FLAGS": "x"})
    assert env == {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "TF_DETERMINISTIC_OPS": "1",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "XLA_FLAGS": "x",
    }
    assert STRICT_ENV == {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "TF_DETERMINISTIC_OPS": "1",
        "TF_ENABLE_ONEDNN_OPTS": "0",
    }


def test_default_profile_adds_nothing(tmp_path):
    env, _ = frozen_environment(_cfg(tmp_path), {})
    assert env == {}


@pytest.mark.parametrize("via", ["config", "pass_env"])
def test_cudnn_autotune_is_dropped_with_a_warning(tmp_path, via):
    if via == "config":
        cfg = _cfg(tmp_path, env={"TF_USE_CUDNN_AUTOTUNE": "1", "A": "1"})
        environ = {}
    else:
        cfg = _cfg(tmp_path, pass_env=("TF_USE_CUDNN_AUTOTUNE",), env={"A": "1"})
        environ = {"TF_USE_CUDNN_AUTOTUNE": "1"}
    env, warnings = frozen_environment(cfg, environ)
    assert env == {"A": "1"}
    assert [w for w in warnings if "TF_USE_CUDNN_AUTOTUNE" in w]


def test_host_cudnn_autotune_is_never_baked(tmp_path):
    env, _ = frozen_environment(_cfg(tmp_path), {"TF_USE_CUDNN_AUTOTUNE": "1"})
    assert "TF_USE_CUDNN_AUTOTUNE" not in env


def test_output_is_sorted_by_name(tmp_path):
    cfg = _cfg(
        tmp_path, env={"ZED": "1", "ALPHA": "2"}, pass_env=("MIDDLE",), profile="strict"
    )
    env, _ = frozen_environment(
        cfg, {"XLA_FLAGS": "x", "MIDDLE": "m", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    )
    assert list(env) == sorted(env)
    assert list(env) == [
        "ALPHA",
        "CUBLAS_WORKSPACE_CONFIG",
        "MIDDLE",
        "ONEDNN_MAX_CPU_ISA",
        "TF_DETERMINISTIC_OPS",
        "TF_ENABLE_ONEDNN_OPTS",
        "XLA_FLAGS",
        "ZED",
    ]


@pytest.mark.parametrize(
    "value",
    [
        "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
        "AKIAIOSFODNN7EXAMPLE",
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "Bearer abcdefghijklmnop",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "hf_abcdefghijklmnopqrstuvwxyz",
        "https://idx.example/simple?token=abcdef",
    ],
)
def test_token_shaped_values_look_secret_whatever_the_name(value):
    assert looks_secret("MYVAR", value)


@pytest.mark.parametrize("value", ["1", "AVX2", "/opt/data", "scikit-learn", "jax"])
def test_ordinary_values_do_not(value):
    assert not looks_secret("MYVAR", value)


def test_token_shaped_pass_env_value_is_skipped(tmp_path):
    cfg = _cfg(tmp_path, pass_env=("MYVAR",))
    env, warnings = frozen_environment(cfg, {"MYVAR": "ghp_" + "a" * 36})
    assert "MYVAR" not in env
    assert any("MYVAR looks like a secret" in w for w in warnings)


@pytest.mark.parametrize("name", ["PATH", "PYTHONPATH", "LD_PRELOAD"])
def test_machine_variables_are_not_frozen(tmp_path, name):
    cfg = _cfg(tmp_path, pass_env=(name,))
    env, warnings = frozen_environment(cfg, {name: "/root/.pyenv/shims"})
    assert name not in env
    assert warnings == [
        f"pass_env: {name} is the image's and reprobox's to decide (where Python, "
        "packages and libraries come from); setting it breaks the run; it is not "
        "frozen"
    ]


@pytest.mark.parametrize("environ", [{}, {"REPROBOX_SEED": "4"}])
def test_pass_env_of_reprobox_own_says_why_set_or_not(tmp_path, environ):
    # brk r38 (BA 6): an unset REPROBOX_X was told "this machine's value would
    # break the run" (there is none), and the reason named where Python and
    # packages come from, which is not what REPROBOX_* are.
    cfg = _cfg(tmp_path, pass_env=("REPROBOX_SEED",))
    env, warnings = frozen_environment(cfg, environ)
    assert "REPROBOX_SEED" not in env
    assert warnings == [
        "pass_env: REPROBOX_SEED is reprobox's own: the REPROBOX_ prefix is kept "
        "for what reprobox tells the run (REPROBOX_SEED, REPROBOX_PROFILE, "
        "REPROBOX_OUT, REPROBOX_METRICS...); it is "
        "not frozen"
    ]


def test_pass_env_home_is_the_images(tmp_path):
    cfg = _cfg(tmp_path, pass_env=("HOME",))
    env, warnings = frozen_environment(cfg, {"HOME": "/home/me"})
    assert "HOME" not in env
    assert warnings == [
        "pass_env: HOME is the image's to decide (the home folder of the user the "
        "run starts as); setting it breaks the run; it is not frozen"
    ]


@pytest.mark.parametrize(
    ("profile", "seed", "warned"),
    [("default", 7, "7"), ("strict", None, "0"), ("strict", 7, "7")],
)
def test_the_shells_hash_seed_is_not_frozen_where_every_run_sets_it(
    tmp_path, profile, seed, warned
):
    cfg = _cfg(tmp_path, profile=profile, seed=seed)
    env, warnings = frozen_environment(cfg, {"PYTHONHASHSEED": "123"})
    assert "PYTHONHASHSEED" not in env
    assert warnings == [
        "PYTHONHASHSEED in this shell is not frozen: every run sets it from the "
        f"seed ({warned}); give another at run time with "
        "`reprobox run --env PYTHONHASHSEED`"
    ]


def test_the_shells_hash_seed_is_frozen_when_no_run_sets_it(tmp_path):
    env, warnings = frozen_environment(_cfg(tmp_path), {"PYTHONHASHSEED": "123"})
    assert env == {"PYTHONHASHSEED": "123"}
    assert warnings == []


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("PGPASSWORD", True),
        ("MYPASSWORD", True),
        ("MYSECRET", True),
        ("GITHUBTOKEN", True),
        ("TOKENIZERS_PARALLELISM", False),
        ("OMP_NUM_THREADS", False),
        ("TF_ENABLE_ONEDNN_OPTS", False),
    ],
)
def test_secret_words_run_together_with_others_are_caught(name, secret):
    assert looks_secret(name, "plain-value") is secret


@pytest.mark.parametrize(
    "value, secret",
    [
        ("--password SEKRET", True),
        ("train.py --token X", True),
        ("--wandb-key X", True),
        ("--password=X", True),
        ("--lr 0.1 --epochs 3", False),
        ("--key-column id --sort-key ts", False),
        ("-O2 -march=native", False),
    ],
)
def test_arguments_kept_in_a_variable_are_read_like_a_command(value, secret):
    assert looks_secret("EXTRA_ARGS", value) is secret


def test_a_shell_value_the_strict_profile_replaces_is_said_at_freeze(tmp_path):
    # brk r45 (BL F3): with profile = "strict", freeze dropped the shell's
    # TF_ENABLE_ONEDNN_OPTS=1 without a word (PYTHONHASHSEED's was said).
    environ = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_DETERMINISTIC_OPS": "1"}
    env, warnings = frozen_environment(_cfg(tmp_path, profile="strict"), environ)
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert warnings == [
        "TF_ENABLE_ONEDNN_OPTS=1 in this shell is not frozen: the strict profile "
        "sets 0; give another at run time with `reprobox run --env "
        "TF_ENABLE_ONEDNN_OPTS`"
    ]


def test_a_run_says_which_frozen_shell_values_its_profile_or_seed_replaces():
    from reprobox.run_env import replaced_by_run

    frozen = {
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "TF_DETERMINISTIC_OPS": "1",  # what strict sets too: nothing to say
        "PYTHONHASHSEED": "7",
        "KERAS_BACKEND": "jax",  # fixed by neither
    }
    names = tuple(frozen)
    said = replaced_by_run(frozen, names, profile="strict", seed=3, run_flags={})
    assert said == [
        "the image sets PYTHONHASHSEED='7', from the shell that froze it, but "
        "--seed 3 sets '3' and wins (pass --env PYTHONHASHSEED=7 to keep the "
        "image's)",
        "the image sets TF_ENABLE_ONEDNN_OPTS='1', from the shell that froze it, "
        "but --profile strict sets '0' and wins (pass --env "
        "TF_ENABLE_ONEDNN_OPTS=1 to keep the image's)",
    ]
    # A value --env gives is the run's choice; the default profile fixes none.
    assert (
        replaced_by_run(
            frozen,
            names,
            profile="strict",
            seed=3,
            run_flags={"TF_ENABLE_ONEDNN_OPTS": "1", "PYTHONHASHSEED": "7"},
        )
        == []
    )
    assert (
        replaced_by_run(frozen, names, profile="default", seed=None, run_flags={}) == []
    )
