"""Index credentials live in the environment, never in the project's files."""

from __future__ import annotations

import pytest

from reprobox.config import load_config
from reprobox.errors import ConfigError
from reprobox.freeze import expanded_indexes

TOKEN = "s3cr3t-planted-value"


def project(tmp_path, url: str):
    (tmp_path / "reprobox.toml").write_text(
        f'command = "python train.py"\n[packages]\nextra_index_urls = ["{url}"]\n'
    )
    return tmp_path


@pytest.mark.parametrize(
    "url",
    [
        f"https://__token__:{TOKEN}@pypi.example.internal/simple/",
        f"https://{TOKEN}@pypi.example.internal/simple/",
        "https://user:${PASS}x@pypi.example.internal/simple/",
    ],
)
def test_credential_written_into_the_file_is_refused(tmp_path, url):
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path, url))
    text = str(info.value)
    assert "packages.extra_index_urls" in text
    assert "${NAME}" in text  # the fix says how
    assert "\n" not in text


def test_credential_from_the_environment_is_filled_in_on_use(tmp_path):
    url = "https://__token__:${PYPI_TOKEN}@pypi.example.internal/simple/"
    cfg = load_config(project(tmp_path, url))
    assert cfg.extra_index_urls == (url,)  # the config keeps the reference only
    _, extra = expanded_indexes(cfg, {"PYPI_TOKEN": TOKEN})
    assert extra == (f"https://__token__:{TOKEN}@pypi.example.internal/simple/",)


def test_missing_variable_names_it_and_the_fix(tmp_path):
    cfg = load_config(
        project(tmp_path, "https://${IDX_USER}:${IDX_PASS}@idx.example/simple/")
    )
    with pytest.raises(ConfigError, match=r"\$\{IDX_USER\}.*export IDX_USER="):
        expanded_indexes(cfg, {"IDX_PASS": "p"})


def test_an_empty_variable_is_named_as_empty(tmp_path):
    # bw 7: MYTOK='' reached the index, whose 401 blamed the token.
    cfg = load_config(
        project(tmp_path, "https://__token__:${MYTOK}@idx.example/simple/")
    )
    with pytest.raises(ConfigError) as info:
        expanded_indexes(cfg, {"MYTOK": ""})
    assert info.value.message.endswith(
        "index URL needs ${MYTOK}, which is set but empty"
    )
    assert info.value.hint == "export MYTOK=... with its value before running reprobox"


def test_url_without_credentials_is_kept_as_written(tmp_path):
    cfg = load_config(project(tmp_path, "https://mirror.example/simple/"))
    assert expanded_indexes(cfg, {}) == (None, ("https://mirror.example/simple/",))


def test_token_in_the_query_string_is_refused(tmp_path):
    url = "https://idx.example/simple?access_token=ghp_abcdefghijklmnopqrstuvwxyz0123"
    with pytest.raises(ConfigError, match="access_token= in its query string"):
        load_config(project(tmp_path, url))


def test_token_in_the_query_string_from_the_environment_is_redacted(tmp_path):
    from reprobox.lock import PackageIndexes

    cfg = load_config(
        project(tmp_path, "https://idx.example/simple?access_token=${IDX_TOKEN}")
    )
    _, extra = expanded_indexes(cfg, {"IDX_TOKEN": TOKEN})
    shown = PackageIndexes(None, extra).redacted()
    assert TOKEN not in str(shown)
    assert shown["extra_index_urls"] == ["https://idx.example/simple?access_token=***"]


@pytest.mark.parametrize(
    ("token", "encoded"),
    [
        ("tok3n/SECRET", "tok3n%2FSECRET"),
        ("a+b=c+d=e", "a%2Bb%3Dc%2Bd%3De"),
        ("p@ss:word", "p%40ss%3Aword"),
        ("with space", "with%20space"),
    ],
)
def test_credentials_are_percent_encoded_into_the_userinfo(tmp_path, token, encoded):
    url = "https://__token__:${PYPI_TOKEN}@pypi.example.internal/simple/${SUB}/"
    cfg = load_config(project(tmp_path, url))
    _, (extra,) = expanded_indexes(cfg, {"PYPI_TOKEN": token, "SUB": "team-a/b"})
    # The path part is not userinfo: a value there goes in as it is.
    assert (
        extra == f"https://__token__:{encoded}@pypi.example.internal/simple/team-a/b/"
    )


def test_a_resolver_error_never_shows_the_credential():
    from reprobox.lock.indexes import PackageIndexes

    indexes = PackageIndexes(None, ("http://__token__:tok3n%2FSECRET@127.0.0.1:8/s/",))
    shown = indexes.scrub(
        "invalid value 'http://__token__:tok3n/SECRET@127.0.0.1:8/s/' (tok3n%2FSECRET)"
    )
    assert "tok3n" not in shown and "SECRET" not in shown
    assert shown == "invalid value 'http://***@127.0.0.1:8/s/' (***)"


@pytest.mark.parametrize(
    "url",
    [
        "https://${IDX_HOST}/simple/",
        "https://idx.example:${IDX_PORT}/simple/",
        "https://[::1]:8443/simple/",
    ],
)
def test_references_and_bracketed_hosts_pass_the_url_shape_check(tmp_path, url):
    assert load_config(project(tmp_path, url)).extra_index_urls == (url,)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("[::1", "is not a URL (invalid IPv6 URL)"), (":", "names no host")],
)
def test_a_reference_whose_value_breaks_the_url_is_refused(tmp_path, value, problem):
    cfg = load_config(project(tmp_path, "https://${IDX_HOST}/simple/"))
    with pytest.raises(ConfigError) as info:
        expanded_indexes(cfg, {"IDX_HOST": value})
    assert str(info.value) == (
        f"{tmp_path / 'reprobox.toml'}: index URL 'https://${{IDX_HOST}}/simple/' "
        f"{problem} with ${{IDX_HOST}} as set in this shell "
        "(fix the value of ${IDX_HOST})"
    )
