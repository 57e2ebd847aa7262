"""The project's own metadata goes into the image, and a credential in it is refused.

pyproject.toml, setup.cfg, the requirements and a README read like settings
files, but pip and the training code need them in the image: left out as
credential files, `pip install .` would fail in the run. A credential on one
of their lines stops freeze and build instead, naming the line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project
from reprobox.image_files import is_image_file, project_files
from reprobox.image_inputs import written_credential
from reprobox.project_metadata import metadata_file_name

R = "Kq8vN2pXr7LmZ4tYbb77Zz"
SETTING = "a secret setting"
URL = "a token, or a password or token in a URL"
CODE = "a secret assigned in code"


@pytest.mark.parametrize(
    ("rel", "text", "line", "kind"),
    [
        (
            "pyproject.toml",
            '[project]\nname = "x"\n\n[[tool.uv.index]]\n'
            'url = "https://ml:Kq8vN2pXr7LmZ4tY@pypi.corp/simple"\n',
            5,
            URL,
        ),
        (
            "pyproject.toml",
            f'[project]\nname = "x"\n[tool.x]\napi_key = "{R}"\n',
            4,
            CODE,
        ),
        ("setup.cfg", f"[metadata]\nname = x\n[tool]\napi_key = {R}\n", 4, SETTING),
        ("setup.cfg", f"[metadata]\nname = x\n[upload]\npassword: {R}\n", 4, SETTING),
        (
            "setup.cfg",
            "[metadata]\nname = x\n[easy_install]\n"
            "index_url = https://ml:Kq8vN2pXr7LmZ4tY@pypi.corp/simple\n",
            4,
            "a password in a URL",
        ),
        ("setup.cfg", f"[metadata]\nname = x\n; token = {R}\n", 3, SETTING),
        ("requirements.txt", f"six==1.17.0\n# password={R}\n", 2, SETTING),
        ("requirements-dev.in", f"pytest\n# api_key: {R}\n", 2, SETTING),
        ("README.txt", f"[service]\ntoken = {R}\n", 2, SETTING),
        # brk r46 (BM F5): named "a token, or a password or token in a URL".
        (
            "requirements.txt",
            "six\n-----BEGIN RSA PRIVATE KEY-----\n",
            2,
            "a private key",
        ),
    ],
)
def test_a_credential_in_project_metadata_is_refused_on_its_line(
    tmp_path, rel, text, line, kind
):
    (tmp_path / rel).write_text(text)
    strict = rel == "pyproject.toml" or rel.startswith("requirements")
    assert written_credential(tmp_path / rel, strict=strict) == (line, kind)


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\nbase_image = "reprobox-base:bookworm-py3.11"\n'
    )
    (tmp_path / "train.py").write_text("print(1)\n")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        ("pyproject.toml", f'[project]\nname = "x"\n[tool.x]\napi_key = "{R}"\n'),
        ("setup.cfg", f"[metadata]\nname = x\n[tool]\napi_key = {R}\n"),
        ("setup.cfg", "[metadata]\nname = x\n[db]\npassword = hunter2\n"),
    ],
)
def test_metadata_that_reads_like_a_credential_file_is_not_left_out(
    tmp_path, rel, text
):
    # Before, these stayed out of the image with a note: the project's
    # metadata was then missing there, and nothing said so but the note.
    root = _project(tmp_path, {rel: text})
    assert rel in project_files(load_config(root))
    assert is_image_file(root, rel)


def test_freeze_refuses_a_key_in_setup_cfg_naming_file_and_line(six_project):
    (six_project / "setup.cfg").write_text(
        f"[metadata]\nname = x\n\n[wandb]\napi_key = {R}\n"
    )
    with pytest.raises(InputError) as info:
        freeze_project(load_config(six_project), environ={})
    assert info.value.message == (
        f"{six_project / 'setup.cfg'}:5: holds a credential (a secret setting), "
        "and this file is copied into the image"
    )
    assert R not in f"{info.value.message} {info.value.hint}"


def test_freeze_refuses_a_uv_index_password_in_pyproject(six_project):
    (six_project / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n\n[[tool.uv.index]]\nname = "corp"\n'
        'url = "https://ml:Kq8vN2pXr7LmZ4tY@pypi.corp/simple"\n'
    )
    with pytest.raises(InputError, match=r"pyproject\.toml:7: holds a credential"):
        freeze_project(load_config(six_project), environ={})


def test_an_included_requirements_file_under_any_name_is_not_left_out(
    six_project, fake_lock
):
    # name==version lines read like settings, and google-auth ends in a
    # secret's word: such a file was left out as a credential file.
    (six_project / "requirements.txt").write_text("-r deps/pins.txt\n")
    (six_project / "deps").mkdir()
    (six_project / "deps/pins.txt").write_text("six==1.17.0\ngoogle-auth==2.11.0\n")
    assert "deps/pins.txt" in project_files(load_config(six_project))
    (six_project / "deps/pins.txt").write_text(f"six==1.17.0\n# password={R}\n")
    with pytest.raises(InputError, match=r"deps/pins\.txt:2: holds a credential"):
        freeze_project(load_config(six_project), environ={})


# Metadata of real projects, in the shapes that name a secret's word without
# holding one: none is refused, and each goes into the image.
ORDINARY_METADATA = {
    "pyproject.toml": (
        '[project]\nname = "x"\ndependencies = ["google-auth>=2", "pyjwt"]\n'
        "[project.scripts]\n"
        'get-token = "mypkg.cli:get_token"\n'
        'reset-password = "mypkg.auth:ResetPassword2Cli"\n'
        "[tool.poetry.dependencies]\n"
        'google-auth = "^2.0"\n'
        'pyjwt = {version = "^2.8", optional = true}\n'
        "[tool.semantic_release]\n"
        'token = { env = "GH_TOKEN" }\n'
        "[tool.hatch.envs.test.env-vars]\n"
        'API_KEY = "test-key"\n'
        'DB_PASSWORD = "postgres"\n'
        "[tool.codespell]\n"
        'ignore-words-list = "passwd,tokenize"\n'
        "[tool.pytest.ini_options]\n"
        'env = ["WANDB_MODE=offline", "HF_TOKEN=dummy"]\n'
        "[[tool.uv.index]]\n"
        'name = "pytorch-cu121"\n'
        'url = "https://download.pytorch.org/whl/cu121"\n'
        "[tool.x]\n"
        'secret_key_file = "secrets/Key2024v3.pem"\n'
        "token_limit = 4096\n"
        'api_key_env = "OPENAI_API_KEY"\n'
        "# password = ${DB_PASSWORD}\n"
    ),
    "setup.cfg": (
        "[metadata]\nname = x\nproject_urls =\n    Source = https://github.com/x/y\n"
        "[options.entry_points]\nconsole_scripts =\n    get-token = mypkg.cli:main\n"
        "[options.extras_require]\njwt = pyjwt>=2\nauth = google-auth==2.11.0\n"
        "[bumpversion]\ncurrent_version = 1.2.3\n"
        "commit_sha = 3f9a1c7e5b2d8046a9e1f3c5b7d9024e6a8c1f3b\n"
        "[flake8]\nmax-line-length = 88\n"
        "; password: see the wiki\n# token: refresh-with-cli\n"
    ),
    "requirements.txt": (
        "google-auth==2.11.0\npyjwt>=2\n# token-bucket==0.3\n# auth: google-auth\n"
        'secretstorage ; sys_platform == "linux"\n'
    ),
    "README": "Set api_key: in your shell.\nToken: see the wiki\n",
}


def test_ordinary_metadata_goes_in_and_is_not_refused(tmp_path):
    root = _project(tmp_path, ORDINARY_METADATA)
    assert project_files(load_config(root)) == sorted([*ORDINARY_METADATA, "train.py"])
    for rel in ORDINARY_METADATA:
        assert written_credential(root / rel, strict=True) is None, rel


@pytest.mark.parametrize(
    ("name", "metadata"),
    [
        ("pyproject.toml", True),
        ("setup.cfg", True),
        ("requirements.txt", True),
        ("requirements-gpu.txt", True),
        ("requirements_dev.in", True),
        ("constraints.txt", True),
        ("README", True),
        ("README.txt", True),
        ("tox.ini", False),
        ("requirements.yaml", False),
        ("env_requirements.txt", False),
        ("setup.cfg.bak", False),
    ],
)
def test_metadata_is_told_by_its_name(name, metadata):
    assert metadata_file_name(name) is metadata
