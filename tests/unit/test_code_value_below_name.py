"""A secret-named keyword or variable whose string opens a line below it.

`x = wandb.login(key=\\`, then the key on the next line, gives the key to the
keyword as `wandb.login(key="X")` does, wherever on its line the keyword sits
(after `x = `, `return`, `lambda:`, `if ok:`, inside a nested call) and with
blank lines, comments, a lone `(` or `\\` between. The value is judged as the
one-line shape judges it, and named on its own line.
"""

from __future__ import annotations

import json

import pytest

from reprobox.config import load_config
from reprobox.credential_lines import credential_on_line
from reprobox.errors import InputError
from reprobox.freeze import freeze_project
from reprobox.image_inputs import written_credential

S = "Qx7vLm29TzRk84PwNb3Hy"
CODE = "a secret assigned in code"


def _found(text: str):
    return credential_on_line("import os\n" + text)


# Each layout, with the line the value opens, counted after "import os".
REFUSED = [
    (f'ok = connect(password=\n    "{S}")\n', 3),
    (f'x = wandb.login(key=\\\n    "{S}")\n', 3),
    (f'if True: wandb.login(key=\\\n    "{S}")\n', 3),
    (f'def f():\n    return dict(password=\\\n        "{S}")\n', 4),
    (f'f = lambda: login(key=\\\n    "{S}")\n', 3),
    (f'x = login(key = \\\n    "{S}")\n', 3),
    (f'Client(api_key=(\n    "{S}"))\n', 3),
    (f'run(connect(host="db", password=\n    "{S}"))\n', 3),
    (f'wandb.login(key=\\\n    "{S}")\n', 3),
    (f'ok = connect(password=  # from the vault\n    "{S}")\n', 3),
    (f'ok = connect(password=(\n    # from the vault\n    "{S}"))\n', 4),
    (f'password = \\\n    (\n\n    "{S}"\n)\n', 5),
    (f'cfg = {{"api_key":\n    "{S}"}}\n', 3),
    (f'x = login(key=\\\n    f"{S}")\n', 3),
    (f'const c = new Client({{ apiKey:  // from the vault\n    "{S}" }});\n', 3),
    # The string in parentheses of its own, on the name's line or below it.
    (f'password = ("{S}")\n', 2),
    (f'x = connect(password=( "{S}" ))\n', 2),
    (f'cfg = {{"api_key": ("{S}")}}\n', 2),
    (f'cfg["api_key"] = (("{S}"))\n', 2),
    (f'password = \\\n    ("{S}")\n', 3),
]


@pytest.mark.parametrize(("text", "line"), REFUSED)
def test_a_secret_below_its_keyword_is_refused_on_its_line(text, line):
    assert _found(text) == (line, CODE)


@pytest.mark.parametrize(
    "text",
    [
        # A keyword that names no secret.
        f'ok = connect(model_name=\n    "{S}")\n',
        f'if True: check(run_id=\\\n    "{S}")\n',
        # A stand-in, a variable, an environment lookup.
        'ok = connect(password=\n    "your-password-here")\n',
        'x = wandb.login(key=\\\n    "<WANDB_API_KEY>")\n',
        "x = wandb.login(key=\\\n    WANDB_KEY)\n",
        'f = lambda: login(key=\\\n    os.environ["WANDB_API_KEY"])\n',
        'Client(api_key=(\n    # from the vault\n    os.environ["API_KEY"]))\n',
        # key= of a lookup: a word or an identifier is no credential.
        'best = metrics.get(key=\\\n    "val_loss_2024_best")\n',
        'if ok: cache.get(key=\\\n    "resnet50_imagenet_v2")\n',
        'x = sorted(rows, key=\\\n    "ResNet50V2_ImageNet1k_Top1Acc76")\n',
        # A bare key wants 20 token characters; this has 14.
        'return dict(key=\\\n    "Qx7vLm29TzRk84")\n',
        # A comparison, a positional argument, a commented-out keyword, prose.
        f'assert key == \\\n    "{S}"\n',
        f'x = connect(password=pw,\n    "{S}")\n',
        f'# ok = connect(password=\n    "{S}"\n',
        f'For example, call login(key=\n    "{S}")\n',
        f'desc: For example: "rawKey":\n    "{S}"\n',
        # Parentheses of a call, a comparison or another name's tuple.
        f'password = (lookup("{S}"))\n',
        f'if password == ("{S}"): pass\n',
        f'name = ("{S}")\n',
        'password = ("<your-password-here>")\n',
    ],
)
def test_harmless_code_in_the_same_layouts_is_not(text):
    assert _found(text) is None


@pytest.mark.parametrize(
    "value",
    [
        S,
        "Zx9#kLp2vQ7mW4rT",  # random enough for a password, not for a key
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",
        "hunter2hunter2",
        "changeme-please-2024",
        "exp42/ckpt/Epoch7Step3500.safetensors",
    ],
)
@pytest.mark.parametrize("name", ["password", "key", "api_key", "s3_key", "run_id"])
def test_a_value_below_is_judged_as_one_on_the_keywords_line(value, name):
    one_line = _found(f'x = login({name}="{value}")\n')
    below = _found(f'x = login({name}=\\\n    "{value}")\n')
    assert below == (None if one_line is None else (3, CODE))


def _notebook(tmp_path, *cell_lines: str):
    doc = {
        "cells": [{"cell_type": "code", "source": [f"{x}\n" for x in cell_lines]}],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
    }
    path = tmp_path / "explore.ipynb"
    path.write_text(json.dumps(doc, indent=1))
    return path


def test_a_notebook_cell_is_read_as_code(tmp_path):
    lines = ("import wandb", "x = wandb.login(key=\\", f'    "{S}")')
    # Line 1 {, 2 "cells": [, 3 {, 4 "cell_type", 5 "source": [, 6 to 8.
    assert written_credential(_notebook(tmp_path, *lines)) == (8, CODE)
    lines = ("import wandb", "x = wandb.login(key=\\", '    "<your key>")')
    assert written_credential(_notebook(tmp_path, *lines)) is None


def test_freeze_names_the_file_and_the_values_line(six_project):
    train = six_project / "train.py"
    train.write_text(f'import wandb\n\nrun = wandb.login(key=\\\n    "{S}")\n')
    with pytest.raises(InputError) as info:
        freeze_project(load_config(six_project), environ={})
    assert info.value.message == (
        f"{train}:4: holds a credential ({CODE}), and this file is copied into "
        "the image"
    )
    assert S not in f"{info.value.message} {info.value.hint}"
