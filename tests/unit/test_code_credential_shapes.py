"""Credentials that code writes in shapes other than a name = "secret":
a Basic login header, connection strings and webhooks inside a string,
positional logins, JavaScript keys, os.putenv and a value on the next line."""

from __future__ import annotations

import base64

import pytest

from reprobox.credential_lines import credential_on_line

R = "Xk9mP2qR7vL4nT8wZ3jD"
BASIC = base64.b64encode(f"admin:{R}".encode()).decode()
HEADER = "a token in an Authorization header"


def _line_of(text: str):
    return credential_on_line("import requests\n" + text)


@pytest.mark.parametrize(
    "line",
    [
        f'r = requests.get(url, headers={{"Authorization": "Basic {BASIC}"}})',
        f'curl -H "Authorization: Basic {BASIC}" https://api.example/v1',
    ],
)
def test_a_basic_login_header_is_judged_by_its_password(line):
    assert _line_of(line + "\n") == (2, HEADER)


@pytest.mark.parametrize(
    "line",
    [
        # RFC 7617's aladdin:opensesame and user:pass, as docs write them.
        'curl -H "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l" https://x',
        "# Authorization: Basic dXNlcjpwYXNz",
        'curl -H "Authorization: Basic $CREDENTIALS" https://x',
        'headers = {"Authorization": f"Basic {encoded}"}',
        'headers = {"Authorization": "Basic " + b64encode(login).decode()}',
    ],
)
def test_a_basic_header_without_a_written_password_is_not(line):
    assert _line_of(line + "\n") is None


@pytest.mark.parametrize(
    "line",
    [
        # bz: the header's value as a string of its own, or set by item.
        f'h = f"Bearer {R}"',
        f"auth_header = 'Bearer {R}'",
        f'headers["Authorization"] = "Bearer {R}"',
        f"headers['Authorization'] = f'Bearer {R}'",
        f'session.headers.update(auth="Basic {BASIC}")',
        f"Send `Bearer {R}` as the header.",
    ],
)
def test_a_bearer_value_written_out_anywhere_is_found(line):
    assert _line_of(line + "\n") == (2, HEADER)


@pytest.mark.parametrize(
    "line",
    [
        'h = f"Bearer {token}"',
        'h = "Bearer " + token',
        'h = "Bearer <your token>"',
        'print("Bearer tokens are described in RFC 6750")',
        '"Bearer abcdefghijklmnopqrstuvwxyz"  # not random: a made-up example',
        'doc = "Basic auth is sent as base64 of user:password"',
    ],
)
def test_a_bearer_string_without_a_written_token_is_not(line):
    assert _line_of(line + "\n") is None


AZURE_KEY = "q2Vx8Lm4Tz7Rb1Nc5Kd9Wf3Hg6Jp0As2Ye4Ui8Ow1Qr5Tx7Lz3Mb9Nv6Cx2Zk4Jh8=="
SETTING = "a secret setting in a connection string"
WEBHOOK = "a webhook or bot URL with its token"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f'conn = psycopg2.connect("host=db password={R} dbname=runs")', SETTING),
        (
            'BLOB = "DefaultEndpointsProtocol=https;AccountName=runs;'
            f'AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net"',
            SETTING,
        ),
        (f"odbc = 'Driver={{ODBC}};Server=db;Uid=ci;Pwd={R};'", SETTING),
        (f'HOOK = "https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/{R}"', WEBHOOK),
        (f"# alerts: https://discord.com/api/webhooks/1234567890/{R}", WEBHOOK),
    ],
)
def test_a_secret_inside_a_string_is_found(line, kind):
    assert _line_of(line + "\n") == (2, kind)


@pytest.mark.parametrize(
    "line",
    [
        'psycopg2.connect("host=db password=%s dbname=runs" % password)',
        'dsn = f"host=db password={password} dbname=runs"',
        'psycopg2.connect("host=db user=ci dbname=runs sslmode=require")',
        '"DefaultEndpointsProtocol=https;AccountName=runs;AccountKey=<key>"',
        # Azurite's published emulator key.
        '"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey='
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
        'K1SZFPTOtr/KBHBeksoGMGw=="',
        '"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"',
        'HOOK = os.environ["SLACK_WEBHOOK_URL"]  # https://hooks.slack.com/services/',
        'query = "sort=asc&page=2&key=created_at"',
        # OAuth docs' example response: a query string's values must be tokens.
        "'oauth_token=lsdkfol23w54jlksdef&oauth_token_secret=qwe089234lkjsdf'",
    ],
)
def test_strings_without_a_written_secret_are_not(line):
    assert _line_of(line + "\n") is None


CODE = "a secret assigned in code"


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [
        (f'r = requests.get(url, auth=("ci", "{R}"))\n', 2, CODE),
        (f'session.auth = HTTPBasicAuth("admin", "{R}")\n', 2, CODE),
        (f'auth = aiohttp.BasicAuth(login="u", password="{R}")\n', 2, CODE),
        (f'r = get(url, auth=(user, "{R}"), timeout=5)\n', 2, CODE),
        (f'const client = new Api({{ apiKey: "{R}" }});\n', 2, CODE),
        (f'os.putenv("API_KEY", "{R}")\n', 2, "a secret set in os.environ"),
        (f'password = (\n    "{R}"\n)\n', 3, CODE),
        (f'CONFIG = {{\n    "client_secret":\n        "{R}",\n}}\n', 4, CODE),
        (f'TOKEN = \\\n    "{R}"\n', 3, CODE),
        (f'    self.password = (\n        "{R}"\n    )\n', 3, CODE),
    ],
)
def test_positional_keyed_and_wrapped_secrets_are_found(text, line, kind):
    assert _line_of(text) == (line, kind)


@pytest.mark.parametrize(
    "text",
    [
        'r = requests.get(url, auth=("ci", os.environ["CI_PASSWORD"]))\n',
        'session.auth = HTTPBasicAuth("user", "pass")\n',
        'auth = ("admin", "changeme-please-2024")\n',
        "const client = new Api({ apiKey: process.env.API_KEY });\n",
        'const labels = { tokenizer: "bert-base-uncased" };\n',
        'os.putenv("TOKENIZERS_PARALLELISM", "false")\n',
        f'model_name = (\n    "{R}"\n)\n',
        f'print(\n    "{R}"\n)\n',
        'password = (\n    os.environ["DB_PASSWORD"]\n)\n',
        f'if token:\n    log("{R}")\n',
        # Prose that ends with a quoted name: a description, not code.
        'desc: For example: "rawKey":\n'
        '  "SGVsbG8gZnJvbSBHb29nbGUgQ2xvdWQgUGxhdGZvcm0="\n',
    ],
)
def test_their_look_alikes_are_not(text):
    assert _line_of(text) is None
