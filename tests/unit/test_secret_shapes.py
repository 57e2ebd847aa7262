"""Credentials recognised by their shape, their use, or their place in a command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprobox.config import ProjectConfig, load_config
from reprobox.credential_files import secret_value
from reprobox.envvars import command_holds_secret, frozen_environment, looks_secret
from reprobox.errors import ConfigError
from reprobox.freeze import freeze_project


def _cfg(tmp_path: Path, **kwargs) -> ProjectConfig:
    return ProjectConfig(
        root=tmp_path,
        source=tmp_path / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        **kwargs,
    )


@pytest.mark.parametrize(
    "value",
    [
        # key=value connection strings naming a key, secret, password or signature
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=bXlrZXk=;"
        "EndpointSuffix=core.windows.net",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
        "SharedAccessKey=c2VjcmV0",
        "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=1",
        "Server=db;Database=app;Uid=u;Pwd=hunter2;",
        "client_secret=abc123 client_id=app",
        '{"type": "service", "private_key": "abc"}',
        # a password in a URL, with or without a user
        "redis://:s3cret@cache.internal:6379/0",
        "amqp://guest:guest@mq/",
        # URLs that are a credential by themselves
        "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX",
        "https://discord.com/api/webhooks/123/abcdef",
        "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y",
        "https://api.telegram.org/bot123456:ABCDEF/sendMessage",
        # well-known token prefixes
        "xoxb-1234567890-abcdefghij",
        "xapp-1-A0000-1234567890-abcdef",
        "sk_live_abcdefghijklmnop1234",
        "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "dapi0123456789abcdef0123456789abcdef",
        "ya29.a0AfH6SMBabcdefghijklmnopqrstuvwxyz",
        "Authorization: Bearer abcdefghijklmnop",
    ],
)
def test_credential_shapes_look_secret_whatever_the_name(value):
    assert looks_secret("MY_SETTING", value) is True


@pytest.mark.parametrize(
    "value",
    [
        "--xla_gpu_deterministic_ops=true --xla_dump_to=/tmp/x",
        "--eos_token=</s> --pad_token=<pad>",
        "--max_tokens=512",
        "sort_key=date",
        "redis://cache.internal:6379/0",
        "https://hooks.example.com/services/x",
        "user@example.com",
    ],
)
def test_lookalikes_do_not(value):
    assert looks_secret("MY_SETTING", value) is False


def test_connection_string_in_pass_env_is_not_frozen(tmp_path):
    cfg = _cfg(tmp_path, pass_env=("AZURE_STORAGE", "REDIS_URL", "HOOK_URL"))
    environ = {
        "AZURE_STORAGE": "AccountName=a;AccountKey=bXlrZXk=",
        "REDIS_URL": "redis://:pw@h:6379",
        "HOOK_URL": "https://hooks.slack.com/services/T0/B0/X",
    }
    env, warnings = frozen_environment(cfg, environ)
    assert env == {}
    assert len(warnings) == 3


def test_index_credential_in_pass_env_is_not_frozen(tmp_path):
    cfg = _cfg(
        tmp_path,
        pass_env=("BRKE_TOK", "SAME_VALUE", "PLAIN"),
        extra_index_urls=("https://pkgs.example/${BRKE_TOK}/simple/",),
    )
    environ = {"BRKE_TOK": "abc123plain", "SAME_VALUE": "abc123plain", "PLAIN": "1"}
    env, warnings = frozen_environment(cfg, environ)
    assert env == {"PLAIN": "1"}
    assert any("BRKE_TOK is a credential of the package indexes" in w for w in warnings)
    assert any("SAME_VALUE is a credential" in w for w in warnings)
    assert not any("abc123plain" in w for w in warnings)


@pytest.mark.parametrize(
    "command",
    [
        ["python", "train.py", "--password=hunter2"],
        ["python", "train.py", "--token=abc"],
        ["python", "train.py", "--api-key", "abc"],
        ["python", "train.py", "--hf_token", "abc"],
        ["env", "WANDB_API_KEY=abc", "python", "train.py"],
        ["python", "train.py", "wandb.api_key=abc"],
    ],
)
def test_command_secrets_are_found(command):
    assert command_holds_secret(command) is True


@pytest.mark.parametrize(
    "command",
    [
        ["python", "train.py", "--max-tokens", "512"],
        ["python", "train.py", "--eos-token", "</s>"],
        ["python", "train.py", "--token-budget", "5"],
        ["env", "OMP_NUM_THREADS=4", "python", "train.py", "--lr=0.1"],
        ["python", "train.py", "--use-token", "--epochs", "3"],
    ],
)
def test_ordinary_commands_are_not_flagged(command):
    assert command_holds_secret(command) is False


HF = "hf_" + "aB3d" * 8
# A secret in the command: a secret-named option's value, or a token of a
# published format anywhere in an argument (the shapes a bare token file has).
COMMAND_SECRETS = [
    (["python", "train.py", "--auth", "me:s3cr3tAuth"], "s3cr3tAuth"),
    (["python", "train.py", "--auth=me:s3cr3tAuth"], "s3cr3tAuth"),
    (["python", "train.py", "--api-key", "s3cr3tKey"], "s3cr3tKey"),
    (["python", "-c", f"tok='{HF}'"], HF),
    (["python", "-c", "import x; x.login('ghp_" + "Q" * 36 + "')"], "Q" * 36),
    (["python", "train.py", "--sk=sk-" + "R" * 24], "R" * 24),
    (["sh", "-c", "AWS=AKIAABCDEFGHIJKLMNOP python train.py"], "AKIAABCDEFGHIJKLMNOP"),
]


@pytest.mark.parametrize(("command", "secret"), COMMAND_SECRETS)
def test_freeze_refuses_a_secret_in_the_command_without_showing_it(
    tmp_path, fake_lock, command, secret
):
    (tmp_path / "reprobox.toml").write_text(
        f"command = {json.dumps(command)}\n"
        'base_image = "reprobox-base:bookworm-py3.11"\n'
    )
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    with pytest.raises(ConfigError) as caught:
        freeze_project(load_config(tmp_path), environ={})
    assert caught.value.key == "command"
    assert "reprobox run --env" in caught.value.hint
    shown = str(caught.value)  # the message and its hint, as the CLI prints them
    assert "\n" not in shown and secret not in shown


@pytest.mark.parametrize(
    "command",
    [
        ["python", "train.py", "-p", "8080"],  # -p is left alone: too common
        ["python", "train.py", "--auth-type", "basic"],
        ["python", "train.py", "--no-auth", "data/"],
        ["python", "-c", "print('hf_ is a prefix')"],
        ["python", "train.py", "--run-id", "sk-1"],
    ],
)
def test_commands_that_only_look_close_to_a_secret_are_not_flagged(command):
    assert command_holds_secret(command) is False


HEX32 = "0123456789abcdef" * 2
# One of each published format, as the services hand them out.
PUBLISHED_TOKENS = [
    "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "api_org_" + "aBcD1234" * 4,
    "dop_v1_" + HEX32 * 2,
    "doo_v1_" + HEX32 * 2,
    "dor_v1_" + HEX32 * 2,
    "shpat_" + HEX32,
    "shpss_" + HEX32,
    "shpca_" + HEX32,
    "shppa_" + HEX32,
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "ATATT3xFfGF0" + "aB3_-x" * 30 + "=0A1B2C3D",
    "lin_api_" + "aB3dE6gH9" * 5,
    "dapi" + HEX32,
    "dapi" + HEX32 + "-2",
    "SK" + HEX32.upper(),
    "AC" + HEX32,
    "key-" + HEX32,
    "MTA5NzE4NjU0MzIxMDk4NzY1.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789",
    "xoxp-1234567890-abcdefghij",
    "xoxs-1234567890-abcdefghij",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
]


@pytest.mark.parametrize("token", PUBLISHED_TOKENS)
def test_published_token_formats_look_secret(token):
    assert looks_secret("MY_SETTING", token) is True
    assert looks_secret("MY_SETTING", f"--header=x-api-key:{token}") is True


@pytest.mark.parametrize(
    "value",
    [
        # digests and ids that only resemble a format
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "ac" + HEX32,  # Twilio's prefixes are capitals
        "ACx" + HEX32,
        "sk" + HEX32,
        "AC" + HEX32 + "ff",  # longer than a Twilio id
        "dapi" + HEX32 + "0",
        "monkey-" + HEX32,
        "asia-northeast1",
        "AKIAIOSFODNN7EXAMPL",  # one short
        "my_AKIAIOSFODNN7EXAMPLE",  # inside a longer word
        "Model.config.attribute_name_long_enough_xx",
        "AIza-is-the-prefix-of-a-google-key",
        "api_org_",
    ],
)
def test_lookalikes_of_published_formats_do_not(value):
    assert looks_secret("MY_SETTING", value) is False


@pytest.mark.parametrize(
    "value",
    [
        "machine pypi.example login u password hunter2x",
        "token: abc123def",
        '{"auths": {"r.example": {"auth": "dTpwdw=="}}}',
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
        # base64 of a PEM private key, as Kubernetes secrets keep one
        "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0KYjNCbGJuTnphQzFyWlhrPQo=",
    ],
)
def test_values_that_read_as_a_credential_file_are_secret(tmp_path, value):
    assert secret_value("NOTE", value) is True
    cfg = _cfg(tmp_path, pass_env=("NOTE",))
    env, warnings = frozen_environment(cfg, {"NOTE": value.replace("\n", " ")})
    assert "NOTE" not in env and warnings == [
        "pass_env: NOTE looks like a secret and is never written; "
        "give it at run time with `reprobox run --env NAME`"
    ]
    with pytest.raises(ConfigError, match="looks like a secret"):
        frozen_environment(_cfg(tmp_path, env={"NOTE": value}), {})


@pytest.mark.parametrize(
    "value",
    [
        "machine learning",
        "model: gpt2",
        "DEBUG",
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==",  # base64 of a certificate
        "https://download.pytorch.org/whl/cu121",
    ],
)
def test_ordinary_values_are_not_secret(tmp_path, value):
    assert secret_value("NOTE", value) is False
    env, _ = frozen_environment(_cfg(tmp_path, env={"NOTE": value}), {})
    assert env == {"NOTE": value}
