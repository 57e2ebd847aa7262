"""Files that go into the image as they are hold no credential, comments included.

Every project file the image copies (code, notes, requirements) is read line
by line at freeze and again at build; the requirements file and its -r
includes, and pyproject.toml, are also read by reprobox and held to stricter
URL shapes; the lock is written by it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from reprobox import build as build_module
from reprobox.build import build_project
from reprobox.config import load_config
from reprobox.errors import InputError, LockError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.lock import check_lock_is_portable
from reprobox.secret_shapes import credential_line, url_credential

PYPI_TOKEN = "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA"
GH_TOKEN = "ghp_" + "Ab1" * 12
HASH = "--hash=sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "line",
    [
        f"# --extra-index-url https://__token__:{PYPI_TOKEN}@pypi.corp.example/simple",
        f"six==1.17.0  # see https://user:{GH_TOKEN}@github.com/org/repo",
        "# mirror: https://alice:hunter2hunter2@pypi.corp.example/simple/",
        f"# https://{GH_TOKEN}@github.com/org/repo",  # the token as user name
        "# https://oauth2:Zm9vYmFy%2Fc2VjcmV0@gitlab.example/x",
        f"# token for CI: {GH_TOKEN}",  # a published format, no URL
        "# wheels at https://files.example/simple/?token=abc123def",
        '# index_url = "https://u:s3cr3tpw@pypi.corp.example/simple"',
    ],
)
def test_a_credential_on_any_line_is_found(line):
    assert credential_line(f"numpy==1.26.4\n{line}\nsix==1.17.0\n") == 2


@pytest.mark.parametrize(
    "line",
    [
        "six==1.17.0",
        f"numpy==1.26.4 \\\n    {HASH}",
        "keyrings.google-artifactregistry-auth==1.1.2",  # a package named auth
        "pkg @ git+ssh://git@github.com/org/repo@" + "a" * 40,  # ssh's user name
        "pkg @ git+https://github.com/org/repo@v1.0",
        "# --extra-index-url https://__token__:${PYPI_TOKEN}@pypi.corp/simple",
        "# https://files.example/simple/?token=${TOKEN}",
        "# see https://docs.example.com/install?page=auth#tokens",
        "# ask bob@example.com for access",
        "    # via -r requirements.in",
    ],
)
def test_lines_without_a_credential_pass(line):
    assert credential_line(f"{line}\n") is None


def test_a_bracketed_host_that_is_no_address_is_judged_by_its_at_sign():
    assert url_credential("https://u:pw@[not-ipv6/simple")
    assert not url_credential("https://[not-ipv6/simple")


def _freeze(root: Path):
    cfg = load_config(root)
    return cfg, freeze_project(cfg, environ={})


def _refusal(root: Path, secret: str) -> InputError:
    with pytest.raises(InputError) as info:
        _freeze(root)
    shown = f"{info.value.message} {info.value.hint}"
    assert secret not in shown
    assert "copied into the image" in shown and ".reproboxignore" in shown
    return info.value


def test_freeze_refuses_a_commented_index_token(six_project):
    (six_project / "requirements.txt").write_text(
        "six==1.17.0\n"
        f"# --extra-index-url https://__token__:{PYPI_TOKEN}@pypi.corp.example/simple\n"
    )
    error = _refusal(six_project, PYPI_TOKEN)
    assert error.message.startswith(f"{six_project / 'requirements.txt'}:2: ")


def test_freeze_refuses_a_token_in_an_included_file(six_project, fake_lock):
    (six_project / "requirements.txt").write_text("-r deps/more.txt\n")
    (six_project / "deps").mkdir()
    # (A file of name==version lines alone reads as a settings file that
    # holds a secret, and stays out of the image as a credential file.)
    (six_project / "deps/more.txt").write_text(
        f"attrs>=23\nsix==1.17.0  # see https://user:{GH_TOKEN}@github.com/org/r\n"
    )
    error = _refusal(six_project, GH_TOKEN)
    assert error.message.startswith(f"{six_project / 'deps/more.txt'}:2: ")
    assert fake_lock == []  # refused before anything was resolved


def test_the_requirements_are_named_before_the_files_they_include(six_project):
    (six_project / "requirements.txt").write_text(
        f"-r b.txt\n# https://u:{GH_TOKEN}@github.com/o/r\n"
    )
    (six_project / "b.txt").write_text(f"attrs>=23\nsix  # {GH_TOKEN}\n")
    (six_project / "a.py").write_text(f"# {GH_TOKEN}\n")
    error = _refusal(six_project, GH_TOKEN)
    assert error.message.startswith(f"{six_project / 'requirements.txt'}:2: ")
    (six_project / "requirements.txt").write_text("-r b.txt\n")
    error = _refusal(six_project, GH_TOKEN)
    assert error.message.startswith(f"{six_project / 'b.txt'}:2: ")


def test_freeze_refuses_a_token_in_pyproject(six_project):
    (six_project / "pyproject.toml").write_text(
        f'[project]\nname = "x"\n# publish with {GH_TOKEN}\n'
    )
    error = _refusal(six_project, GH_TOKEN)
    assert error.message.startswith(f"{six_project / 'pyproject.toml'}:3: ")


def test_a_file_kept_out_of_the_image_may_hold_one(six_project):
    (six_project / "requirements.txt").write_text(
        f"six==1.17.0\n# https://user:{GH_TOKEN}@github.com/org/repo\n"
    )
    (six_project / ".reproboxignore").write_text("requirements.txt\n")
    _, result = _freeze(six_project)
    assert GH_TOKEN not in result.lock + result.manifest_text


def test_the_config_file_may_hold_one_in_a_comment(six_project):
    # reprobox.toml never goes into the image, and only its settings are kept.
    config = six_project / "reprobox.toml"
    config.write_text(config.read_text() + f"# old index: https://u:{GH_TOKEN}@h/\n")
    _, result = _freeze(six_project)
    assert GH_TOKEN not in result.lock + result.manifest_text + result.dockerfile


def test_build_refuses_a_token_put_into_pyproject_after_freeze(
    six_project, monkeypatch
):
    pyproject = six_project / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n')
    cfg, result = _freeze(six_project)
    write_frozen(cfg, result)
    # A comment is neither a setting nor a dependency: no digest sees it.
    pyproject.write_text(f'[project]\nname = "x"\n# {GH_TOKEN}\n')
    built = []
    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    monkeypatch.setattr(build_module, "ensure_base_image", lambda e, r, where: None)
    monkeypatch.setattr(
        build_module, "build_image", lambda *a, **kw: built.append(a[2]) or "sha256:x"
    )
    with pytest.raises(InputError, match=r"pyproject\.toml:3: holds a credential"):
        build_project(cfg, None, secrets=lambda: contextlib.nullcontext({}))
    assert built == []


def test_freeze_refuses_code_that_holds_a_token(six_project):
    # Left out of the image, train.py would be missing when the run starts.
    (six_project / "train.py").write_text(
        f'import os\n\nHF = "{GH_TOKEN}"\nprint(HF)\n'
    )
    error = _refusal(six_project, GH_TOKEN)
    assert error.message == (
        f"{six_project / 'train.py'}:3: holds a credential (a token of a "
        "published format), and this file is copied into the image"
    )
    assert "reprobox run --env NAME" in error.hint


def test_freeze_refuses_a_settings_module_with_a_url_password(six_project):
    # NAME = "value" lines alone read like a .env; a .py is code all the same.
    (six_project / "config.py").write_text(
        'DB = "postgresql://svc:Hx82kq1m@db.internal:5432/runs"\n'
    )
    error = _refusal(six_project, "Hx82kq1m")
    assert error.message.startswith(
        f"{six_project / 'config.py'}:1: holds a credential (a password in a URL)"
    )


def test_ignored_and_data_files_are_not_read(six_project):
    (six_project / "notes.md").write_text(f"token {GH_TOKEN}\n")
    (six_project / "runs.log").write_text(f"token {GH_TOKEN}\n")
    (six_project / ".reproboxignore").write_text("notes.md\n")
    config = six_project / "reprobox.toml"
    config.write_text(config.read_text() + 'data = ["runs.log"]\n')
    _, result = _freeze(six_project)
    assert GH_TOKEN not in result.lock + result.manifest_text


def test_credential_files_stay_out_and_are_not_refused(six_project):
    (six_project / ".env").write_text(f"GH_TOKEN={GH_TOKEN}\n")
    (six_project / "hf_token").write_text(f"{GH_TOKEN}\n")
    _, result = _freeze(six_project)
    assert GH_TOKEN not in result.lock + result.manifest_text


def test_build_refuses_a_token_put_into_code_after_freeze(six_project, monkeypatch):
    cfg, result = _freeze(six_project)
    write_frozen(cfg, result)
    (six_project / "train.py").write_text(f"print(1)  # {GH_TOKEN}\n")
    monkeypatch.setattr(build_module, "image_id", lambda engine, tag: None)
    with pytest.raises(InputError, match=r"train\.py:1: holds a credential") as info:
        build_project(cfg, None, secrets=lambda: contextlib.nullcontext({}))
    assert GH_TOKEN not in f"{info.value.message} {info.value.hint}"


def test_the_lock_never_carries_a_credential_in_a_comment():
    lock = (
        f"six==1.17.0 \\\n    {HASH}\n"
        f"    # via https://user:{GH_TOKEN}@github.com/org/repo\n"
    )
    with pytest.raises(LockError, match="line 3") as info:
        check_lock_is_portable(lock)
    assert GH_TOKEN not in str(info.value)
    check_lock_is_portable(f"six==1.17.0 \\\n    {HASH}\n    # via -r x.in\n")
