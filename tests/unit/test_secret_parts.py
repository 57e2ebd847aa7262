"""The parts of a structured secret value that a script prints alone are hidden.

The parts come from the readings that judge the value a secret, so a shape
reprobox refuses is a shape whose secret part it hides.
"""

from __future__ import annotations

import base64
import json

import pytest

from reprobox.credential_files import secret_parts, secret_value
from reprobox.credential_lines import credential_on_line
from reprobox.secret_masking import secret_hider

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAx1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0\n"
    "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdEfGhIjKlMnOp\n"
    "Yz0=\n"
    "-----END RSA PRIVATE KEY-----\n"
)


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        # Connection strings: the secret-named key's value, commas and all.
        ("Server=x;User Id=sa;Password=Pw0rdPw0rd99;", ["Pw0rdPw0rd99"]),
        ("Host=h;Pwd=Pw0rd,Pw0rd99;Encrypt=yes", ["Pw0rd,Pw0rd99"]),
        # JSON, nested, its escapes read.
        ('{"password":"HunterHunter22"}', ["HunterHunter22"]),
        ('{"db": {"auth": {"client_secret": "Nest\\"Quote77"}}}', ['Nest"Quote77']),
        # netrc: every entry's password, never its login.
        ("machine h login u password Gz4kP9mQ2wE6rT8yH", ["Gz4kP9mQ2wE6rT8yH"]),
        (
            "machine a login alice password FirstPassw0rd\n"
            "machine b login bob password SecondPassw0rd",
            ["FirstPassw0rd", "SecondPassw0rd"],
        ),
        # Headers: the token, bare Bearer too; Basic also gives its login.
        (
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig0123456",
            ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig0123456"],
        ),
        (
            "Authorization: Basic " + base64.b64encode(b"ci:S3cretPass123").decode(),
            ["Y2k6UzNjcmV0UGFzczEyMw==", "ci:S3cretPass123", "S3cretPass123"],
        ),
        # AWS credentials: the key id is a published token, the key a setting.
        (
            "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
        ),
        # YAML and INI settings.
        ('db:\n  host: h\n  password: "Xyzzy12345"\n', ["Xyzzy12345"]),
        ("[server]\nhost=h\napi_key=Qw3rTy7UiOp9\n", ["Qw3rTy7UiOp9"]),
        # Options kept in a variable, a token in prose, XML, a pgpass line.
        ("--user bob --password Sw0rdfishSw0rd", ["Sw0rdfishSw0rd"]),
        (
            "use ghp_abcdefghijklmnopqrstuvwxyz0123456789 now",
            ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
        ),
        ("<server><password>MavenPass123</password></server>", ["MavenPass123"]),
        ("localhost:5432:app:bob:PgPassw0rd99", ["PgPassw0rd99"]),
    ],
)
def test_each_shape_gives_its_secret_part(value, parts):
    assert secret_value("MY_SETTING", value) is True
    found = secret_parts(value)
    assert [part for part in found if part in parts] == parts
    # Nothing that is not secret comes with them: the login, the host, the user.
    for plain in ("alice", "bob", "sa", "ci", "localhost", "host"):
        assert plain not in found


def test_a_private_key_gives_its_long_body_lines():
    assert secret_parts(PEM) == [
        PEM,
        "MIIEowIBAAKCAQEAx1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdEfGhIjKlMnOp",
    ]


def test_a_key_written_in_one_line_gives_its_lines_too():
    one_line = PEM.replace("\n", "\\n")
    assert secret_parts(one_line)[1:] == [
        "MIIEowIBAAKCAQEAx1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdEfGhIjKlMnOp",
    ]


def test_a_value_with_no_structure_gives_no_part():
    assert secret_parts("plain words only") == []


@pytest.mark.parametrize(
    ("name", "value", "printed", "shown"),
    [
        (
            "MY_CONN",
            "Server=x;User Id=sa;Password=Pw0rdPw0rd99;",
            "pw=Pw0rdPw0rd99 user=sa server=x",
            "pw=*** user=sa server=x",
        ),
        (
            "SECRET_JSON",
            '{"password":"HunterHunter22"}',
            "password is HunterHunter22",
            "password is ***",
        ),
        (
            "MY_NETRC",
            "machine h login u password Gz4kP9mQ2wE6rT8yH",
            "login u with Gz4kP9mQ2wE6rT8yH",
            "login u with ***",
        ),
        (
            "MY_BEARER",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig0123456",
            "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig0123456",
            "token=***",
        ),
        (
            "MY_BASIC",
            "Authorization: Basic " + base64.b64encode(b"ci:S3cretPass123").decode(),
            "user ci, password S3cretPass123",
            "user ci, password ***",
        ),
        (
            "MY_YAML",
            "user: bob\npassword: Xyzzy12345\n",
            "bob uses XYZZY12345",  # in any case, as the hider reads
            "bob uses ***",
        ),
    ],
)
def test_a_printed_part_is_hidden(name, value, printed, shown):
    assert secret_hider({name: value})(printed) == shown


def test_a_part_in_a_printed_form_is_hidden():
    hide = secret_hider({"MY_CONN": "Server=x;Password=Pw0rd/Pw0rd99;"})
    assert hide(json.dumps({"p": "Pw0rd/Pw0rd99"})) == '{"p": "***"}'
    assert hide("q=Pw0rd%2FPw0rd99") == "q=***"
    assert hide("hex=" + b"Pw0rd/Pw0rd99".hex()) == "hex=***"


def test_a_private_key_printed_line_by_line_is_hidden():
    hide = secret_hider({"MY_KEY": PEM})
    printed = "".join(f"line: {line}\n" for line in PEM.splitlines())
    assert hide(printed) == (
        "line: -----BEGIN RSA PRIVATE KEY-----\n"
        "line: ***\n"
        "line: ***\n"
        "line: Yz0=\n"
        "line: -----END RSA PRIVATE KEY-----\n"
    )


def test_a_part_shorter_than_six_is_left_alone():
    # Hiding "Pw9" would hide it in every word that holds it.
    hide = secret_hider({"MY_CONN": "Server=x;Password=Pw9;"})
    assert hide("Pw9 stays, Server=x;Password=Pw9; goes") == "Pw9 stays, *** goes"


# Tokens of formats added to secret_shapes.PUBLISHED_TOKEN, found by the line
# rule in files as well as in values.
NEW_FORMATS = [
    "hvs.CAESIJlWh2Lk3nR8tV4yB7qX9pZ1sD5fG8hJ2kL4mN6bV8cX1zR4T",
    "gldt-Ab3dE5fG7hJ9kL1mN3pQ",
    "glptt-0123456789abcdef0123456789abcdef01234567",
    "xoxe.xoxp-1-Mi0yLTE3NDU2MjA",
    "xoxe-1-My0xLTE3NDU2MjA",
    "PMAK-0123456789abcdef01234567-0123456789abcdef0123456789abcdef01",
    "dp.st.dev.Ab3dE5fG7hJ9kL1mN3pQ5rS7",
    "pscale_pw_Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW",
    "pul-0123456789abcdef0123456789abcdef01234567",
]


@pytest.mark.parametrize("token", NEW_FORMATS)
def test_a_newly_known_format_is_a_secret_value_and_line(token):
    assert secret_value("MY_VAULT", token) is True
    found = credential_on_line(f"# docs\nsee {token}\n")
    assert found == (2, "a token of a published format")
    assert secret_hider({"MY_VAULT": token})(f"got {token}.") == "got ***."


@pytest.mark.parametrize(
    "token",
    [
        "acme_live_Zx8Cv7Bn6Mq5Wr4Et3Yu2Io1P",
        "newvendor-Q7x9LmPz2KsT4vWbYc3dRe5f",
        "ab.cd.Ab3dE5fG7hJ9kL1mN3pQ5rS7",
    ],
)
def test_a_prefixed_random_token_of_an_unknown_format_is_a_secret_value(token):
    assert secret_value("MY_SETTING", token) is True
    assert secret_parts(f"use {token} here") == [token]
    # Files are read by the published formats alone: no false alarm in code.
    assert credential_on_line(f"x = 1\n# {token}\n") is None


@pytest.mark.parametrize(
    "value",
    [
        "git-3f9a0c1b2d4e5f60718293a4b5c6d7e8f9012345",  # a hex digest
        "bert-base-uncased",
        "run-2024-01-01T12-00-00",
        "my-bucket-name-for-training-data",
        "model.v2.checkpoint_final_epoch_20",
        "exp_ABCDEFGHIJKLMNOPQRSTUVWX",  # capitals only, no digits
        "ckpt-aaaaaaaaaaaaaaaaaaaaaaaaA1",  # not random: one letter repeated
    ],
)
def test_prefixed_values_that_are_not_random_are_no_secret(value):
    assert secret_value("RUN_SETTING", value) is False
    assert secret_parts(value) == []
