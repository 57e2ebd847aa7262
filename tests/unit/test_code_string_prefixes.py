"""A secret in a Python string with a prefix or in triple quotes, or in a
JavaScript template literal, is written out as it is in plain quotes.

f"X", rb"X", '''X''' and `X` are all X; an f-string's or a template's
replacement field ({x}, ${x}) is code, so a string made of fields writes
nothing out, and one whose literal text alone is a secret writes that out.
"""

from __future__ import annotations

import pytest
from fresh_python import run_reprobox

from reprobox.config import load_config
from reprobox.credential_lines import credential_on_line
from reprobox.freeze import freeze_project

T = "Tq7vN2xKp9Lm4RzAb3Xw8Yc5"
CODE = "a secret assigned in code"
ENVIRON = "a secret set in os.environ"
HEADER = "a token in an Authorization header"


def _found(text: str):
    return credential_on_line("import os\n" + text)


@pytest.mark.parametrize("prefix", ["", "r", "b", "u", "R", "B", "U"])
def test_the_prefixes_refused_before_still_are(prefix):
    assert _found(f'password = {prefix}"{T}"\n') == (2, CODE)


@pytest.mark.parametrize(
    "prefix", ["f", "F", "rf", "fr", "Rf", "fR", "RF", "rb", "br", "Rb", "bR", "BR"]
)
def test_every_other_prefix_reads_as_quotes(prefix):
    assert _found(f'password = {prefix}"{T}"\n') == (2, CODE)
    assert _found(f"password = {prefix}'{T}'\n") == (2, CODE)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f'API_KEY = F"{T}"', CODE),
        (f'cfg = {{"client_secret": f"{T}"}}', CODE),
        (f'key = os.getenv("API_KEY", f"{T}")', CODE),
        (f'key = os.getenv("API_KEY", r"{T}")', CODE),
        (f'r = get(u, auth=("admin", f"{T}"))', CODE),
        (f'r = get(u, auth=HTTPBasicAuth("admin", rb"{T}"))', CODE),
        (f'login(token=rf"{T}")', CODE),
        (f'cfg["api_key"] = f"{T}"', CODE),
        (f'self.password: str = f"{T}"', CODE),
        (f'headers = {{"X-API-Key": f"{T}"}}', CODE),
        (f'os.environ["WANDB_API_KEY"] = f"{T}"', ENVIRON),
        (f'os.environ.setdefault("HF_TOKEN", Rb"{T}")', ENVIRON),
        (f'os.environ["WANDB_API_KEY"] = """{T}"""', ENVIRON),
        (f'headers = {{"Authorization": f"Bearer {T}"}}', HEADER),
        (f'headers = {{"Authorization": """Bearer {T}"""}}', HEADER),
    ],
)
def test_prefixed_strings_in_each_shape_are_refused(line, kind):
    assert _found(line + "\n") == (2, kind)


@pytest.mark.parametrize(
    "line",
    [
        f'password = """{T}"""',
        f"api_key = '''{T}'''",
        f'password = rf"""{T}"""',
        f'password = """{T}\n"""',  # closed on the next line
        f'auth=("admin", """{T}""")',
    ],
)
def test_a_triple_quoted_token_is_refused_on_its_line(line):
    assert _found(line + "\n") == (2, CODE)


def test_a_triple_quoted_token_on_the_next_line_is_named_there():
    assert _found(f'password = """\n    {T}\n"""\n') == (3, CODE)
    assert _found(f"api_key = f'''\n{T}'''\n") == (3, CODE)


def test_a_prefixed_value_on_the_next_line_is_named_there():
    assert _found(f'password = (\n    f"{T}"\n)\n') == (3, CODE)
    assert _found(f'wandb.login(key=\\\n    rb"{T}")\n') == (3, CODE)
    assert _found('password = (\n    f"{user}-{n}"\n)\n') is None


def test_a_literal_token_beside_a_replacement_field_is_refused():
    # The field does not hide the literal text: a secret with a suffix.
    assert _found(f'password = f"{T}{{suffix}}"\n') == (2, CODE)
    assert _found(f'api_key = f"{{env}}-{T}"\n') == (2, CODE)
    assert _found(f"const apiKey = `${{env}}-{T}`;\n") == (2, CODE)


@pytest.mark.parametrize(
    "line",
    [
        f"const apiKey = `{T}`;",
        f"const config = {{ apiKey: `{T}` }};",
        f"let password = `{T}`",
    ],
)
def test_a_javascript_template_literal_reads_as_quotes(line):
    assert _found(line + "\n") == (2, CODE)


@pytest.mark.parametrize(
    "text",
    [
        'token = f"{prefix}-{n}"',
        'x = f"token={tok}"',
        'password = f"{user}:{password}"',
        "api_key = f\"{API_KEY_PREFIX}{os.environ['N']}\"",
        'headers = {"Authorization": f"Bearer {token}"}',
        "const apiKey = `${process.env.API_KEY}`;",
        "const url = `https://api/${apiKey}/v1`;",
        'def password_for(user):\n    """Return the password for user."""',
        '"""Read the api_key and token from the environment."""',
        'SECRET_HELP = """\nSet WANDB_API_KEY before you train.\n"""',
        # A str.format template is judged whole, its braces and all.
        'password = "{user}Tq7vN2xKp9Lm4RzAb3Xw8Yc5"',
        'key = f"val_loss_{epoch}"',
        'pad_token = f"<pad>"',
        "max_tokens = 512",
        'password = """\n"""',
        'password = ""',
        'x = """doc"""\nkey_name_of_the_run = "run"',
    ],
)
def test_harmless_prefixed_and_triple_quoted_strings_pass(text):
    assert _found(text + "\n") is None


def test_freeze_refuses_an_f_string_secret_in_one_line(six_project):
    (six_project / "train.py").write_text(
        f'import os\n\npassword = f"{T}"\nprint(password)\n'
    )
    result = run_reprobox("freeze", str(six_project))
    assert result.returncode == 2, result.stderr
    # A progress line, then the error: one line, naming file, line and fix.
    assert result.stderr.splitlines()[-1] == (
        f"reprobox: error: {six_project / 'train.py'}:3: holds a credential "
        f"({CODE}), and this file is copied into the image (remove it (pass "
        "secrets at run time with reprobox run --env NAME), or list the file "
        "in .reproboxignore)"
    )
    assert not (six_project / "reprobox.lock").exists()


def test_freeze_refuses_a_triple_quoted_secret_and_passes_a_docstring(six_project):
    train = six_project / "train.py"
    train.write_text('def login():\n    """Return the password for user."""\n')
    freeze_project(load_config(six_project), environ={})  # no error
    train.write_text(f"import os\napi_key = '''{T}'''\n")
    result = run_reprobox("freeze", str(six_project))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"reprobox: error: {train}:2: holds a credential ({CODE})"
    )
    assert T not in result.stderr
