"""An identifier made of words is no random secret, digits woven in or not.

Model and experiment names (ResNet50V2_ImageNet1k_Top1Acc76_13pct) switch
between letters and digits as random text does; most of their letters are
English-like words. A random run with a word or two in it stays a secret.
"""

from __future__ import annotations

import pytest

from reprobox.code_assignments import random_string
from reprobox.credential_lines import credential_on_line
from reprobox.stand_ins import made_of_words

KIND = "a secret assigned in code"


@pytest.mark.parametrize(
    "line",
    [
        'key = "ResNet50V2_ImageNet1k_Top1Acc76_13pct"',
        'EXPERIMENT_KEY = "c0mpl3x9ExperimentKeyForCometML2024"',
        'run_token = "BertLarge24Layer_SquadV2_Finetune3Epochs"',
        'cache_key = "EfficientNetB7_Noisy4Student_Epoch300"',
    ],
)
def test_an_identifier_of_words_is_no_secret(line):
    assert credential_on_line(f"import os\n{line}\n") is None


@pytest.mark.parametrize(
    "value",
    [
        "s3cr3tPassw0rd2024",  # leetspeak: its words do not read as words
        "django-insecure-8f3k2j5h7g9d1s4a6q",  # Django's generated key
        "Zx9kLp2vQ7mWPassword4rT",  # one word inside a random run
        "q8Wm2Rt7Yp4Kd9Zx3Lv6Nb1Hs5Jf0Gc",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9r8Lk2Vm",
    ],
)
def test_a_random_secret_with_a_word_or_two_still_is_one(value):
    assert made_of_words(value) is False
    assert random_string(value) is True
    assert credential_on_line(f'import os\npassword = "{value}"\n') == (2, KIND)
