"""A variable whose name only holds a secret's word is judged by its value.

MAX_TOKENS, PASS_K, SORT_KEY and AUTH_MODE are settings of training and data:
with a number, a switch or a short lowercase name they are frozen. A name that
names a secret outright (DB_PASSWORD, API_KEY, HF_TOKEN) never is, whatever
its value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.config import ProjectConfig
from reprobox.envvars import frozen_environment, looks_secret, secret_named_outright
from reprobox.errors import ConfigError

PLAIN_SETTINGS = {
    "MAX_TOKENS": "4096",
    "PASS_K": "5",
    "PASS_RATE": "0.9",
    "SORT_KEY": "len",
    "KEY_COLUMN": "id",
    "PRIMARY_KEY_FIELD": "id",
    "AUTH_MODE": "none",
    "SECRET_SAUCE": "1",
    "SESSION_NAME": "run-1",
    "TOKENS_PER_BATCH": "512",
}
# Names that name a secret outright: refused with any value, plain ones too.
OUTRIGHT = {
    "DB_PASSWORD": "hunter2",
    "API_KEY": "abc123def456ghi",
    "HF_TOKEN": "1",
    "WANDB_API_KEY": "none",
    "AWS_ACCESS_KEY_ID": "id",
    "PRIVATE_KEY_PATH": "len",
    "GOOGLE_APPLICATION_CREDENTIALS": "yes",
    "PGPASSWORD": "5",
    "SENTRY_DSN": "off",
    "DB_PASS": "hunter",
    "WANDB_KEY": "abc",
}


def _cfg(tmp_path: Path, **kwargs) -> ProjectConfig:
    return ProjectConfig(
        root=tmp_path,
        source=tmp_path / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        **kwargs,
    )


@pytest.mark.parametrize(("name", "value"), sorted(PLAIN_SETTINGS.items()))
def test_a_secret_word_with_a_plain_value_is_no_secret(name, value):
    assert secret_named_outright(name) is False
    assert looks_secret(name, value) is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEY_COLUMN", "abc123def456ghi"),
        ("SECRET_SAUCE", "Zx8kLq2mP9"),
        ("AUTH_MODE", "u:pw"),
        ("PASS_K", "hunter2!"),
        ("MAX_TOKENS", "hf_" + "aB3d" * 8),
    ],
)
def test_the_same_names_with_a_random_value_are_secrets(name, value):
    assert looks_secret(name, value) is True


@pytest.mark.parametrize(("name", "value"), sorted(OUTRIGHT.items()))
def test_a_name_that_names_a_secret_is_one_whatever_its_value(name, value):
    assert secret_named_outright(name) is True
    assert looks_secret(name, value) is True


def test_env_table_and_pass_env_freeze_plain_settings(tmp_path):
    names = tuple(sorted(PLAIN_SETTINGS))
    cfg = _cfg(tmp_path, env=dict(PLAIN_SETTINGS))
    env, warnings = frozen_environment(cfg, {})
    assert env == dict(sorted(PLAIN_SETTINGS.items())) and warnings == []
    env, warnings = frozen_environment(_cfg(tmp_path, pass_env=names), PLAIN_SETTINGS)
    assert env == dict(sorted(PLAIN_SETTINGS.items())) and warnings == []


def test_env_table_still_refuses_a_password_of_plain_letters(tmp_path):
    with pytest.raises(ConfigError) as info:
        frozen_environment(_cfg(tmp_path, env={"DB_PASSWORD": "hunter2"}), {})
    assert info.value.key == "env.DB_PASSWORD"


@pytest.mark.parametrize(
    "name, value, secret",
    [
        ("DB_PW", "Zq8wLm3nRt5vXy04", True),
        ("MYSQL_PW", "hunter2", True),
        ("SIGNING_SALT", "Zq8wLm3nRt5vXy19", True),
        ("PW_MODE", "fast", False),
        ("PWM_DUTY", "50", False),
        ("POWER", "9", False),
    ],
)
def test_pw_and_salt_names_are_secrets_names(name, value, secret):
    # bo F3: *_PW and *_SALT values reached the record, log and registry.
    assert looks_secret(name, value) is secret
