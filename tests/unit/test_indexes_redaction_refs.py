"""A URL's userinfo that only refers to variables is shown as written."""

import pytest

from reprobox.lock.indexes import redact_message


@pytest.mark.parametrize(
    "text, shown",
    [
        (
            "e.g. https://__token__:${PYPI_TOKEN}@host/simple/",
            "e.g. https://__token__:${PYPI_TOKEN}@host/simple/",
        ),
        ("https://${U}:${P}@h/", "https://${U}:${P}@h/"),
        ("https://${TOKEN}@h/", "https://${TOKEN}@h/"),
        ("u:${PW}@127.0.0.1:5000/team", "u:${PW}@127.0.0.1:5000/team"),
        # A reference with anything more, or a literal, is hidden as before.
        ("https://u:${P}x@h/", "https://***@h/"),
        ("https://u:pw@h/x", "https://***@h/x"),
        ("https://tok@h/", "https://***@h/"),
        # In ${...}, only what names a variable: a pasted token is hidden.
        ("https://__token__:${pypi-AgEIcHlwaS5vcmc}@h/", "https://***@h/"),
        ("https://u:${A_NAME_LONGER_THAN_24_CHARS}@h/", "https://***@h/"),
        ("u:pw@127.0.0.1:5000/team", "u:***@127.0.0.1:5000/team"),
    ],
)
def test_only_references_stay(text, shown):
    assert redact_message(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "'reprobox-base:bookworm-py3.11@sha256:zz' is not an image reference",
        "python:3.11-slim@sha256:" + "a" * 64,
        "base:tag@sha512:" + "b" * 128,
    ],
)
def test_a_tag_pinned_by_digest_is_shown_as_written(text):
    # AL 1: the tag before @sha256: was hidden as if it were a URL password.
    from reprobox.lock.indexes import redact_message

    assert redact_message(text) == text


def test_a_password_before_a_host_is_still_hidden():
    from reprobox.lock.indexes import redact_message

    assert redact_message("pull alice:s3cretpw@registry.local/x") == (
        "pull alice:***@registry.local/x"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # brk r46 (BN 2): a metric name read as a login and cut.
        ("--metric acc:top5@epoch is given twice", None),
        ("metric 'user:pw@host' is not a number", None),
        # A host as Docker reads a registry's: a dot, a port, localhost.
        ("u:pw@myreg:5000/x", "u:***@myreg:5000/x"),
        ("u:pw@localhost/x", "u:***@localhost/x"),
        ("u:pw@[::1]:5000/x", "u:***@[::1]:5000/x"),
    ],
)
def test_only_a_login_before_a_host_is_cut(text, shown):
    from reprobox.lock.indexes import redact_message

    assert redact_message(text) == (shown or text)
