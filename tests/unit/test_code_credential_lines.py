"""Credentials that code writes out: a bearer header, os.environ, YAML items.

Each shape has neighbours that must pass: the same line with a variable, a
template slot or a placeholder where the secret would be.
"""

from __future__ import annotations

import pytest

from reprobox.credential_files import holds_credentials
from reprobox.credential_lines import credential_on_line

TOKEN = "aB3dEf9hJkLmNoPqRsTuVwXyZ0123456789abcde"  # no published format

WRITTEN = [
    (f'curl -H "Authorization: Bearer {TOKEN}" https://api\n', "Authorization"),
    (f'r = get(u, headers={{"Authorization": "Bearer {TOKEN}"}})\n', "Authorization"),
    (f"headers = {{'authorization': 'token {TOKEN}'}}\n", "Authorization"),
    ('os.environ["WANDB_API_KEY"] = "abc123xyz789"\n', "os.environ"),
    ("os.environ['DB_PASS'] = 'hunter2x'\n", "os.environ"),
    ('os.environ.setdefault("HF_TOKEN", "abc123xyz789")\n', "os.environ"),
]
NOT_WRITTEN = [
    'headers = {"Authorization": f"Bearer {token}"}\n',
    'curl -H "Authorization: Bearer $TOKEN" https://api\n',
    'curl -H "Authorization: Bearer ${API_TOKEN}" https://api\n',
    'headers = {"Authorization": "Bearer " + token}\n',
    "# Authorization: Bearer <your token>\n",
    'os.environ["WANDB_API_KEY"] = key\n',
    'os.environ["WANDB_API_KEY"] = ""\n',
    'os.environ["HF_TOKEN"] = "<your token>"\n',
    'os.environ["WANDB_MODE"] = "offline"\n',
    'os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")\n',
]


@pytest.mark.parametrize(("line", "kind"), WRITTEN)
def test_code_that_writes_a_credential_out_is_found(line, kind):
    found = credential_on_line("import os\n" + line)
    assert found is not None and found[0] == 2 and kind in found[1]


@pytest.mark.parametrize("line", NOT_WRITTEN)
def test_code_that_takes_it_from_elsewhere_is_not(line):
    assert credential_on_line("import os\n" + line) is None


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("users.yaml", "users:\n  - password: hunter2x\n"),
        ("tokens.yml", "- token: abcdef123456\n"),
        ("db.ini", "[db]\nhost = db\n# password=hunter2x\n"),
        (".config.ini", "[db]\nhost = db\n; DB_PASS = hunter2x\n"),
        # YAML's own form commented out, as its = form is.
        ("a.yaml", "model: resnet\n# password: Kq8vN2pXr7LmZ4tY\n"),
        ("b.yaml", "model: resnet\n# api_key: Kq8vN2pXr7LmZ4tY\n"),
        ("c.yml", "model: resnet\n#password: Kq8vN2pXr7LmZ4tY\n"),
        ("d.yaml", "db:\n  host: h\n  # password: hunter2x\n"),
        ("e.yaml", "model: resnet\n# wandb_key: 'Kq8vN2pXr7LmZ4tY'\n"),
    ],
)
def test_yaml_items_and_commented_secrets_make_a_credential_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert holds_credentials(path) is True


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("notes.txt", "- token: refresh fixed\n- password: reset works\n"),
        ("steps.yaml", "steps:\n  - name: train\n  - lr: 0.1\n  - max_tokens: 512\n"),
        ("db.ini", "[db]\nhost = db\n# the password = see the vault\n"),
        ("env.ini", "[db]\nhost = db\n# password=${DB_PASSWORD}\n"),
        # A comment that documents a field names its kind, not its value.
        ("fields.yaml", "model: resnet\n# token: str\n# password: Required\n"),
        ("refs.yaml", "model: resnet\n# api_key: ${WANDB_API_KEY}\n"),
        ("none.yaml", "model: resnet\n# password: None\n# secret: true\n"),
        ("counts.yaml", "model: resnet\n# max_tokens: 512\n# token: 4096\n"),
        ("vocab.yaml", "model: resnet\n# eos_token: </s>\n# pad_token: [PAD]\n"),
        ("slots.yaml", "lr: 0.1\n# session_token: Optional[str]\n# key: Value2\n"),
        ("prose.yaml", "lr: 0.1\n# password: see the vault\n# Note: X1 later\n"),
        # Outside YAML a colon in a comment is prose: "# Token: abc123" in an ini.
        ("notes.ini", "[run]\nlr = 0.1\n# token: abc123def456\n"),
    ],
)
def test_their_look_alikes_are_not(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert holds_credentials(path) is False
