"""Variables baked from the freezing shell: secret-looking or non-UTF-8 values."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.config import ProjectConfig
from reprobox.envvars import BAKED_FROM_HOST, frozen_environment, looks_secret
from reprobox.errors import ConfigError
from reprobox.freeze import _shown_host_env


def cfg(tmp_path: Path, **kwargs) -> ProjectConfig:
    return ProjectConfig(
        root=tmp_path,
        source=tmp_path / "reprobox.toml",
        name="p",
        command=("x",),
        **kwargs,
    )


SECRET_VALUES = [
    "--xla_flag=1 https://user:hunter2pass@h.example/x",
    "ghp_" + "a" * 36,
    "--url=https://h.example/?token=abcdef123456",
]


@pytest.mark.parametrize("name", BAKED_FROM_HOST)
@pytest.mark.parametrize("value", SECRET_VALUES)
def test_a_baked_variable_with_a_secret_value_is_skipped(tmp_path, name, value):
    env, warnings = frozen_environment(cfg(tmp_path), {name: value})
    assert name not in env
    assert warnings == [
        f"{name}'s value in this shell looks like a secret and is never written; "
        f"give it at run time with `reprobox run --env {name}`"
    ]
    assert value not in " ".join(warnings)


def test_a_plain_baked_variable_is_still_copied(tmp_path):
    env, warnings = frozen_environment(
        cfg(tmp_path), {"XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}
    )
    assert env == {"XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}
    assert warnings == []


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"XLA_FLAGS": "caf\udce9"}, "environment"),
        ({"MY_FLAG": "caf\udce9"}, "pass_env"),
    ],
)
def test_a_value_that_is_not_utf8_is_one_config_error(tmp_path, environ, key):
    project = cfg(tmp_path, pass_env=("MY_FLAG",))
    with pytest.raises(ConfigError) as info:
        frozen_environment(project, environ)
    assert info.value.key == key
    assert "is not UTF-8 text" in str(info.value)
    str(info.value).encode("utf-8")  # printable: no lone surrogate in the message


def test_host_facts_hide_secrets_and_stay_utf8():
    shown = _shown_host_env(
        {"OMP_NUM_THREADS": "4\udce9", "TF_XLA_FLAGS": "ghp_" + "a" * 36}
    )
    assert shown == {"OMP_NUM_THREADS": "4\ufffd", "TF_XLA_FLAGS": "***"}


@pytest.mark.parametrize(
    "name",
    [
        "GPG_PASSPHRASE",
        "PRIVATEKEY",
        "SSHKEY",
        "ACCESSKEY",
        "MYPASS",
        "SIGNINGKEY",
        "JWT",
        "OAUTH2",
        "SENTRY_DSN",
    ],
)
def test_more_secret_names_are_flagged(name):
    assert looks_secret(name, "1")


def test_a_connection_string_password_is_flagged():
    assert looks_secret("DATABASE", "host=db user=u password=hunter2")


@pytest.mark.parametrize(
    "name", ["BYPASS", "MONKEY", "KEYBOARD_LAYOUT", "TOKENIZERS_PARALLELISM"]
)
def test_lookalike_names_are_not_flagged(name):
    assert not looks_secret(name, "1")
