"""A notebook's cells are read as code: the same rules, the same lines.

nbformat keeps each line of a cell as a JSON string, its quotes escaped; the
line `wandb.login(key=\"X\")` is refused in a .ipynb as it is in a .py file.
"""

from __future__ import annotations

import json

import pytest

from reprobox.image_inputs import notebook_code, written_credential

R = "Xk9mP2qR7vL4nT8wZ3jD"


def _notebook(tmp_path, *cell_lines: str):
    doc = {
        "cells": [{"cell_type": "code", "source": [f"{x}\n" for x in cell_lines]}],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
    }
    path = tmp_path / "explore.ipynb"
    path.write_text(json.dumps(doc, indent=1))
    return path


@pytest.mark.parametrize(
    "line",
    [
        f'wandb.login(key="{R}")',
        f'huggingface_hub.login(token="{R}")',
        f'conn = connect(host="db", password="{R}")',
    ],
)
def test_a_keyword_argument_in_a_cell_is_refused(tmp_path, line):
    path = _notebook(tmp_path, "import wandb", line)
    # Line 1 {, 2 "cells": [, 3 {, 4 "cell_type", 5 "source": [, 6 and 7.
    assert written_credential(path) == (7, "a secret assigned in code")


@pytest.mark.parametrize(
    "line",
    [
        'wandb.login(key=os.environ["WANDB_API_KEY"])',
        'huggingface_hub.login(token="<your token>")',
        'connect(password="your-password-here")',
        'tokenizer(text, padding="max_length", key="val_loss_2024")',
    ],
)
def test_the_same_cells_without_a_secret_pass(tmp_path, line):
    assert written_credential(_notebook(tmp_path, "import wandb", line)) is None


def test_a_cell_line_reads_as_its_code_and_lines_stay_put():
    text = '  "source": [\n    "x = \\"a\\"\\n",\n    "print(x)"\n  ]\n'
    # A line that is one string of a cell reads without the JSON's comma.
    assert notebook_code(text) == '  source: [\n    x = "a"\n    print(x)\n  ]\n'


def test_a_value_on_the_next_cell_line_is_refused_on_its_line(tmp_path):
    path = _notebook(tmp_path, "import db", "password = (", f'    "{R}"', ")")
    assert written_credential(path) == (8, "a secret assigned in code")
