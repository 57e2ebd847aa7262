"""Settings files judged by the names `[env]` refuses, and ML configs that are not.

docs/config.md promises that a settings file stays out when it sets a variable
name that `[env]` would refuse, however the file spells the setting.
"""

from __future__ import annotations

import pytest

from reprobox.credential_files import holds_credentials
from reprobox.envvars import looks_secret

# (file name, text): a name [env] refuses, given a value in a settings shape.
SECRET = [
    ("app.cfg", "[db]\nDB_PASS = hunter2x\n"),
    ("mail.ini", "[smtp]\nSMTP_PASS = hunter2x\n"),
    ("db.ini", "db_pwd = hunter2x\n"),
    ("db.conf", "MYSQL_ROOT_PASS = hunter2x\n"),
    ("config.yaml", "DB_PASS: hunter2x\n"),
    ("config.yml", "db:\n  MYSQL_PWD: hunter2x\n"),
    ("settings.json", '{"DB_PASS": "hunter2x"}'),
    ("settings2.json", '{"db": {"db_pass": "hunter2x"}}'),
]
# The same shapes whose names [env] refuses too, or nearly, but whose values
# are counts, rates and switches, or whose names are about something else.
PLAIN = [
    ("train.cfg", "[train]\npasses = 3\nbypass = true\n"),
    ("nav.yaml", "compass: north\n"),
    ("eval.yaml", "pass_rate: 0.9\npassword_min_len: 8\nmax_tokens: 512\n"),
    ("data.yaml", "text_key: text\nsession_name: run1\nauth_type: basic\n"),
    ("gen.json", '{"max_tokens": 512, "pass_rate": 0.9, "text_key": "text"}'),
    ("nav.json", '{"compass": "north", "bypass": "true"}'),
]


@pytest.mark.parametrize(("name", "text"), SECRET)
def test_a_setting_named_as_env_refuses_makes_a_credential_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert holds_credentials(path) is True


@pytest.mark.parametrize(("name", "text"), PLAIN)
def test_ml_settings_with_look_alike_names_are_no_credential_file(
    tmp_path, name, text
):
    path = tmp_path / name
    path.write_text(text)
    assert holds_credentials(path) is False


def test_env_refuses_these_names_but_not_english_words_ending_in_pass():
    for name in ("DB_PASS", "SMTP_PASS", "MYSQL_PWD", "MYSQL_ROOT_PASS", "db_pwd"):
        assert looks_secret(name) is True
    for name in ("COMPASS", "BYPASS", "SURPASS", "TRESPASS", "PASSES"):
        assert looks_secret(name) is False


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("sum.yaml", "key_points: three bullets\npassword_hint: the usual\n"),
        ("gen.yaml", "max_tokens: auto\nnum_keys: all\n"),
        ("data.jsonl", '{"key_points": "a, b", "password_hint": "blue"}\n'),
    ],
)
def test_names_about_a_secret_but_not_it_are_no_credential_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert holds_credentials(path) is False


def test_a_json_lines_record_with_such_a_name_is_refused_only_when_it_is_one():
    from reprobox.credential_lines import credential_on_line

    assert credential_on_line('{"db_pass": "hunter2x"}\n') is not None
    assert credential_on_line('{"key_points": "a, b", "pass_hint": "x"}\n') is None
