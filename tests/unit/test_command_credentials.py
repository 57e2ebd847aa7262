"""Command lines that log in with the secret written out, and script lines
that set one: in a .sh, a Makefile, a Dockerfile or a notebook's ! and % lines."""

from __future__ import annotations

import pytest

from reprobox.credential_lines import credential_on_line

R = "Xk9mP2qR7vL4nT8wZ3jD"
WANDB_KEY = "3f9a1c7e5b2d8046a9e1f3c5b7d9024e6a8c1f3b"
COMMAND = "a secret passed on a command line"
SCRIPT = "a secret set by a script line"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f"%env WANDB_API_KEY={R}", SCRIPT),
        (f"%env WANDB_API_KEY {R}", SCRIPT),
        (f"!huggingface-cli login --token {R}", COMMAND),
        (f"!wandb login {WANDB_KEY}", COMMAND),
        (f"huggingface-cli login --token {R}", COMMAND),
        (f"hf auth login --token={R} --add-to-git-credential", COMMAND),
        (f"wandb login --relogin {R}", COMMAND),
        (f"docker login -u ci -p {R} registry.example", COMMAND),
        (f'mysqldump --user=ci --password "{R}" runs', COMMAND),
        (f"curl -u admin:{R} https://api.example/v1", COMMAND),
        (f"ENV API_KEY={R}", SCRIPT),
        (f"ENV API_KEY {R}", SCRIPT),
        (f"ARG TOKEN={R}", SCRIPT),
        (f"ENV PATH=/opt/bin:$PATH WANDB_API_KEY={R}", SCRIPT),
        ("ENV DB_PASSWORD=hunter2hunter2", SCRIPT),
    ],
)
def test_a_login_or_setting_with_the_secret_written_is_found(line, kind):
    assert credential_on_line(f"#!/bin/sh\n{line}\necho done\n") == (2, kind)


@pytest.mark.parametrize(
    "line",
    [
        "%env WANDB_API_KEY=$KEY",
        "%env WANDB_MODE offline",
        "!huggingface-cli login --token $HF_TOKEN",
        "huggingface-cli login --token <your-token>",
        "wandb login --relogin",
        "wandb login --host https://wandb.example",
        'docker login -u ci -p "$CI_REGISTRY_PASSWORD" registry.example',
        "docker login -u ci --password-stdin registry.example",
        "curl -u user:pass https://api.example/v1",
        "curl -u $USER:$TOKEN https://api.example/v1",
        "docker run -u 1000:1000 image",
        'parser.add_argument("--token", default=None)',
        'python train.py --eos_token "<|endoftext|>" --run-name a1B2c3D4e5F6g7',
        "python train.py --pad_token_id 50256 --max-tokens 4096",
        "ENV PATH=/opt/conda/bin:$PATH",
        "ENV LANG C.UTF-8",
        "ARG TOKEN",
        "ARG BASE_IMAGE=python:3.11-slim",
        "ENV API_KEY=${API_KEY}",
        # ENV sets a project's settings: judged as a settings file's are.
        'ENV AUTH_MODE="none" \\\n    KEY_COLUMN="id"',
        "ENV TOKEN_LIMIT=4096 SESSION_TIMEOUT=30m",
    ],
)
def test_the_same_lines_without_a_secret_are_not(line):
    assert credential_on_line(f"#!/bin/sh\n{line}\necho done\n") is None


HEADER = "a secret in a request header"


@pytest.mark.parametrize(
    "line",
    [
        f'curl -H "X-API-Key: {R}" https://api.example/v1',
        f"curl -H 'PRIVATE-TOKEN: {R}' https://gitlab.example/api/v4/projects",
        f'wget --header="apikey: {R}" https://api.example/v1',
        f"curl --header 'X-Auth-Token: {R}' https://api.example/v1",
        f"curl -H X-Api-Key:{R} https://api.example/v1",
        f'curl -H "Ocp-Apim-Subscription-Key: {R}" https://x.azure-api.net/',
        f'HEADERS=("x-goog-api-key: {R}")',
    ],
)
def test_a_header_that_names_a_key_or_token_is_found(line):
    assert credential_on_line(f"#!/bin/sh\n{line}\necho done\n") == (2, HEADER)


@pytest.mark.parametrize(
    "line",
    [
        'curl -H "X-API-Key: $API_KEY" https://api.example/v1',
        'curl -H "X-API-Key: ${API_KEY}" https://api.example/v1',
        "curl -H 'PRIVATE-TOKEN: <your_access_token>' https://gitlab.example/api",
        'curl -H "X-Api-Key: YOUR_API_KEY" https://api.example/v1',
        'curl -H "Content-Type: application/json" -H "X-Request-Id: a1B2c3D4e5F6g7H8"',
        'wget --header="apikey: 1234567890abcdef1234" https://api.example/v1',
        'headers = [f"X-API-Key: {key}"]',
        'log.info("token: %s", masked)',
        'print("key: val_loss_2024_best")',
        'echo "time: 2024-05-01T12:30:45Z"',
        'curl -H "X-API-Key: changeme-please-2024" https://api.example/v1',
    ],
)
def test_the_same_headers_without_a_secret_are_not(line):
    assert credential_on_line(f"#!/bin/sh\n{line}\necho done\n") is None


def test_a_key_given_on_the_line_after_its_keyword_is_found():
    text = f'import wandb\nwandb.login(key=\\\n    "{R}")\n'
    assert credential_on_line(text) == (3, "a secret assigned in code")
    text = f'import wandb\nwandb.login(anonymous="never", key=\\\n    "{R}")\n'
    assert credential_on_line(text) == (3, "a secret assigned in code")
    # A call's argument that is no secret's name, or a comparison, is none.
    assert credential_on_line(f'check(model_name=\\\n    "{R}")\n') is None
    assert credential_on_line(f'assert key == \\\n    "{R}"\n') is None
