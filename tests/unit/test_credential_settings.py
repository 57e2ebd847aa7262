"""Settings written in the less common shapes, gzipped copies, and their look-alikes.

Each credential shape has a neighbour that must go in: plain data and configs
that name no secret are what a training project is made of.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from pathlib import Path

import pytest

from reprobox.config import load_config
from reprobox.credential_files import (
    TEXT_SCAN_LIMIT,
    credential_finding,
    holds_credentials,
)
from reprobox.image_files import project_files

HF = "hf_" + "aB3d" * 8
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: train
spec:
  containers:
    - name: app
      image: trainer:1
      command: ["python", "train.py"]
      env:
        - name: LOG_LEVEL
          value: debug
        - name: WANDB_API_KEY
          value: BBSECRETpod
"""

# (file, text): a secret written out in a shape other than `name = value`.
CREDENTIALS = {
    # TOML inline tables and YAML flow mappings: the secret is inside a value.
    "db.toml": 'db = { password = "BBSECRETtoml" }\n',
    "svc.toml": '[x]\nauth = {token="BBSECRETauth"}\n',
    "nested.toml": (
        '[servers]\nmain = { host = "h", login = { user = "u", '
        'password = "BBSECRETnest" } }\n'
    ),
    "flow.yaml": "db: {user: me, password: BBSECRETflow}\n",
    # YAML values on the lines below the name: plain, literal and folded.
    "next-line.yaml": "password:\n  BBSECRETnext\n",
    "next-nested.yaml": 'db:\n  host: h\n  password:\n    "BBSECRETnq"\n',
    "literal.yaml": "password: |\n  BBSECRETlit\n",
    "folded.yaml": "# prod\npassword: >-\n\n  BBSECRETfold\nuser: me\n",
    "indented.yaml": "api_key: |2-\n    BBSECRETind\n",
    "token-below.yaml": f"hub:\n  login: |\n    {HF}\n",
    # An INI value continued on an indented line, as configparser reads it.
    "continued.ini": "[db]\npassword =\n    BBSECRETini\n",
    # Java .properties: '=', ':' or blanks part a key from its value.
    "db.properties": (
        "# prod\ndb.url=jdbc:postgresql://h/db\ndb.user sa\ndb.password BBSECRETprops\n"
    ),
    "colon.properties": "db.password: BBSECRETcolon\n",
    "tab.properties": "spring.datasource.password\tBBSECRETtab\n",
    # Kubernetes-style env lists: name and value of one item, in either order.
    "env-list.yaml": "env:\n- name: API_TOKEN\n  value: BBSECRETk8s\n",
    "env-list-reversed.yaml": 'env:\n  - value: "BBSECRETrev"\n    name: API_TOKEN\n',
    "pod.yaml": POD,
    "basic-auth.yaml": "proxy:\n  basic_auth: 'me:BBSECRETbasic'\n",
    # Lenient readings: a git credential store with a comment, Docker's
    # env-file with a variable passed on by its bare name, an INI key with blanks.
    "git-credentials-commented": "# work\nhttps://alice:Gh7x2kq@github.com\n",
    "docker-env.list": "DEBUG\nOPENAI_API_KEY=k9x8c7v6b5\n",
    "client.ini": "[oauth]\nclient id = app\nclient secret = Zx81kq\n",
}

# (file, text): the same shapes with no secret written out, and the configs,
# notes and word lists of a training project.
ORDINARY = {
    "pyproject-like.toml": (
        '[deps]\nnumpy = { version = ">=1.2", optional = true }\n'
        '[tokenizer]\nspecial = { pad_token = "<pad>", eos_token = "</s>" }\n'
    ),
    "ref.toml": 'db = { password = "${DB_PASSWORD}", host = "h" }\n',
    "auth-mode.toml": '[server]\nauth = { type = "basic", realm = "lab" }\n',
    # Bare auth, as a file's key, names a scheme as often as a secret.
    "auth-mode.yaml": "server:\n  auth: basic\n",
    "auth-mode.json": '{"server": {"auth": "oauth", "port": 8080}}',
    "hydra.yaml": (
        "model:\n  name: resnet\n  layers:\n    - 64\n    - 128\n"
        "optimizer: {name: adam, lr: 0.001}\n"
        "description: |\n  Set your token in the environment.\n"
        "notes:\n  a long line of text\n"
    ),
    "ref-block.yaml": "password: |\n  ${DB_PASSWORD}\ntoken:\n  type: bearer\n",
    "nested-under-secret-name.yaml": "password:\n  from_env: DB_PASSWORD\n",
    "app.properties": (
        "app.name My Great App\napp.version 1.2\ndb.password ${DB_PASSWORD}\n"
    ),
    "note.txt": "db.password is read from the environment\n",
    "word-counts.txt": "the 100\ntoken 53\npassword 2\n",
    "CHANGES.md": "# Changes\n\n- token: refresh fixed\n- password reset page\n",
    "env-ref.yaml": (
        "env:\n  - name: API_TOKEN\n    valueFrom:\n      secretKeyRef:\n"
        "        name: s\n        key: t\n  - name: HF_TOKEN\n    value: ${HF_TOKEN}\n"
    ),
    "params.yaml": (
        "arguments:\n  parameters:\n    - name: learning_rate\n      value: '0.1'\n"
        "    - name: epochs\n      value: '3'\n"
    ),
    "labels.csv": "key,password_strength,token\na,1,the\nb,2,cat\n",
    "corpus.txt": "The token was split.\nA password is a secret word.\n",
    "corpus.xml": "<doc><s><token>password</token><token>hunter2</token></s></doc>\n",
    # Bare names beside settings that name no secret, and spaced INI keys.
    "flags.list": "DEBUG\nVERBOSE\nLOG_LEVEL=info\n",
    "oauth.ini": "[oauth]\nclient id = app\nredirect uri = http://localhost\n",
}


def _npz() -> bytes:
    """Return a NumPy .npz archive of one float64 array, as np.savez writes it."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }"
    header = header.ljust(117) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("arr_0.npy", npy + struct.pack("<4d", 1.0, 2.0, 3.0, 4.0))
    return buffer.getvalue()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(CREDENTIALS))
def test_a_secret_in_a_less_common_shape_is_found(tmp_path, name):
    assert holds_credentials(_write(tmp_path / name, CREDENTIALS[name])) is True


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_the_same_shapes_without_a_secret_are_not(tmp_path, name):
    assert holds_credentials(_write(tmp_path / name, ORDINARY[name])) is False


# Gzipped copies of each kind of credential file the content check reads.
GZIPPED = {
    "secrets.yaml.gz": b"db:\n  password: BBSECRETgzyaml\n",
    ".env.gz": b"HF_TOKEN=BBSECRETgzenv\n",
    "settings.json.gz": b'{"api_key": "BBSECRETgzjson"}',
    "settings.xml.gz": b"<settings><password>BBSECRETgzxml</password></settings>",
    "token.gz": HF.encode() + b"\n",
    "db.properties.gz": b"db.password BBSECRETgzprops\n",
    "utf16.ini.gz": "[db]\r\npassword=BBSECRETgz16\r\n".encode("utf-16-le"),
    "id_ed25519.gz": b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n",
}


@pytest.mark.parametrize("name", sorted(GZIPPED))
def test_a_gzipped_credential_file_is_read_through_gzip(tmp_path, name):
    (tmp_path / name).write_bytes(gzip.compress(GZIPPED[name]))
    assert holds_credentials(tmp_path / name) is True


def test_gzipped_data_is_not_and_large_or_damaged_gzip_is_not_passed(tmp_path):
    files = {
        "train.csv.gz": gzip.compress(b"x,y\n1,2\n3,4\n"),
        "config.yaml.gz": gzip.compress(b"lr: 0.1\nepochs: 3\nkey: image\n"),
        "corpus.jsonl.gz": gzip.compress(b'{"text": "a token"}\n{"text": "b"}\n'),
        "weights.npz": _npz(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        assert holds_credentials(tmp_path / name) is False, name
    # Inflating past TEXT_SCAN_LIMIT no longer hides the setting: it is read.
    bomb = gzip.compress(b"API_KEY=BBSECRETbig\n" + b"#\n" * TEXT_SCAN_LIMIT)
    (tmp_path / "big.env.gz").write_bytes(bomb)
    assert holds_credentials(tmp_path / "big.env.gz") is True
    # Cut short: no exception, and what follows the cut cannot be shown clean.
    cut = gzip.compress(b"API_KEY=BBSECRETcut\n")[:12]
    (tmp_path / "broken.env.gz").write_bytes(cut)
    finding = credential_finding(tmp_path / "broken.env.gz")
    assert finding is not None and finding.unreadable.startswith("it is damaged")


def test_the_build_leaves_the_credentials_out_and_takes_the_rest(tmp_path):
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    for name, text in {**CREDENTIALS, **ORDINARY}.items():
        _write(tmp_path / name, text)
    (tmp_path / "secrets.yaml.gz").write_bytes(gzip.compress(b"password: BBgz\n"))
    (tmp_path / "train.csv.gz").write_bytes(gzip.compress(b"x,y\n1,2\n"))
    (tmp_path / "weights.npz").write_bytes(_npz())
    assert project_files(load_config(tmp_path)) == sorted(
        [*ORDINARY, "train.csv.gz", "train.py", "weights.npz"]
    )
