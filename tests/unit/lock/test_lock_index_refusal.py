"""An index that answers 401/403 at freeze is named as refusing, not "not found"."""

from __future__ import annotations

import pytest

from reprobox.config import load_config
from reprobox.errors import ConfigError, LockError
from reprobox.freeze import freeze_project
from reprobox.lock import PackageIndexes, resolve_lock
from reprobox.lock import resolve as resolve_module
from reprobox.lock.resolve import IndexRefused, index_refusal

TOKEN = "tok-planted-9f8e7d"
PORT = 43687
# What uv 0.13.9 printed when the index on 127.0.0.1 answered 401, and 403.
UV_401 = f"""error: No solution found when resolving dependencies
  cause: Because six was not found in the package registry and you require six==1.17.0, we can conclude that your requirements are unsatisfiable.

hint: An index URL (http://127.0.0.1:{PORT}/simple) could not be queried due to a lack of valid authentication credentials (401 Unauthorized)
"""  # noqa: E501
UV_403 = f"""error: No solution found when resolving dependencies
  cause: Because six was not found in the package registry and you require six==1.17.0, we can conclude that your requirements are unsatisfiable.

hint: An index (http://127.0.0.1:{PORT}/simple) returned a 403 Forbidden error. Check that the index URL is correct and the credentials are valid.
"""  # noqa: E501
# What pip-compile (pip 25) printed for the 401 before its traceback.
PIP_401 = f"""  WARNING: 401 Error, Credentials not correct for http://127.0.0.1:{PORT}/simple/six/
  ERROR: Could not find a version that satisfies the requirement six==1.17.0 (from versions: none)
Traceback (most recent call last):
pip._internal.exceptions.DistributionNotFound: No matching distribution found for six==1.17.0
"""  # noqa: E501
WITH_TOKEN = f"http://__token__:{TOKEN}@127.0.0.1:{PORT}/simple"
PLAIN = f"http://127.0.0.1:{PORT}/simple/"


@pytest.mark.parametrize(
    ("output", "answer"),
    [
        (UV_401, "401 Unauthorized"),
        (UV_403, "403 Forbidden"),
        (PIP_401, "401 Unauthorized"),
    ],
)
def test_the_refusing_index_is_named_with_its_credentials_hidden(output, answer):
    refused = index_refusal(output, PackageIndexes(WITH_TOKEN, (), (TOKEN,)))
    assert refused.message == (
        f"index_url http://***@127.0.0.1:{PORT}/simple refused the credentials "
        f"in its URL ({answer})"
    )
    assert refused.hint.startswith("check the token it takes from the environment")
    assert (refused.key, refused.declared, refused.credentials) == (
        "index_url",
        WITH_TOKEN,
        True,
    )


def test_an_extra_index_is_told_from_the_main_one():
    indexes = PackageIndexes("https://pypi.example/simple/", (WITH_TOKEN,), (TOKEN,))
    refused = index_refusal(UV_401, indexes)
    assert refused.key == "extra_index_urls" and refused.declared == WITH_TOKEN


def test_an_index_without_credentials_is_told_to_get_some():
    refused = index_refusal(UV_401, PackageIndexes(PLAIN))
    assert refused.message == (
        f"index_url {PLAIN} refused access (401 Unauthorized): it wants "
        "credentials, and its URL gives none"
    )
    assert "${NAME}" in refused.hint and not refused.credentials


def test_an_index_the_project_does_not_declare_is_named_as_shown():
    refused = index_refusal(UV_403, PackageIndexes("https://pypi.example/simple/"))
    assert refused.message == (
        f"the package index http://127.0.0.1:{PORT}/simple refused access "
        "(403 Forbidden)"
    )
    assert refused.key is None


def test_output_without_a_refusal_is_left_to_the_usual_line():
    not_found = UV_401.split("\nhint:")[0]
    assert index_refusal(not_found, PackageIndexes(WITH_TOKEN)) is None


def test_a_token_in_the_index_path_is_hidden_too():
    path_token = f"https://pypi.fury.example/{TOKEN}/team/simple/"
    output = UV_401.replace(f"http://127.0.0.1:{PORT}/simple", path_token)
    refused = index_refusal(output, PackageIndexes(path_token, (), (TOKEN,)))
    assert TOKEN not in str(refused)
    assert "https://pypi.fury.example/***/team/simple/ refused the credentials" in (
        refused.message
    )


def test_resolve_lock_raises_it_in_place_of_not_found(fake_runner, monkeypatch):
    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")

    def handler(argv):
        if argv[1:] == ["--version"]:
            return 0, "uv 0.13.9\n", ""
        return 1, "", UV_401

    fake_runner(handler)
    with pytest.raises(IndexRefused) as caught:
        resolve_lock(["six==1.17.0"], indexes=PackageIndexes(WITH_TOKEN, (), (TOKEN,)))
    assert "not found" not in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_freeze_names_the_config_key_and_the_variable_to_check(tmp_path, monkeypatch):
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
        'extra_index_urls = ["https://mirror.example/simple/", '
        f'"http://__token__:${{IDX_TOKEN}}@127.0.0.1:{PORT}/simple"]\n'
    )
    cfg = load_config(tmp_path)

    def refuse(lines, *, indexes, **kwargs):
        raise index_refusal(UV_401, indexes)

    monkeypatch.setattr("reprobox.freeze.resolve_lock", refuse)
    with pytest.raises(ConfigError) as caught:
        freeze_project(cfg, environ={"IDX_TOKEN": TOKEN})
    assert str(caught.value) == (
        f"{tmp_path / 'reprobox.toml'}: packages.extra_index_urls[1]: "
        f"http://***@127.0.0.1:{PORT}/simple refused the credentials in its URL "
        "(401 Unauthorized) (check the token in $IDX_TOKEN: it may be wrong, "
        "expired or without read access to that index)"
    )
    assert caught.value.exit_code == 2


def test_freeze_keeps_the_resolvers_words_for_an_index_it_added(tmp_path, monkeypatch):
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
    )

    def refuse(lines, *, indexes, **kwargs):
        raise index_refusal(UV_403, indexes)

    monkeypatch.setattr("reprobox.freeze.resolve_lock", refuse)
    with pytest.raises(LockError) as caught:
        freeze_project(load_config(tmp_path), environ={})
    assert not isinstance(caught.value, ConfigError)
    assert caught.value.message.startswith(
        f"the package index http://127.0.0.1:{PORT}/simple refused access"
    )
