"""Less common YAML spellings of a secret, and a zip inside a zip."""

from __future__ import annotations

import io
import zipfile

import pytest

from reprobox.credential_archives import Finding
from reprobox.credential_files import credential_finding, holds_credentials


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("%YAML 1.2\n---\npassword: hunter2x\n", True),
        ("%YAML 1.2\n%TAG ! tag:example.com,2000:\n---\ntoken: abc123xyz\n", True),
        ("? password\n: hunter2x\n", True),
        ("%YAML 1.2\n---\nlr: 0.1\nmax_tokens: 512\n", False),
        ("? compass\n: north\n", False),
        ("? password\n: ${DB_PASSWORD}\n", False),
    ],
)
def test_yaml_directives_and_explicit_keys_are_read(tmp_path, text, found):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert holds_credentials(path) is found


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_inside_a_zip_holding_a_dotenv_stays_out(tmp_path):
    inner = _zip({"app/.env": b"WANDB_API_KEY=abc123secret\n"})
    (tmp_path / "bundle.zip").write_bytes(_zip({"inner.zip": inner}))
    assert holds_credentials(tmp_path / "bundle.zip") is True


def test_a_zip_inside_a_zip_holding_settings_with_a_secret_stays_out(tmp_path):
    inner = _zip({"conf.ini": b"[db]\npassword = hunter2x\n"})
    (tmp_path / "bundle.zip").write_bytes(_zip({"inner.zip": inner}))
    assert holds_credentials(tmp_path / "bundle.zip") is True


def test_nested_zips_of_plain_files_go_in_and_every_level_is_read(tmp_path):
    inner = _zip({"train.py": b"print(1)\n", "conf.yaml": b"lr: 0.1\n"})
    (tmp_path / "plain.zip").write_bytes(_zip({"inner.zip": inner}))
    assert holds_credentials(tmp_path / "plain.zip") is False
    deepest = _zip({"x.ini": b"password = hunter2x\n"})
    deep = _zip({"inner.zip": _zip({"deeper.zip": deepest})})
    (tmp_path / "deep.zip").write_bytes(_zip({"outer.zip": deep}))
    where = "outer.zip:inner.zip:deeper.zip:x.ini"
    assert credential_finding(tmp_path / "deep.zip") == Finding(where)
