"""An index that does not answer at freeze is named by the key that declared it."""

from __future__ import annotations

import pytest

from reprobox.config import load_config
from reprobox.errors import ConfigError, LockError
from reprobox.freeze import freeze_project
from reprobox.lock import PackageIndexes, resolve_lock
from reprobox.lock import resolve as resolve_module
from reprobox.lock.resolve import IndexUnreachable, index_unreachable

TOKEN = "tok-planted-5a6b7c"
PORT = 43688
# What uv 0.13.9 printed for an index on a loopback port nothing listens on
# (after its 3 retries), and for a host name that does not resolve.
UV_REFUSED = f"""error: Request failed after 3 retries in 6.2s
  cause: Failed to fetch: http://127.0.0.1:{PORT}/simple/six/
  cause: error sending request for url (http://127.0.0.1:{PORT}/simple/six/)
  cause: client error (Connect)
  cause: tcp connect error
  cause: Connection refused (os error 111)
"""
UV_NO_HOST = """error: Failed to fetch: http://idx.invalid/simple/six/
  cause: error sending request for url (http://idx.invalid/simple/six/)
  cause: client error (Connect)
  cause: dns error
  cause: error resolving DNS
  cause: failed to lookup address information: Name or service not known
"""
UV_NOT_FOUND = """error: No solution found when resolving dependencies
  cause: Because six was not found in the package registry and you require six==1.17.0, we can conclude that your requirements are unsatisfiable.
"""  # noqa: E501
WITH_TOKEN = f"http://__token__:{TOKEN}@127.0.0.1:{PORT}/simple"
FIX = "start the index there or fix the URL: freeze resolves the lock against it"


def test_the_index_that_did_not_answer_is_named_with_its_credentials_hidden():
    found = index_unreachable(UV_REFUSED, PackageIndexes(WITH_TOKEN, (), (TOKEN,)))
    assert isinstance(found, IndexUnreachable)
    assert str(found) == (
        f"index_url http://***@127.0.0.1:{PORT}/simple did not answer "
        f"(connection refused) ({FIX})"
    )
    assert (found.key, found.declared, found.credentials) == (
        "index_url",
        WITH_TOKEN,
        False,
    )


def test_a_host_that_does_not_resolve_is_said_so():
    indexes = PackageIndexes(None, ("https://idx.invalid/simple/",))
    found = index_unreachable(UV_NO_HOST.replace("http:", "https:"), indexes)
    assert found.problem == "https://idx.invalid/simple/ did not answer (no such host)"
    assert found.key == "extra_index_urls"


def test_an_index_nobody_declared_is_named_by_its_url():
    found = index_unreachable(UV_NO_HOST, PackageIndexes())
    assert str(found) == (
        "http://idx.invalid/simple/six/ did not answer (no such host) (check that "
        "this machine can reach it, through a proxy if it needs one (HTTPS_PROXY))"
    )
    assert found.key is None


def test_an_index_that_answered_is_no_unreachable_one():
    assert index_unreachable(UV_NOT_FOUND, PackageIndexes(WITH_TOKEN)) is None


def test_resolve_lock_raises_it_in_place_of_the_retry_count(fake_runner, monkeypatch):
    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")

    def handler(argv):
        if argv[1:] == ["--version"]:
            return 0, "uv 0.13.9\n", ""
        return 2, "", UV_REFUSED

    fake_runner(handler)
    with pytest.raises(IndexUnreachable) as caught:
        resolve_lock(["six==1.17.0"], indexes=PackageIndexes(WITH_TOKEN, (), (TOKEN,)))
    assert "retries" not in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("declared", "key"),
    [
        (
            f'index_url = "http://__token__:${{IDX_TOKEN}}@127.0.0.1:{PORT}/simple"\n',
            "packages.index_url",
        ),
        (
            'extra_index_urls = ["https://mirror.example/simple/", '
            f'"http://__token__:${{IDX_TOKEN}}@127.0.0.1:{PORT}/simple"]\n',
            "packages.extra_index_urls[1]",
        ),
    ],
)
def test_freeze_names_the_config_key_of_the_index(tmp_path, monkeypatch, declared, key):
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
        + declared
    )
    cfg = load_config(tmp_path)

    def unreachable(lines, *, indexes, **kwargs):
        raise index_unreachable(UV_REFUSED, indexes)

    monkeypatch.setattr("reprobox.freeze.resolve_lock", unreachable)
    with pytest.raises(ConfigError) as caught:
        freeze_project(cfg, environ={"IDX_TOKEN": TOKEN})
    assert str(caught.value) == (
        f"{tmp_path / 'reprobox.toml'}: {key}: http://***@127.0.0.1:{PORT}/simple "
        f"did not answer (connection refused) ({FIX})"
    )


def test_an_unreachable_index_reprobox_added_is_a_lock_error(tmp_path, monkeypatch):
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
    )

    def unreachable(lines, *, indexes, **kwargs):
        raise index_unreachable(UV_NO_HOST, indexes)

    monkeypatch.setattr("reprobox.freeze.resolve_lock", unreachable)
    with pytest.raises(LockError) as caught:
        freeze_project(load_config(tmp_path), environ={})
    assert not isinstance(caught.value, ConfigError)
    assert str(caught.value).startswith("http://idx.invalid/simple/six/ did not answer")


# What uv 0.13 printed for an index that answers every request with 500.
UV_SERVER_ERROR = f"""error: Request failed after 3 retries in 6.7s
  cause: Failed to fetch: http://127.0.0.1:{PORT}/simple/six/
  cause: HTTP status server error (500 Internal Server Error) for url (http://127.0.0.1:{PORT}/simple/six/)
"""  # noqa: E501


def test_an_index_that_fails_on_its_side_is_said_so_not_the_requirements():
    # brk r48 (BP 6): the hint said to check that each name and version exists.
    found = index_unreachable(UV_SERVER_ERROR, PackageIndexes(WITH_TOKEN, (), (TOKEN,)))
    assert str(found) == (
        f"index_url http://***@127.0.0.1:{PORT}/simple answered HTTP 500 Internal "
        "Server Error (the index failed on its side: see its log, or try again "
        "later)"
    )
    assert found.key == "index_url" and TOKEN not in str(found)


# What uv 0.13.9 printed for an index on 127.0.0.1 that answered every fetch
# badly (brk r49 BS 2: each was blamed on the package names).
UV_TOO_MANY = f"""error: Request failed after 3 retries in 5.6s
  cause: Failed to fetch: http://127.0.0.1:{PORT}/simple/six/
  cause: HTTP status client error (429 Too Many Requests) for url (http://127.0.0.1:{PORT}/simple/six/)
"""  # noqa: E501
UV_TEAPOT = f"""error: Failed to fetch: http://127.0.0.1:{PORT}/simple/six/
  cause: HTTP status client error (418 I'm a Teapot) for url (http://127.0.0.1:{PORT}/simple/six/)
"""  # noqa: E501
UV_NO_LOCATION = f"""error: Failed to fetch: http://127.0.0.1:{PORT}/simple/six/
  cause: Server returned redirect (HTTP 302 Found) without destination URL. This may indicate a server configuration issue
"""  # noqa: E501
UV_NO_CONTENT_TYPE = (
    f"error: Missing `Content-Type` header for `http://127.0.0.1:{PORT}/simple/six/`\n"
)
UV_PLAIN_TEXT = (
    f'error: Unsupported `Content-Type` "text/plain" for '
    f"`http://127.0.0.1:{PORT}/simple/six/`. Expected JSON or HTML.\n"
)
UV_BAD_JSON = f"""error: Received some unexpected JSON from `http://127.0.0.1:{PORT}/simple/six/`
  cause: key must be a string at line 1 column 2
"""  # noqa: E501
UV_CUT_SHORT = f"""error: Request failed after 3 retries in 0.0s
  cause: Failed to fetch: http://127.0.0.1:{PORT}/simple/six/
  cause: error decoding response body for url (http://127.0.0.1:{PORT}/simple/six/)
  cause: request or response body error
  cause: error reading a body from connection
  cause: end of file before message length reached
"""  # noqa: E501
UV_PAGE_NOT_FOUND = f"""error: Failed to fetch: http://127.0.0.1:{PORT}/simple/six/
  cause: HTTP status client error (404 Not Found) for url (http://127.0.0.1:{PORT}/simple/six/)
"""  # noqa: E501
SHOWN = f"index_url http://***@127.0.0.1:{PORT}/simple"
UNREADABLE = (
    "(check that the URL names a package index's simple API (such as "
    "https://HOST/simple/) that serves its pages as HTML or JSON)"
)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            UV_TOO_MANY,
            f"{SHOWN} answered HTTP 429 Too Many Requests (the index limits how "
            "often it may be asked: wait a while and freeze again, or ask its "
            "keeper to raise the limit)",
        ),
        (
            UV_TEAPOT,
            f"{SHOWN} answered HTTP 418 I'm a Teapot (the index refused the fetch: "
            "check that the URL names a package index's simple API, such as "
            "https://HOST/simple/)",
        ),
        (
            UV_NO_LOCATION,
            f"{SHOWN} gave a reply the resolver cannot read: a redirect "
            f"(HTTP 302 Found) with no Location {UNREADABLE}",
        ),
        (
            UV_NO_CONTENT_TYPE,
            f"{SHOWN} gave a reply the resolver cannot read: no Content-Type "
            f"header {UNREADABLE}",
        ),
        (
            UV_PLAIN_TEXT,
            f"{SHOWN} gave a reply the resolver cannot read: Content-Type "
            f'"text/plain", neither HTML nor JSON {UNREADABLE}',
        ),
        (
            UV_BAD_JSON,
            f"{SHOWN} gave a reply the resolver cannot read: JSON that is not a "
            f"simple index page {UNREADABLE}",
        ),
        (
            UV_CUT_SHORT,
            f"{SHOWN} gave a reply the resolver cannot read: a body cut short or "
            f"malformed {UNREADABLE}",
        ),
    ],
    ids=[
        "429",
        "418",
        "302-no-location",
        "no-content-type",
        "text-plain",
        "json",
        "cut-short",
    ],
)
def test_an_index_that_answers_badly_is_named_not_the_requirements(output, message):
    found = index_unreachable(output, PackageIndexes(WITH_TOKEN, (), (TOKEN,)))
    assert str(found) == message
    assert (found.key, found.declared) == ("index_url", WITH_TOKEN)


def test_a_page_the_index_does_not_have_is_left_to_the_requirements():
    assert index_unreachable(UV_PAGE_NOT_FOUND, PackageIndexes(WITH_TOKEN)) is None


def test_an_unreadable_reply_of_an_undeclared_index_names_its_url():
    found = index_unreachable(UV_NO_CONTENT_TYPE, PackageIndexes())
    assert found.problem == (
        f"http://127.0.0.1:{PORT}/simple/six/ gave a reply the resolver cannot "
        "read: no Content-Type header"
    )
    assert found.key is None


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        (UV_TOO_MANY, "answered HTTP 429 Too Many Requests"),
        (
            UV_NO_LOCATION,
            "gave a reply the resolver cannot read: a redirect (HTTP 302 Found) "
            "with no Location",
        ),
    ],
)
def test_freeze_names_the_index_key_for_a_bad_answer(
    tmp_path, monkeypatch, fake_runner, output, problem
):
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("")  # the script the command runs
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[packages]\nrequirements = "requirements.txt"\n'
        f'index_url = "http://__token__:${{IDX_TOKEN}}@127.0.0.1:{PORT}/simple"\n'
    )
    monkeypatch.setattr(resolve_module, "find_uv", lambda: "/fake/bin/uv")

    def handler(argv):
        if argv[1:] == ["--version"]:
            return 0, "uv 0.13.9\n", ""
        return 2, "", output.replace("127.0.0.1", f"__token__:{TOKEN}@127.0.0.1")

    fake_runner(handler)
    with pytest.raises(ConfigError) as caught:
        freeze_project(load_config(tmp_path), environ={"IDX_TOKEN": TOKEN})
    message = str(caught.value)
    assert message.startswith(
        f"{tmp_path / 'reprobox.toml'}: packages.index_url: "
        f"http://***@127.0.0.1:{PORT}/simple {problem} ("
    )
    assert "requirements.txt" not in message and TOKEN not in message
