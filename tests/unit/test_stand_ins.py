"""A stand-in word makes a value a placeholder in every line rule alike."""

from __future__ import annotations

import pytest

from reprobox.code_assignments import random_string
from reprobox.credential_lines import credential_on_line, placeholder
from reprobox.stand_ins import stand_in

# One line of each rule that judges a value, with the kind it is refused as.
LINES = {
    "a secret set in os.environ": "import os\nos.environ['GOOGLE_API_KEY'] = '{v}'\n",
    "a secret set by a script line": "#!/bin/sh\nexport WANDB_API_KEY={v}\n",
    "a secret assigned in code": 'import db\ndb.connect(password="{v}")\n',
    "a secret field in a JSON record": '{{"step": 1}}\n{{"api_key": "{v}"}}\n',
    "a password in a URL": 'x = 1\nURL = "https://svc:{v}@db.internal/runs"\n',
    "a token in an Authorization header": (
        'x = 1\nH = {{"Authorization": "Bearer {v}"}}\n'
    ),
}
# Random enough for every rule above (code asks for 12+ characters, a bearer
# token for 20+), and each with a stand-in word made of the same letters.
REAL = "Kq93mZx81aB4vT7pW2cL"
STAND_INS = [
    "dummy-api-key",
    "Kq93mZx81aB4-dummy-vT7p",
    "fake_token_Kq93mZx81aB4",
    "test-Kq93mZx81aB4vT7pW2",
    "Kq93mZx81aB4SampleKey7pW",
    "your-api-key-goes-here",
    "YOUR_TOKEN_Kq93mZx81aB4",
    "Kq93mZx81aB4xxxxxxxxxxxx",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "placeholder-Kq93mZx81aB4",
]


@pytest.mark.parametrize("kind", sorted(LINES))
def test_a_random_value_is_refused_by_each_rule(kind):
    assert credential_on_line(LINES[kind].format(v=REAL)) == (2, kind)


@pytest.mark.parametrize("value", STAND_INS)
@pytest.mark.parametrize("kind", sorted(LINES))
def test_a_stand_in_word_is_a_placeholder_in_each_rule(kind, value):
    assert credential_on_line(LINES[kind].format(v=value)) is None


@pytest.mark.parametrize("value", STAND_INS)
def test_the_rules_ask_one_judge(value):
    assert stand_in(value) and placeholder(value)
    assert random_string(value) is False


@pytest.mark.parametrize(
    "value",
    [
        # short stand-in words inside a random run, not words of their own
        "q9attestK2mZ8vW4",
        "Kq9unfakeZx81aB4",
        "Zx81contestKq93a",
        REAL,
    ],
)
def test_letters_of_a_stand_in_inside_a_word_are_no_stand_in(value):
    assert stand_in(value) is False
    assert credential_on_line(f"export WANDB_API_KEY={value}\n") == (
        1,
        "a secret set by a script line",
    )
