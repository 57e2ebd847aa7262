"""Credential files that stay out of the image, and keys in large files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reprobox.config import load_config
from reprobox.credential_files import TEXT_SCAN_LIMIT
from reprobox.image_files import is_image_file, project_files

KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)

CREDENTIAL_FILES = [
    ".azure/msal_token_cache.json",
    ".boto",
    ".s3cfg",
    ".oci/config",
    ".databrickscfg",
    ".dockercfg",
    ".kaggle/kaggle.json",
    "sub/kaggle.json",
    ".vault-token",
    ".cache/huggingface/token",
    ".huggingface/token",
    ".terraformrc",
    ".my.cnf",
    ".config/gh/hosts.yml",
    "sub/.config/rclone/rclone.conf",
    "SUB/.Azure/x.json",
]


def project(tmp_path: Path, files: list[str] = ()) -> Path:
    """Make a project holding train.py and the given files (each says secret)."""
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("secret\n")
    return tmp_path


def test_credential_files_stay_out_of_the_image(tmp_path):
    root = project(tmp_path, CREDENTIAL_FILES)
    assert project_files(load_config(root)) == ["train.py"]
    for rel in CREDENTIAL_FILES:
        assert not is_image_file(root, rel), rel


def test_a_reproboxignore_line_cannot_put_them_back(tmp_path):
    root = project(tmp_path, [".boto", ".kaggle/kaggle.json"])
    (root / ".reproboxignore").write_text("!.boto\n!.kaggle/\n!.kaggle/kaggle.json\n")
    assert project_files(load_config(root)) == ["train.py"]


@pytest.mark.parametrize("offset", [(1 << 20) + 1, 5 << 20])
def test_a_key_in_a_file_over_one_mib_stays_out(tmp_path, offset):
    root = project(tmp_path, [])
    (root / "weights.bin").write_bytes(b"\0" * offset + KEY + b"\0" * 100)
    (root / "plain.bin").write_bytes(b"\0" * offset)
    assert project_files(load_config(root)) == ["plain.bin", "train.py"]
    assert not is_image_file(root, "weights.bin")


def test_a_key_split_across_two_reads_of_a_large_file_is_found(tmp_path):
    root = project(tmp_path, [])
    (root / "weights.bin").write_bytes(b"\0" * ((2 << 20) - 10) + KEY)
    assert project_files(load_config(root)) == ["train.py"]


# Copies of credential files under other names, found by what they hold.
COPIES_BY_CONTENT = {
    "env_backup.txt": "API_KEY=BBSECRETdot52\n",
    "config.env.bak": "# prod\nexport WANDB_API_KEY='BBSECRETenv'\nDEBUG=1\n",
    "netrc": "machine y password BBSECRETnetrc54\n",
    "logins.txt": "# hosts\nmachine a.example.com\n  login me\n  password BBSECRETnl\n",
    "sa_nopem.json": (
        '{"type": "service_account", "project_id": "p", "private_key_id": "abc", '
        '"private_key": "BBSECRETsanopem17", "client_email": '
        '"x@p.iam.gserviceaccount.com", "client_id": "1"}\n'
    ),
    "gcp-sa.json": '{"type": "service_account", "private_key": "BBSECRETsa07"}',
    "adc.json": (
        '{\n  "type": "authorized_user",\n  "client_id": "1",\n'
        '  "refresh_token": "BBSECRETrt"\n}\n'
    ),
    "aws.ini": (
        "[default]\naws_access_key_id = AKIAABCDEFGHIJKLMNOP\n"
        "aws_secret_access_key = BBSECRETaws\n"
    ),
    "aws_config.ini": "[profile x]\nregion = eu-west-1\naws_secret_access_key=Q\n",
    "secrets.yaml": "db:\n  host: h\n  password: BBSECRETyaml\n",
    "deploy.yml": "wandb:\n  project: p\n  wandb_key: 'BBSECRETwk'\n",
    "utf16.env.txt": "\ufeffHF_TOKEN=BBSECRETu16\n",
}


def plant(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        codec = "utf-16" if "utf16" in rel else "utf-8"
        (root / rel).write_text(text.removeprefix("\ufeff"), encoding=codec)


def test_settings_saved_as_utf16_without_a_byte_order_mark_stay_out(tmp_path):
    # Some Windows tools write UTF-16 with no BOM: a NUL in every other byte.
    root = project(tmp_path)
    text = "[db]\r\nhost=h\r\npassword=BBSECRETu16le\r\n"
    (root / "db-le.ini").write_bytes(text.encode("utf-16-le"))
    (root / "db-be.ini").write_bytes(text.encode("utf-16-be"))
    # Plain settings in the same encoding, and binary data with NULs, go in.
    (root / "plain-le.ini").write_bytes("[run]\r\nlr=0.1\r\n".encode("utf-16-le"))
    (root / "ids.bin").write_bytes(bytes(range(256)) * 4)
    (root / "counts.u16").write_bytes(b"\x01\x00\x02\x00\x00\x00" * 50)
    assert project_files(load_config(root)) == [
        "counts.u16",
        "ids.bin",
        "plain-le.ini",
        "train.py",
    ]
    assert not is_image_file(root, "db-le.ini")


# An .npmrc's registry logins and compose's environment list, under any name.
NPM_AND_COMPOSE_COPIES = {
    "npmrc.txt": "//registry.npmjs.org/:_authToken=BBSECRETnpm\n",
    "npmrc-auth": (
        "registry=https://npm.example.com/\nalways-auth=true\n"
        "//npm.example.com:8443/repo/:_auth=dXNlcjpCQlNFQ1JFVA==\n"
    ),
    "npmrc-password": (
        "; team\n//npm.example.com/:username=me\n"
        "//npm.example.com/:_password=QkJTRUNSRVRwdw==\n"
    ),
    "compose.yaml": (
        "services:\n  db:\n    image: postgres:16\n    environment:\n"
        "      - POSTGRES_PASSWORD=BBSECRETcompose\n      - POSTGRES_DB=app\n"
    ),
    "compose-quoted.yml": (
        'services:\n  app:\n    environment:\n      - "WANDB_API_KEY=BBSECRETq"\n'
    ),
    "compose-map.yaml": (
        "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: BBSECRETmap\n"
    ),
}
# The same shapes without a secret written out go in.
NPM_AND_COMPOSE_ORDINARY = {
    "npmrc-ref.txt": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
    "npmrc-plain": "registry=https://npm.example.com/\nsave-exact=true\n",
    "compose-ref.yaml": (
        "services:\n  db:\n    environment:\n"
        "      - POSTGRES_PASSWORD=${DB_PASSWORD}\n      - POSTGRES_DB=app\n"
        "    ports:\n      - 5432:5432\n"
    ),
    "environment.yml": (
        "name: ml\nchannels:\n  - pytorch\ndependencies:\n  - python=3.11\n"
        "  - pytorch::pytorch=2.1\n  - pip:\n    - transformers==4.40\n"
    ),
    # Pins of packages named for a secret's word (auth), conda's and pip's.
    "environment-gpu.yml": (
        "name: ml\ndependencies:\n  - python=3.11\n  - google-auth=2.11\n"
        "  - pip:\n    - google-auth==2.11.0\n    - auth==0.5\n"
        "    - requests-oauthlib==1.3\n"
    ),
    "CHANGES.md": "# Changes\n\n- token: refresh fixed\n- password reset page\n",
    "webpack.config.js": (
        "// see //registry.npmjs.org/:_authToken=abc\nmodule.exports = {};\n"
    ),
}


def test_npm_logins_and_compose_environment_lists_stay_out(tmp_path):
    root = project(tmp_path)
    plant(root, NPM_AND_COMPOSE_COPIES)
    plant(root, NPM_AND_COMPOSE_ORDINARY)
    assert project_files(load_config(root)) == sorted(
        [*NPM_AND_COMPOSE_ORDINARY, "train.py"]
    )
    for rel in NPM_AND_COMPOSE_COPIES:
        assert not is_image_file(root, rel), rel


def test_copies_of_credential_files_stay_out_whatever_their_names(tmp_path):
    root = project(tmp_path)
    plant(root, COPIES_BY_CONTENT)
    assert project_files(load_config(root)) == ["train.py"]
    for rel in COPIES_BY_CONTENT:
        assert not is_image_file(root, rel), rel


# Code, prose and settings that name secrets without holding one stay in.
ORDINARY_FILES = {
    "train.py": 'import os\n\npassword = os.environ["X"]\nprint(len(password))\n',
    "settings.py": 'API_KEY = os.environ["API_KEY"]\nTOKEN = get_token()\n',
    "README.md": "# Model\n\nSet api_key: in your shell, or password=... in .env.\n",
    "docs/netrc.md": "Write:\n\n    machine host login me password pw\n",
    "run.env.txt": "PYTHONHASHSEED=0\nCUDA_VISIBLE_DEVICES=0\nOMP_NUM_THREADS=4\n",
    "refs.env.txt": "WANDB_API_KEY=${WANDB_API_KEY}\nHF_TOKEN=\n",
    "config.yaml": "lr: 0.1\nsort_key: date\nkey: image\npad_token: '<pad>'\n",
    "hydra.yaml": "wandb:\n  api_key: ${oc.env:WANDB_API_KEY}\n  token: null\n",
    "setup.cfg": "[tool:pytest]\naddopts = -q\npass_env = HOME\n",
    "tokenizer_config.json": '{"eos_token": "</s>", "model_max_length": 512}\n',
    "sa_template.json": '{"type": "service_account", "private_key": ""}\n',
    "labels.csv": "key,password_strength\na,1\n",
    "requirements.txt": "numpy==2.0.0\ntorch>=2\n",
}


def test_ordinary_files_that_mention_secrets_go_in(tmp_path):
    root = project(tmp_path)
    plant(root, ORDINARY_FILES)
    assert project_files(load_config(root)) == sorted(ORDINARY_FILES)
    for rel in ORDINARY_FILES:
        assert is_image_file(root, rel), rel


def test_a_large_settings_file_is_not_read_for_text_shapes(tmp_path):
    # The bound that keeps data files cheap: past it only keys are looked for.
    root = project(tmp_path)
    big = "x=1\n" * (TEXT_SCAN_LIMIT // 4) + "API_KEY=BBSECRETbig\n"
    (root / "big.txt").write_text(big)
    (root / "small.txt").write_text("x=1\nAPI_KEY=BBSECRETsmall\n")
    assert project_files(load_config(root)) == ["big.txt", "train.py"]


@pytest.mark.parametrize(
    "original",
    [".env", ".aws/credentials", ".kaggle/kaggle.json", "Credentials", ".NETRC"],
)
def test_a_hard_link_to_a_credential_file_stays_out(tmp_path, original):
    root = project(tmp_path, [original])  # "secret\n": no shape gives it away
    os.link(root / original, root / "hardlink.txt")
    assert project_files(load_config(root)) == ["train.py"]
    assert not is_image_file(root, "hardlink.txt")


def test_a_hard_link_to_a_file_left_out_for_other_reasons_goes_in(tmp_path):
    # Only credentials make their links stay out: an ignored build folder may
    # well hold hard links to code.
    root = project(tmp_path)
    (root / "build").mkdir()
    (root / "model.py").write_text("X = 1\n")
    os.link(root / "model.py", root / "build/model.py")
    (root / ".reproboxignore").write_text("build/\n")
    assert project_files(load_config(root)) == ["model.py", "train.py"]
    assert is_image_file(root, "model.py")


# Credential JSON under other names: a secret setting at any depth, a Docker
# client config, a Google OAuth client.
DOCKER_AUTH = "dXNlcjpTRUNSRVRaUV9kb2NrZXI="  # base64 of user:SECRETZQ_docker
JSON_COPIES = {
    "creds-copy.json": '{"password": "SECRETZQ_jsonpw"}',
    "wandb.json": '{"api_key": "SECRETZQ_jsonapikey", "other": 1}\n',
    "nested.json": '{"a": {"b": [{"db": {"access_token": "SECRETZQ_deep"}}]}}',
    "registry-auth.json": (
        '{"auths": {"127.0.0.1:5000": {"auth": "' + DOCKER_AUTH + '"}}}'
    ),
    "registry-idtoken.json": (
        '{\n  "auths": {\n    "reg.example.com": {\n'
        '      "identitytoken": "SECRETZQ_idtoken"\n    }\n  }\n}\n'
    ),
    "registry-store.json": (
        '{"auths": {"ghcr.io": {}}, "credsStore": "desktop", '
        '"credHelpers": {"gcr.io": "gcloud"}}'
    ),
    "client_secret.json": (
        '{"installed": {"client_id": "x.apps.googleusercontent.com", '
        '"client_secret": "SECRETZQ_oauth"}}'
    ),
    "oauth-web.json": (
        '{"web": {"client_id": "x.apps.googleusercontent.com", '
        '"client_secret": "SECRETZQ_oauthweb", "redirect_uris": []}}'
    ),
    "utf16-creds.json": '\ufeff{"token": "SECRETZQ_u16json"}',
}

# git's credential store and PostgreSQL's password file under other names.
LINE_STORE_COPIES = {
    "git-credentials-copy": (
        "https://user:SECRETZQ_gitcred@github.com\n"
        "\nhttps://oauth2:SECRETZQ_gl@gitlab.example.com:8443\n"
    ),
    "pgpass-copy": (
        "# prod\nlocalhost:5432:db:user:SECRETZQ_pgpass\n"
        "*:*:*:replicator:SECRETZQ pg\\:colon\n"
    ),
}


@pytest.mark.parametrize("files", [JSON_COPIES, LINE_STORE_COPIES])
def test_credential_json_and_line_stores_stay_out_whatever_their_names(tmp_path, files):
    root = project(tmp_path)
    plant(root, files)
    assert project_files(load_config(root)) == ["train.py"]
    for rel in files:
        assert not is_image_file(root, rel), rel


# JSON with comments and trailing commas, as VS Code and tsconfig write it.
JSONC_COPIES = {
    "settings.jsonc": (
        "// editor settings\n{\n  /* the service */\n"
        '  "url": "https://api.example.com//v1", // two slashes in a string\n'
        '  "api_key": "BBSECRETjsonc", // keep private\n}\n'
    ),
    "launch.json": (
        '{\n  "configurations": [\n    {\n      "name": "train", /* ok */\n'
        '      "env": {"HF_TOKEN": "BBSECRETlaunch",},\n    },\n  ],\n}\n'
    ),
}
JSONC_ORDINARY = {
    "tsconfig.json": (
        '{\n  // strict mode\n  "compilerOptions": {"strict": true,},\n'
        '  "include": ["src/**/*.ts"], /* "password": "x" in a comment */\n}\n'
    ),
    "launch-ref.json": (
        '// refs only\n{"env": {"HF_TOKEN": "${env:HF_TOKEN}", "note": "a // b"}}\n'
    ),
}


def test_json_with_comments_is_read_as_json(tmp_path):
    root = project(tmp_path)
    plant(root, JSONC_COPIES)
    plant(root, JSONC_ORDINARY)
    assert project_files(load_config(root)) == sorted([*JSONC_ORDINARY, "train.py"])
    for rel in JSONC_COPIES:
        assert not is_image_file(root, rel), rel


# XML that writes a secret out in an element: Maven's settings.xml and kin.
XML_COPIES = {
    "settings.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>\n<settings>\n  <servers>\n'
        "    <server><id>x</id><username>u</username>"
        "<password>BBSECRETmaven</password></server>\n  </servers>\n</settings>\n"
    ),
    "maven-copy.xml": (
        "<!-- ci -->\n<s:settings xmlns:s='http://maven.apache.org/SETTINGS/1.0.0'>"
        "<s:server><s:passphrase><![CDATA[BBSECRETcdata]]></s:passphrase>"
        "</s:server></s:settings>\n"
    ),
    "datasource.xml": (
        '<config><db url="jdbc:x"><apiKey>BBSECRET&amp;xml</apiKey></db></config>\n'
    ),
}
# XML that ML and Android projects hold: no secret written out.
XML_ORDINARY = {
    "pom.xml": (
        '<?xml version="1.0"?>\n<project>\n  <modelVersion>4.0.0</modelVersion>\n'
        "  <properties><db.password>${env.DB_PASSWORD}</db.password></properties>\n"
        "  <dependencies><dependency><groupId>org.tokens</groupId>"
        "<artifactId>jwt</artifactId></dependency></dependencies>\n</project>\n"
    ),
    "server-template.xml": "<server><id>x</id><password></password></server>\n",
    "activity_login.xml": (
        '<LinearLayout xmlns:android="http://schemas.android.com/apk/res/android">\n'
        '  <EditText android:inputType="textPassword" android:hint="@string/pw"/>\n'
        "</LinearLayout>\n"
    ),
    "strings.xml": '<resources><string name="password">Password</string></resources>',
    "000001.xml": (
        "<annotation><folder>VOC2012</folder><filename>000001.jpg</filename>"
        "<object><name>dog</name><pose>Left</pose><truncated>0</truncated>"
        "<bndbox><xmin>48</xmin><ymin>240</ymin></bndbox></object></annotation>\n"
    ),
    "corpus.xml": "<s><token>the</token><token>key</token><key>a</key></s>\n",
}


def test_xml_that_writes_out_a_secret_stays_out(tmp_path):
    root = project(tmp_path)
    plant(root, XML_COPIES)
    plant(root, XML_ORDINARY)
    assert project_files(load_config(root)) == sorted([*XML_ORDINARY, "train.py"])
    for rel in XML_COPIES:
        assert not is_image_file(root, rel), rel


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "source": ['api_key = os.environ["WANDB_API_KEY"]\n', "password = 1\n"],
            "outputs": [{"output_type": "stream", "text": ["token: abc\n"]}],
            "execution_count": 1,
        }
    ],
    "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
KERAS_MODEL = {
    "class_name": "Sequential",
    "config": {
        "name": "sequential",
        "layers": [
            {
                "class_name": "Dense",
                "config": {
                    "units": 10,
                    "activation": "relu",
                    "kernel_initializer": {"class_name": "GlorotUniform"},
                },
            }
        ],
    },
    "keras_version": "2.15.0",
    "backend": "tensorflow",
}
COCO = {
    "info": {"description": "COCO 2017", "url": "http://cocodataset.org"},
    "licenses": [{"url": "http://creativecommons.org/licenses/by/2.0/", "id": 1}],
    "images": [{"id": 1, "file_name": "a.jpg", "coco_url": "http://x/a.jpg"}],
    "annotations": [{"id": 1, "image_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0}],
    "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "left_eye"]}],
}
PACKAGE_JSON = {
    "name": "viz",
    "version": "1.0.0",
    "keywords": ["ml"],
    "scripts": {"build": "webpack"},
    "dependencies": {"jsonwebtoken": "^9.0.0", "keytar": "7.9.0"},
    "devDependencies": {"csrf-token": "~1.0.0"},
}
# JSON that ML projects hold: names of keys and tokens of a vocabulary,
# references and placeholders, empty or non-string values.
ORDINARY_JSON = {
    "hparams.json": {
        "tokenizer": "bert-base",
        "max_tokens": 512,
        "key_column": "id",
        "key": "image",
        "vocab": ["[PAD]", "token", "password"],
    },
    "model.json": KERAS_MODEL,
    "instances_val.json": COCO,
    "package.json": PACKAGE_JSON,
    "explore.ipynb": NOTEBOOK,
    "processor_config.json": {
        "image_token": "[IMG]",
        "image_break_token": "[IMG_BREAK]",
        "eos_token": "</s>",
        "boi_token": "<start_of_image>",
        "patch_size": 16,
    },
    "training_args.json": {
        "hub_token": "<HUB_TOKEN>",
        "push_to_hub_token": None,
        "use_auth_token": True,
        "api_key": "${WANDB_API_KEY}",
        "password": "",
    },
    "docker-like.json": {"auths": {"ghcr.io": {"auth": ""}}, "note": "x"},
    "oauth-template.json": {"installed": {"client_id": "x", "client_secret": ""}},
}


def test_ordinary_json_goes_in(tmp_path):
    root = project(tmp_path)
    plant(root, {rel: json.dumps(doc, indent=1) for rel, doc in ORDINARY_JSON.items()})
    assert project_files(load_config(root)) == sorted([*ORDINARY_JSON, "train.py"])
    for rel in ORDINARY_JSON:
        assert is_image_file(root, rel), rel


# Lines that are almost a credential store: not every line holds a password.
ORDINARY_LINE_FILES = {
    "urls.txt": "https://github.com/org/repo\nhttps://user@host/x\n",
    "mixed-urls.txt": "https://u:p@github.com\nsee the README\n",
    "times.txt": "12:30:45\n2024-01-01 10:00:00\n",
    "labels.txt": "cat:dog:bird:fish\n",
    "pg-template": "localhost:5432:db:user:\n",
    "synsets.txt": "n01440764:tench:fish:animal:vertebrate\n",
}


def test_lines_that_only_look_like_a_credential_store_go_in(tmp_path):
    root = project(tmp_path)
    plant(root, ORDINARY_LINE_FILES)
    assert project_files(load_config(root)) == sorted(
        [*ORDINARY_LINE_FILES, "train.py"]
    )


@pytest.mark.parametrize(
    "content, secret",
    [
        ("hf_" + "a1B2" * 8 + "\n", True),  # Hugging Face's token file, copied
        ("sk-ant-api03-" + "x9" * 20, True),
        ("ghp_" + "Z" * 36 + "\n", True),
        ("AKIAABCDEFGHIJKLMNOP\n", True),
        ("0123456789abcdef\n", False),  # a hash or an id, not a published format
        ("model-v3.ckpt\n", False),
        ("hf_ is the prefix of a token\n", False),  # prose about one
    ],
)
def test_a_file_holding_one_bare_token_stays_out(tmp_path, content, secret):
    root = project(tmp_path)
    (root / "token.txt").write_text(content)
    assert ("token.txt" in project_files(load_config(root))) is not secret


# A file whose name names a secret and that holds one random token of no
# published format: a W&B key, a copy of a token file, a service's key.
NAMED_TOKEN_FILES = {
    "wandb_api_key": "3f9a0c2b7d1e4f5a6b8c9d0e1f2a3b4c5d6e7f80\n",
    ".hf_token_copy": "Qm7xLp2Vz9KtR4wYb8NcHs3Jd\n",
    "api_token.txt": "aZ3kP9mQ2xT7vL4nR8sW1yB6cE\n",
    "secret": "Zq4Wm8Rt2Yp6Kx9Nb3Vc7Hd5Lf1\n",
    "keys/service.apikey": "Lp2Vz9KtR4wYb8NcHs3JdQm7x\n",
    "DB_PASSWORD.txt": "  nR8sW1yB6cEaZ3kP9mQ2xT7vL4  \n",
}
# The same names or contents that are no such file.
NAMED_TOKEN_ORDINARY = {
    "tokenizer.json": '{"version": "1.0", "model": {"type": "BPE"}}\n',
    "token_counts.txt": "12\n34\n56\n",
    "secret_santa.py": 'PAIRS = "Qm7xLp2Vz9KtR4wYb8NcHs3Jd"\n',
    "password_policy.md": "Qm7xLp2Vz9KtR4wYb8NcHs3Jd\n",
    "api_token.txt.example": "your-api-token-here\n",
    "token.txt": "refresh\n",
    "api_key_hint.txt": "ask the team lead for it\n",
    "public_key.txt": "Qm7xLp2Vz9KtR4wYb8NcHs3JdLp2Vz9KtR4wYb8N=\n",
    "cache_key.txt": "916dbcbb3f70747c44a77c7bcd40155683ae19c65e1c03b4aa3499c53282\n",
    "run_token_short.txt": "aZ3kP9mQ2x\n",
    "tokens.txt": "Qm7xLp2Vz9KtR4wYb8NcHs3Jd\n",
    "session.txt": "Qm7xLp2Vz9KtR4wYb8NcHs3Jd\n",
}


def test_a_file_named_for_a_secret_holding_one_random_token_stays_out(tmp_path):
    root = project(tmp_path)
    plant(root, NAMED_TOKEN_FILES)
    plant(root, NAMED_TOKEN_ORDINARY)
    assert project_files(load_config(root)) == sorted(
        [*NAMED_TOKEN_ORDINARY, "train.py"]
    )
    for rel in NAMED_TOKEN_FILES:
        assert not is_image_file(root, rel), rel


def test_redis_config_with_a_password_stays_out(tmp_path):
    root = project(tmp_path)
    plant(
        root,
        {
            "redis.conf": "port 6379\nrequirepass Kq8vN2pXr7LmZ4tY\n",
            "replica.conf": 'port 6380\nmasterauth "Kq8vN2pXr7LmZ4tY"\n',
            # redis ships its example commented out, and as foobared.
            "redis-sample.conf": "port 6379\n# requirepass Kq8vN2pXr7LmZ4tY\n",
            "redis-example.conf": "port 6379\nrequirepass foobared\n",
            "redis-empty.conf": 'port 6379\nrequirepass ""\n',
        },
    )
    assert project_files(load_config(root)) == [
        "redis-empty.conf",
        "redis-example.conf",
        "redis-sample.conf",
        "train.py",
    ]
