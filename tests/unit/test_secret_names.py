"""Option and variable names that hold a credential, and the look-alikes that do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.config import ProjectConfig
from reprobox.envvars import command_holds_secret, frozen_environment
from reprobox.errors import ConfigError

# (option, caught): an option that ends in key, bearer or cred(s) as a word of
# its own holds a secret; a key of data (sort, partition, rng) does not.
OPTIONS = [
    ("--wandb-key", True),
    ("--wandb_key", True),
    ("--wandbKey", True),
    ("--bearer", True),
    ("--auth-bearer", True),
    ("--creds", True),
    ("--gcp-cred", True),
    ("--key", True),  # bare: tools name their API key so
    ("--api-key", True),
    ("--access-key", True),
    ("--private-key", True),
    ("--auth-token", True),
    ("--secret", True),
    ("--credentials", True),
    ("--auth", True),  # --auth user:pw, as httpie and many HTTP tools take it
    ("--basic-auth", True),
    ("--http_auth", True),
    ("--proxyAuth", True),
    ("--password", True),
    ("--passwd", True),
    ("--token", True),
    ("--keyword", False),
    ("--key-column", False),
    ("--sort-key", False),
    ("--partition-key", False),
    ("--rng-key", False),
    ("--metric-key", False),
    ("--monkey", False),
    ("--max-keys", False),
    ("--keys", False),
    ("--turnkey", False),
    ("--sacred", False),
    ("--eos-token", False),
    ("--auth-type", False),
    ("--author", False),
    ("-p", False),  # too common (port, patience, path) to be taken for one
]


@pytest.mark.parametrize(("option", "caught"), OPTIONS)
def test_option_names(option, caught):
    assert command_holds_secret(["python", "train.py", option, "X"]) is caught
    assert command_holds_secret(["python", "train.py", f"{option}=X"]) is caught


def test_an_option_named_for_a_secret_without_a_value_is_no_secret():
    command = ["python", "train.py", "--bearer", "--epochs", "3"]
    assert command_holds_secret(command) is False


@pytest.mark.parametrize("switch", ["--no-auth", "--no-token", "--no_api_key"])
def test_a_negated_switch_takes_no_value(switch):
    # argparse's --no-X is a switch: the argument after it is a positional.
    assert command_holds_secret(["python", "train.py", switch, "data/"]) is False
    assert command_holds_secret(["python", "train.py", f"{switch}=s3cr3t"]) is True


def _cfg(tmp_path: Path, env: dict[str, str]) -> ProjectConfig:
    return ProjectConfig(
        root=tmp_path,
        source=tmp_path / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        env=env,
    )


# (variable, caught) as written under [env], each with the plain value "X".
VARIABLES = [
    ("CREDS", True),
    ("GCP_CREDS", True),
    ("CRED", True),
    ("BEARER", True),
    ("AUTH_BEARER", True),
    ("WANDB_KEY", True),
    ("GOOGLE_APPLICATION_CREDENTIALS_JSON", True),
    ("HF_TOKEN", True),
    ("KEYBOARD", False),
    ("MONKEY", False),
    ("PYTHONHASHSEED", False),
    ("TF_ENABLE_ONEDNN_OPTS", False),
    ("CUDA_VISIBLE_DEVICES", False),
    ("SACRED_DIR", False),
    ("TOKENIZERS_PARALLELISM", False),
]


@pytest.mark.parametrize(("name", "caught"), VARIABLES)
def test_env_names(tmp_path, name, caught):
    cfg = _cfg(tmp_path, {name: "X"})
    if caught:
        with pytest.raises(ConfigError, match="looks like a secret"):
            frozen_environment(cfg, {})
    else:
        env, _ = frozen_environment(cfg, {})
        assert env == {name: "X"}
