"""Settings files that write a stand-in in a secret's place go into the image.

Hydra and OmegaConf mark a value the user must give with `???`; templates write
`"{password}"`, `"***"` or `CHANGEME`. Such a file is no credential file: left
out, the run that reads it fails. The judge is the one the line rules use.
"""

from __future__ import annotations

import pytest

from reprobox.credential_files import holds_credentials
from reprobox.credential_lines import placeholder as line_placeholder
from reprobox.stand_ins import placeholder

HYDRA = "db:\n  host: localhost\n  password: ???\ntrainer: {lr: 0.01}\n"
# (file name, text): each a settings file whose only secret slot holds a stand-in.
STAND_IN_SETTINGS = {
    "conf/config.yaml": HYDRA,
    "braces.yaml": 'db:\n  password: "{password}"\n',
    "stars.yaml": 'password: "***"\n',
    "eight_stars.yaml": 'password: "********"\n',
    "command.yaml": "password: $(DB_PASS)\n",
    "question.yaml": 'password: "?"\n',
    "missing.yaml": "api_key: MISSING\n",
    "replace.yaml": "token: REPLACE_ME\n",
    "changeme.env": "DB_PASSWORD=CHANGEME\n",
    "required.yaml": "client_secret: <required>\n",
    "null.yaml": "password: null\n",
    "tilde.yaml": "password: ~\n",
    "empty.yaml": "password:\nuser: me\n",
    "empty_quoted.ini": '[db]\npassword = ""\n',
    "stars.ini": "[db]\npassword = ***\n",
    "braces.toml": '[db]\npassword = "{password}"\n',
    "inline.toml": 'db = { password = "???" }\n',
    "stars.json": '{"db": {"password": "***"}}',
    "missing.json": '{"api_key": "MISSING", "lr": 0.1}',
}
# The same files with a secret written out: each still a credential file.
REAL_SETTINGS = {
    "conf/config.yaml": HYDRA.replace("???", "s3cr3tP4ss"),
    "short.yaml": "password: hunter2\n",
    "capitals.yaml": "api_key: K8S9X2LQ7ZP3\n",
    "digits.yaml": "password: ABC123DEF456\n",
    "stars.ini": "[db]\npassword = a***b9\n",
    "braces.toml": '[db]\npassword = "pw-9f2k"\n',
    "stars.json": '{"db": {"password": "Zq8*kx2"}}',
}


@pytest.mark.parametrize("rel", sorted(STAND_IN_SETTINGS))
def test_a_settings_file_with_a_stand_in_is_no_credential_file(tmp_path, rel):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STAND_IN_SETTINGS[rel])
    assert holds_credentials(path) is False


@pytest.mark.parametrize("rel", sorted(REAL_SETTINGS))
def test_the_same_file_with_a_secret_written_out_still_is(tmp_path, rel):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(REAL_SETTINGS[rel])
    assert holds_credentials(path) is True


@pytest.mark.parametrize(
    ("value", "stands_in"),
    [
        ("???", True),
        ("?", True),
        ("MISSING", True),
        ("REPLACE_ME", True),
        ("YOUR_API_KEY2", True),
        ("null", True),
        ("~", True),
        ("", True),
        ("K8S9X2LQ", False),
        ("ABC123DEF456", False),
        ("hunter2", False),
        ("X", False),
    ],
)
def test_one_judge_serves_line_rules_and_settings(value, stands_in):
    assert placeholder(value) is stands_in
    assert line_placeholder is placeholder


def test_pagination_settings_are_no_credentials(tmp_path):
    # botocore's paginators-1.json: request tokens and keys of results.
    import json

    from reprobox.credential_files import holds_credentials

    path = tmp_path / "paginators-1.json"
    path.write_text(
        json.dumps(
            {
                "pagination": {
                    "ListThings": {
                        "input_token": "NextToken",
                        "output_token": "NextToken",
                        "limit_key": "MaxResults",
                        "result_key": "Things",
                    }
                }
            }
        )
    )
    assert holds_credentials(path) is False
    secret = tmp_path / "s.json"
    secret.write_text(json.dumps({"storage_key": "Zq8e41b7c09d5fa2863bd17e=="}))
    assert holds_credentials(secret) is True
