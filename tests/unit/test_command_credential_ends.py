"""A command line's secret ends where the text holding the command closes.

Markdown writes a command as a code span (`wandb login X`), RST as a literal
(``wandb login X``), code as a string (os.system("wandb login X")): the
backtick or quote right after the secret ends it, as a blank does, and so do
the ; , ) | a shell or a call puts after an argument.
"""

from __future__ import annotations

import pytest
from fresh_python import run_reprobox

from reprobox.credential_lines import credential_on_line
from reprobox.image_inputs import written_credential

S = "Xq7rT2mLp9Vw4Kz8Nc3Bd6Hs"
COMMAND = "a secret passed on a command line"
SCRIPT = "a secret set by a script line"
CODE = "a secret assigned in code"
HEADER = "a secret in a request header"

# Each command, and the kind of credential it gives away.
COMMANDS = [
    (f"huggingface-cli login --token {S}", COMMAND),
    (f"hf auth login --token={S}", COMMAND),
    (f"huggingface-cli login {S}", COMMAND),
    (f"wandb login {S}", COMMAND),
    (f"wandb login --relogin {S}", COMMAND),
    (f"docker login -u me -p {S}", COMMAND),
    (f"curl -u admin:{S}", COMMAND),
    (f"train --password {S}", COMMAND),
    (f"train --password={S}", COMMAND),
    # password='X' reads as code's assignment first.
    (f"mysqldump --password='{S}'", CODE),
    (f"curl -H X-Api-Key:{S}", HEADER),
    (f"export WANDB_API_KEY={S}", SCRIPT),
    (f"export HF_TOKEN={S}", SCRIPT),
    (f"set API_KEY={S}", SCRIPT),
    (f"HF_TOKEN={S} python train.py", CODE),
]

# How a file of each kind holds a command on its second line: {} is the
# command.
HOLDERS = [
    ("notes.md", "Run `{}`"),
    ("notes.md", "`{}`"),
    ("notes.md", "Run `{}` before training."),
    ("notes.md", "- ``{}``"),
    ("notes.rst", "Run ``{}`` first."),
    ("notes.txt", "Log in: `{}`"),
    ("train.py", "# Log in with `{}` first."),
    ("train.py", "# Log in with ``{}`` first."),
]


@pytest.mark.parametrize(("command", "kind"), COMMANDS)
@pytest.mark.parametrize(("name", "holder"), HOLDERS)
def test_a_command_in_a_code_span_gives_its_secret_away(name, holder, command, kind):
    text = "# Setup\n" + holder.format(command) + "\nThen train.\n"
    assert credential_on_line(text, name) == (2, kind)


# Commands that end the value at a closing quote in code; the list form and
# the export inside a shell string were refused already.
@pytest.mark.parametrize(
    "command",
    [
        f"huggingface-cli login --token {S}",
        f"wandb login {S}",
        f"huggingface-cli login {S}",
        f"docker login -u me -p {S}",
        f"curl -u admin:{S}",
        f"train --password {S}",
        f"train --password={S}",
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        'subprocess.run("{}", shell=True)',
        "subprocess.run('{}', shell=True)",
        'os.system("{}")',
        'run(f"{}")',
    ],
)
def test_a_command_in_a_string_ends_at_its_closing_quote(call, command):
    text = "import os\n" + call.format(command) + "\n"
    assert credential_on_line(text, "train.py") == (2, COMMAND)


@pytest.mark.parametrize("after", [";", ",", ")", " |", "|", ") && echo ok"])
def test_a_shell_or_call_separator_ends_a_bare_secret(after):
    for command in (f"wandb login {S}", f"train --token {S}", f"curl -u me:{S}"):
        text = f"#!/bin/sh\n({command}{after}\n"
        assert credential_on_line(text) == (2, COMMAND), command


@pytest.mark.parametrize(
    "value",
    [
        f"{S}==",  # base64 padding is the value's own
        "hf_Xq7rT2mLp9Vw4/Kz8+Nc3Bd6",  # / and + too
        "Xq7r-T2mL_p9Vw.4Kz8Nc3Bd6Hs",  # and - _ .
    ],
)
def test_a_tokens_own_characters_stay_in_it(value):
    from reprobox.command_credentials import command_line_secrets

    for text in (f"`train --token {value}`", f'os.system("train --token {value}")'):
        assert list(command_line_secrets(text)) == [value], text


@pytest.mark.parametrize(
    "line",
    [
        # The AWS CLI's pagination token: base64 of {"NextToken": null, ...}.
        "    --starting-token eyJOZXh0VG9rZW4iOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91"
        "bnQiOiAxMH0=",
        # Lake Formation's part of a query's results.
        "    --work-unit-token 'B2fMSdmQXe9umX8Ux8XCo4=' outfile",
    ],
)
def test_a_padded_token_of_a_request_is_none(line):
    # Read whole now that padding is the value's own, these name no login.
    text = f"Command::\n\n    aws example \\\n{line}\n"
    assert credential_on_line(text, "example.rst") is None


def test_an_option_whose_value_is_settings_is_none():
    # docker build --secret id=x,src=y: the = inside it is no padding.
    text = f"`docker build --secret id=hf,src={S} .`"
    assert credential_on_line(text, "notes.md") is None


@pytest.mark.parametrize(
    "line",
    [
        "`--token` takes your token",
        "Pass `--token` and `--password` to log in.",
        "`wandb login` asks for the key",
        "`huggingface-cli login` stores the token in `~/.cache/huggingface`.",
        "`export HF_TOKEN=$HF_TOKEN`",
        "`export HF_TOKEN=${HF_TOKEN}`",
        "``export WANDB_API_KEY=<your key>``",
        "`--password <your password>`",
        "Run `huggingface-cli login --token ${TOKEN}`",
        "Run `huggingface-cli login --token $(cat ~/.hf_token)`",
        "Run `train --token `cat token.txt``",
        "`docker login -u me -p $CI_REGISTRY_PASSWORD`",
        "`curl -u user:pass https://api.example/v1`",
        "`curl -u $USER:$TOKEN`",
        "`train --token {token}` (a str.format template)",
        "`train --token abc${SUFFIX}`",
        "`train --password=secret`",
        "`wandb login --relogin`",
        "`HF_TOKEN=$HF_TOKEN python train.py`",
        "`python train.py --eos_token '<|endoftext|>' --max-tokens 4096`",
        "`X-API-Key: YOUR_API_KEY`",
    ],
)
@pytest.mark.parametrize("name", ["notes.md", "notes.rst", "notes.txt", "train.py"])
def test_harmless_code_spans_stay_accepted(name, line):
    text = f"# Setup\n{'# ' if name == 'train.py' else ''}{line}\n"
    assert credential_on_line(text, name) is None


def test_written_credential_names_the_line_of_a_markdown_file(tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text(f"# Notes\n\nRun `huggingface-cli login --token {S}`\n")
    assert written_credential(notes) == (3, COMMAND)


def test_freeze_refuses_a_login_in_a_code_span(six_project):
    notes = six_project / "notes.md"
    notes.write_text(f"# Notes\n\nRun `wandb login {S}` once.\n")
    result = run_reprobox("freeze", str(six_project))
    assert result.returncode == 2, result.stderr
    assert S not in result.stderr
    # A progress line, then the error: one line, naming file, line and fix.
    assert result.stderr.splitlines()[-1] == (
        f"reprobox: error: {notes}:3: holds a credential ({COMMAND}), and this "
        "file is copied into the image (remove it (pass secrets at run time "
        "with reprobox run --env NAME), or list the file in .reproboxignore)"
    )
    assert not (six_project / "reprobox.lock").exists()
