"""Direct URLs a lock cannot carry: credentials in a query, ${NAME}, odd schemes."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement

from reprobox.errors import LockError
from reprobox.lock import sanitize_requirements
from reprobox.lock.entries import RequirementEntry

COMMIT = "0" * 40


def sanitize(url):
    entry = RequirementEntry(Requirement(f"six @ {url}"), "requirements.txt:1")
    return sanitize_requirements([entry])


@pytest.mark.parametrize(
    "url",
    [
        "https://h.example/six-1.16.0-py2.py3-none-any.whl?token=s3cr3tvalue",
        "https://h.example/six.whl?a=1&X-Amz-Signature=s3cr3tvalue",
        "https://h.example/six.whl?sv=1&sig=s3cr3tvalue",
        "https://h.example/six.whl?access_key=s3cr3tvalue",
    ],
)
def test_a_credential_in_the_query_is_refused_and_not_shown(url):
    with pytest.raises(LockError) as info:
        sanitize(url)
    text = str(info.value)
    assert text.startswith("requirements.txt:1: six @ https://h.example/")
    assert "query string" in text
    assert "s3cr3tvalue" not in text
    assert "\n" not in text


def test_an_environment_reference_in_a_direct_url_is_refused():
    with pytest.raises(LockError) as info:
        sanitize("https://h.example/${BRKA_T}/six.whl?x=${BRKA_T}")
    text = str(info.value)
    assert "reads an environment variable" in text
    assert "BRKA_T" not in text


def test_a_harmless_query_is_kept():
    lines, _, _ = sanitize("https://h.example/six.whl?version=1")
    assert lines == ["six @ https://h.example/six.whl?version=1"]


@pytest.mark.parametrize("scheme", ["ftp", "sftp", "s3", "gopher"])
def test_a_scheme_pip_cannot_fetch_is_refused_in_one_line(scheme):
    with pytest.raises(LockError) as info:
        sanitize(f"{scheme}://example.com/six.whl")
    assert str(info.value).startswith(
        f"requirements.txt:1: six @ {scheme}://example.com/six.whl: pip cannot "
        f"install from {scheme}:// URLs"
    )
    assert "/tmp" not in str(info.value)


def test_a_git_repository_on_this_machine_is_refused():
    with pytest.raises(LockError) as info:
        sanitize(f"git+file:///srv/repo@{COMMIT}")
    assert f"git+file:///srv/repo@{COMMIT} is a repository on this machine" in str(
        info.value
    )


@pytest.mark.parametrize(
    "url",
    [
        f"git+https://github.com/benjaminp/six@{COMMIT}",
        f"git+ssh://git@github.com/benjaminp/six@{COMMIT}",
        "https://files.example/six-1.16.0-py2.py3-none-any.whl",
    ],
)
def test_remote_urls_pass(url):
    lines, _, _ = sanitize(url)
    assert len(lines) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://git:s3cr3tvalue@h.example/six.whl",
        f"git+https://git:s3cr3tvalue@github.com/x/six@{COMMIT}",
        "https://s3cr3tvalue@h.example/six.whl",
    ],
)
def test_a_password_is_refused_even_for_the_git_user(url):
    with pytest.raises(LockError) as info:
        sanitize(url)
    assert "carries credentials" in str(info.value)
    assert "s3cr3tvalue" not in str(info.value)
