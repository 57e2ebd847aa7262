"""Declared indexes, credentials kept as build secrets, and the CA to trust."""

from __future__ import annotations

import configparser
from urllib.parse import urlsplit

import pytest

from reprobox.errors import LockError
from reprobox.lock import PackageIndexes, default_ca_cert, redact_text, redact_url


def token_case(case_file):
    """Return (the index URL, its token) from index-with-token.env."""
    line = case_file("index-with-token.env").read_text().strip()
    variable, _, url = line.partition("=")
    assert variable == "PIP_EXTRA_INDEX_URL"
    return url, urlsplit(url).password


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://__token__:s3cr3t@pkgs.example/simple/",
            "https://***@pkgs.example/simple/",
        ),
        ("https://ghp_abcdef@pkgs.example/simple", "https://***@pkgs.example/simple"),
        ("https://user:p%40ss@pkgs.example:8443/s", "https://***@pkgs.example:8443/s"),
        ("https://pypi.org/simple", "https://pypi.org/simple"),
    ],
)
def test_redact_url_hides_user_and_password(url, shown):
    assert redact_url(url) == shown


def test_redact_text_hides_every_url_credential_in_a_message():
    text = (
        "fetch https://a:b1@x.example/s failed; retry git+https://tok@y.example/r.git"
    )
    assert redact_text(text) == (
        "fetch https://***@x.example/s failed; retry git+https://***@y.example/r.git"
    )


def test_token_case_appears_only_in_the_build_secrets(case_file):
    url, token = token_case(case_file)
    indexes = PackageIndexes(extra_index_urls=(url,))

    public = indexes.redacted()
    assert public == {
        "extra_index_urls": ["https://***@pypi.example.internal/simple/"],
        "index_url": None,
    }
    for shown in (repr(indexes), str(indexes), str(public)):
        assert token not in shown

    secrets = indexes.build_secrets()
    assert secrets.values == {"pip_extra_index_url": url}
    assert secrets.ids() == ["pip_extra_index_url"]
    assert token not in repr(secrets) and token not in str(secrets)
    assert secrets.contains_in(f"junk {token} junk") == ["pip_extra_index_url"]
    assert secrets.contains_in("numpy==1.26.4") == []


def test_indexes_without_credentials_need_no_secrets():
    indexes = PackageIndexes(
        "https://pypi.org/simple", ("https://download.pytorch.org/whl/cpu",)
    )
    assert not indexes.build_secrets()
    assert indexes.uv_env() == {
        "UV_DEFAULT_INDEX": "https://pypi.org/simple",
        "UV_INDEX": "https://download.pytorch.org/whl/cpu",
    }
    assert indexes.pip_env() == {
        "PIP_INDEX_URL": "https://pypi.org/simple",
        "PIP_EXTRA_INDEX_URL": "https://download.pytorch.org/whl/cpu",
    }


def test_all_declared_indexes_go_to_the_secrets_when_one_has_a_token():
    indexes = PackageIndexes(
        "https://t0ken@private.example/simple", ("https://pypi.org/simple",)
    )
    assert indexes.build_secrets().values == {
        "pip_extra_index_url": "https://pypi.org/simple",
        "pip_index_url": "https://t0ken@private.example/simple",
    }


def test_machine_local_indexes_of_the_case_are_refused(case_file):
    config = configparser.ConfigParser()
    config.read(case_file("pip-local-index.conf"))
    local_index = config["global"]["extra-index-url"]
    find_links = config["global"]["find-links"]
    for url in (local_index, find_links):
        with pytest.raises(LockError, match="is not a remote index"):
            PackageIndexes(extra_index_urls=(url,))
    with pytest.raises(LockError, match="is not a remote index"):
        PackageIndexes(index_url=local_index)


def test_default_ca_cert_takes_the_first_existing_host_setting(tmp_path):
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert default_ca_cert(
        {"SSL_CERT_FILE": str(tmp_path / "gone.pem"), "PIP_CERT": str(bundle)}
    ) == str(bundle)
    assert default_ca_cert({"REQUESTS_CA_BUNDLE": str(bundle)}) == str(bundle)
    assert default_ca_cert({}) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/simple/",
        "http://127.9.9.9/simple/",
        "http://localhost:3141/root/pypi/",
        "http://LOCALHOST./simple/",
        "http://devpi.localhost/simple/",
        "http://[::1]:8080/simple/",
        "http://[::ffff:127.0.0.1]/simple/",
        "http://0.0.0.0:8080/simple/",
    ],
)
def test_a_loopback_index_is_named_in_a_warning_with_credentials_hidden(url):
    with_token = url.replace("://", "://__token__:t0k3n@", 1)
    indexes = PackageIndexes(extra_index_urls=(with_token,))

    [warning] = indexes.loopback_warnings()
    assert warning.startswith("extra_index_urls http://***@")
    assert "build container and other machines cannot reach it" in warning
    assert "t0k3n" not in warning
    assert (
        PackageIndexes(index_url=url)
        .loopback_warnings()[0]
        .startswith(f"index_url {url} is on this machine's loopback")
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://pypi.example.internal/simple/",
        "http://10.0.0.5/simple/",
        "http://notlocalhost.example/simple/",
        "http://127.0.0.1.example/simple/",
    ],
)
def test_an_index_elsewhere_gets_no_loopback_warning(url):
    assert (
        PackageIndexes(index_url=url, extra_index_urls=(url,)).loopback_warnings() == []
    )
