"""A setting in a comment at a line's end is refused as on a line of its own.

`six==1.16.0  # password=X` in requirements.txt was copied into the image
while `# password=X` alone on its line was refused: every text file's
comments, wherever on the line they open, are read as the own-line comment is.
"""

from __future__ import annotations

import pytest

from reprobox.credential_settings import settings_secrets
from reprobox.image_inputs import written_credential

R = "q8Zx3Lm9Tv2Rk7WpY4"  # random, as a password; 18 characters
T = "q8Zx3Lm9Tv2Rk7WpY4nB6s"  # 22: long enough for a bare token= too
SETTING = "a secret setting"
CODE = "a secret assigned in code"  # the quoted forms, refused as code's too
IN_COMMENT = "a secret setting in a comment"


def _found(tmp_path, name, text, strict=False):
    path = tmp_path / name
    path.write_text(text)
    return written_credential(path, strict=strict)


@pytest.mark.parametrize(
    "line",
    [
        f"six==1.16.0 # password={R}",
        f"six==1.16.0  #password={R}",
        f"six # token={T}",
        f"six # api_key={R}",
        f"six # secret: {R}",
        f'six # password = "{R}"',
        f"six # password='{R}'",
        f'six==1.16.0 ; python_version>"3" # password={R}',
        f"-r other.txt # password={R}",
        f"--index-url https://pypi.org/simple # password={R}",
        f"six # see the wiki # password={R}",
        f"six==1.16.0 --hash=sha256:{'a' * 64} # password={R}",
    ],
)
def test_a_requirements_comment_after_a_requirement_is_refused(tmp_path, line):
    text = f"attrs==23.1.0\n{line}\n"
    assert _found(tmp_path, "requirements.txt", text, strict=True) in (
        (2, SETTING),
        (2, CODE),
    )
    # An included file of any name is read the same way.
    assert _found(tmp_path, "other.txt", text, strict=True) in ((2, SETTING), (2, CODE))


@pytest.mark.parametrize(
    "value", ["", "${PASSWORD}", "<your-password>", "changeme", "***", "hunter2"]
)
def test_a_comment_at_a_lines_end_takes_the_own_line_rule_for_a_value(tmp_path, value):
    # Placeholders and words pass alone on their line, and so after a
    # requirement: neither a looser nor a stricter rule.
    alone = _found(tmp_path, "requirements.txt", f"# password={value}\n", strict=True)
    after = _found(
        tmp_path, "requirements.txt", f"six # password={value}\n", strict=True
    )
    assert alone is None
    assert after is None


@pytest.mark.parametrize(
    "line",
    [
        # pip opens a comment only at a # after a blank: these are a URL's
        # fragment and a hash, not comments.
        f"six @ https://example.com/six.whl#password={R}",
        f"six==1.16.0 --hash=sha256:abc#password={R}",
        # A short token= names a word of a vocabulary as often as a secret,
        # as alone on its line.
        f"six # token={R}",
        "six # password: see the team wiki",
    ],
)
def test_what_pip_reads_as_no_comment_or_no_secret_is_not_refused(tmp_path, line):
    assert _found(tmp_path, "requirements.txt", f"{line}\n", strict=True) is None


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("setup.cfg", f"[metadata]\nname = x  # password={R}\n", SETTING),
        ("setup.cfg", f"[metadata]\nname = x  ; password={R}\n", SETTING),
        ("pyproject.toml", f'[project]\nname = "x"  # api_key = {R}\n', SETTING),
        ("README.md", f"# Title\nInstall it # password={R}\n", SETTING),
        ("train.py", f"import os\nx = 1  # password={R}\n", IN_COMMENT),
        ("train.py", f"import os\n# password={R}\n", IN_COMMENT),
        ("train.py", f"import os\nf(x)#secret: {R}\n", IN_COMMENT),
        ("app.js", f"let a = 1;\nlet x = 1; // password={R}\n", IN_COMMENT),
        ("main.go", f"package main\nvar x = 1 // api_key: {R}\n", IN_COMMENT),
        ("run.sh", f"#!/bin/sh\necho hi # password={R}\n", IN_COMMENT),
        ("Makefile", f"all:\n\techo hi # password={R}\n", IN_COMMENT),
        ("Dockerfile", f"FROM x\nRUN echo hi # password={R}\n", IN_COMMENT),
        ("main.tf", f'locals {{\n  a = "b" // password={R}\n}}\n', IN_COMMENT),
        ("notes.txt", f"Some notes\nthe server # password={R}\n", IN_COMMENT),
        ("config.yaml", f"a: 1\nname: x  # password: {R}\n", IN_COMMENT),
    ],
)
def test_a_comment_at_a_lines_end_is_refused_in_every_kind_of_file(
    tmp_path, name, text, kind
):
    strict = name == "pyproject.toml"
    assert _found(tmp_path, name, text, strict=strict) == (2, kind)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        # A # in a string opens no comment: the string is the code's value.
        ("train.py", f'x = "a#password={R}"'),
        ("train.py", f'x = "a # secret: {R}"'),
        ("app.js", f"let u = 'http://a // secret: {R}';"),
        # A URL's fragment in a comment is no second comment.
        ("train.py", f"# see https://example.com/cb#password={R}"),
        ("notes.txt", f"see https://example.com/cb#password={R}"),
        # A URL's // is no comment.
        ("app.js", f"let u = x; http://example.com/password={R}"),
        # Prose, a field's kind, a short or plain value.
        ("train.py", "x = 1  # password: str"),
        ("train.py", "x = 1  # token=refresh_me_later"),
        ("train.py", "x = 1  # key=val_loss_2024_epoch3"),
        ("config.yaml", "lr: 0.1  # api_key: set at run time"),
    ],
)
def test_what_opens_no_comment_or_sets_no_secret_is_not_refused(tmp_path, name, line):
    assert _found(tmp_path, name, f"{line}\n") is None


@pytest.mark.parametrize(
    ("text", "yaml"),
    [
        (f"DEBUG=1 # password={R}\n", False),
        (f"[db]\nhost = db ; password={R}\n", False),
        (f"[db]\nhost = db # token={R}\n", False),
        (f"host: db  # password: {R}\n", True),
        (f"- host: db  # password={R}\n", True),
    ],
)
def test_a_settings_files_comment_after_a_setting_makes_it_a_credential_file(
    text, yaml
):
    # The comment's value itself, as on a line of its own: not the whole
    # text after the name, which a shape rule may also take for a secret.
    assert R in settings_secrets(text, yaml)


@pytest.mark.parametrize(
    ("text", "yaml"),
    [
        (f'[db]\nhost = "db#password={R}"\n', False),
        ("host: db  # password: Required\n", True),
        ("host: db  # token: str\n", True),
        (f"url = https://example.com/x#password={R}\n", False),
    ],
)
def test_a_settings_files_string_fragment_or_field_doc_is_no_credential(text, yaml):
    assert settings_secrets(text, yaml) == []
