"""Config errors name keys as the file spells them; python and index URLs checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox.config import load_config
from reprobox.envvars import frozen_environment
from reprobox.errors import ConfigError

CMD = 'command = "python train.py"\n'


def pyproject(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n\n[tool.reprobox]\n" + CMD + body
    )
    return tmp_path


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[tool.reprobox.packages]\nfoo = 1\n", "tool.reprobox.packages.foo"),
        ('python = "3.7"\n', "tool.reprobox.python"),
        ("seed = -1\n", "tool.reprobox.seed"),
        ('[tool.reprobox.env]\n"A-B" = "1"\n', "tool.reprobox.env.A-B"),
        (
            '[tool.reprobox.packages]\nindex_url = "https://u:pw@h.example/simple/"\n',
            "tool.reprobox.packages.index_url",
        ),
        (
            "[tool.reprobox.metrics.tolerances]\nacc = 1\n",
            "tool.reprobox.metrics.tolerances.acc",
        ),
    ],
)
def test_a_pyproject_error_names_the_key_under_tool_reprobox(tmp_path, body, key):
    with pytest.raises(ConfigError) as info:
        load_config(pyproject(tmp_path, body))
    assert info.value.key == key
    assert str(info.value).startswith(f"{tmp_path / 'pyproject.toml'}: {key}: ")


def test_a_reprobox_toml_error_keeps_the_plain_key(tmp_path):
    (tmp_path / "reprobox.toml").write_text(CMD + "[packages]\nfoo = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.key == "packages.foo"


def test_a_pyproject_env_secret_names_the_key_under_tool_reprobox(tmp_path):
    cfg = load_config(pyproject(tmp_path, '[tool.reprobox.env]\nMY_TOKEN = "x"\n'))
    with pytest.raises(ConfigError) as info:
        frozen_environment(cfg, {})
    assert info.value.key == "tool.reprobox.env.MY_TOKEN"


@pytest.mark.parametrize(("written", "fix"), [("3.08", '"3.8"'), ("3.011", '"3.11"')])
def test_a_python_with_a_leading_zero_is_refused(tmp_path, written, fix):
    (tmp_path / "reprobox.toml").write_text(CMD + f'python = "{written}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.key == "python"
    assert info.value.hint == f"write {fix}"


@pytest.mark.parametrize("python", ["3.8", "3.10", "3.14"])
def test_plain_pythons_are_kept(tmp_path, python):
    (tmp_path / "reprobox.toml").write_text(CMD + f'python = "{python}"\n')
    assert load_config(tmp_path).python == python


@pytest.mark.parametrize(
    "url",
    [
        "file:///srv/wheels",
        "/srv/wheels",
        "./wheels",
        "file://u:s3cr3t@h/simple?token=s3cr3t",
    ],
)
def test_an_index_that_is_not_remote_is_a_config_error(tmp_path, url):
    (tmp_path / "reprobox.toml").write_text(
        CMD + f'[packages]\nextra_index_urls = ["{url}"]\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.path == tmp_path / "reprobox.toml"
    assert info.value.key == "packages.extra_index_urls"
    assert "is not a remote index" in str(info.value)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize("url", ["ftp://h.example/simple/", "s3://u:s3cr3t@b/simple"])
def test_an_index_of_a_scheme_no_installer_reads_says_so(tmp_path, url):
    # brk r48 (BP 7): ftp:// was "not a remote index: ... file URLs and local
    # folders are not allowed", which it is neither.
    (tmp_path / "reprobox.toml").write_text(
        CMD + f'[packages]\nextra_index_urls = ["{url}"]\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    scheme = url.partition(":")[0]
    assert info.value.key == "packages.extra_index_urls"
    assert (
        "is not an index pip and uv can read: they read indexes over https (or "
        f"http on loopback), not {scheme}://"
    ) in str(info.value)
    assert "file URLs" not in str(info.value) and "s3cr3t" not in str(info.value)
