"""A notebook's cells are read as code: the same rules, the same lines.

nbformat keeps each line of a cell as a JSON string, its quotes escaped; the
line `wandb.login(key=\"X\")` is refused in a .ipynb as it is in a .py file.
"""

from __future__ import annotations

import json

import pytest
from fresh_python import run_reprobox

from reprobox.credential_files import holds_credentials
from reprobox.image_inputs import (
    notebook_cell_lines,
    notebook_code,
    notebook_setting_line,
    written_credential,
)

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


# A notebook's own JSON outside its cells' code: the notebook's metadata, a
# cell's and an output's, and an output's JSON data, read as a JSON settings
# file's members are.
KEY = "Kq8vN2pXr7LmZ4tYbb77Zz"
WANDB_KEY = "3f9a1c7e5b2d8046a9e1f3c5b7d9024e6a8c1f3b"
NOTEBOOK_KIND = "a secret setting in the notebook's metadata or output"


def _notebook_doc(metadata=None, cell_metadata=None, outputs=()) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": cell_metadata or {},
                "outputs": list(outputs),
                "source": ["print(1)\n"],
            }
        ],
        "metadata": metadata or {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.mark.parametrize(
    ("doc", "secret"),
    [
        (
            _notebook_doc(
                {"kernelspec": {"name": "py", "env": {"WANDB_API_KEY": KEY}}}
            ),
            KEY,
        ),
        (_notebook_doc({"wandb": {"api_key": KEY}}), KEY),
        (
            _notebook_doc({"kernelspec": {"env": {"WANDB_API_KEY": WANDB_KEY}}}),
            WANDB_KEY,
        ),
        (
            _notebook_doc({"papermill": {"parameters": {"db_password": "hunter2x"}}}),
            "hunter2x",
        ),
        (_notebook_doc(cell_metadata={"hub": {"access_token": KEY}}), KEY),
        (
            _notebook_doc(
                outputs=[
                    {
                        "output_type": "execute_result",
                        "metadata": {},
                        "data": {"application/json": {"client_secret": KEY}},
                    }
                ]
            ),
            KEY,
        ),
    ],
)
@pytest.mark.parametrize("indent", [1, None])  # nbformat's layout, json.dump's
def test_a_secret_in_a_notebooks_metadata_or_output_is_refused(
    tmp_path, doc, secret, indent
):
    path = tmp_path / "explore.ipynb"
    text = json.dumps(doc, indent=indent)
    path.write_text(text)
    line = next(n for n, x in enumerate(text.splitlines(), 1) if secret in x)
    assert written_credential(path) == (line, NOTEBOOK_KIND)


def test_a_secret_in_a_one_line_notebook_is_named_on_its_line(tmp_path):
    # Members share lines as a hand-written or tool-written JSON may have them.
    doc = _notebook_doc({"wandb": {"api_key": KEY}})
    text = json.dumps(doc).replace('"metadata"', '\n"metadata"')
    path = tmp_path / "explore.ipynb"
    path.write_text("\ufeff" + text)
    assert text.count("\n") == 2
    assert written_credential(path) == (3, NOTEBOOK_KIND)


def test_a_member_written_in_a_cells_code_is_no_member_of_the_notebook():
    # A cell's line `{"api_key": "X"}` is one string of the notebook's JSON,
    # its quotes escaped: read as code, never as the notebook's own member.
    doc = _notebook_doc()
    doc["cells"][0]["source"] = [f'cfg = {{"api_key": "{KEY}", "n": 1}}\n']
    assert notebook_setting_line(json.dumps(doc)) is None
    assert notebook_setting_line(json.dumps(doc, indent=1)) is None


def test_the_same_metadata_saved_as_json_stays_out_as_a_credential_file(tmp_path):
    # The notebook is code, needed in the run; the .json copy is a settings file.
    doc = _notebook_doc({"wandb": {"api_key": KEY}})
    path = tmp_path / "explore.json"
    path.write_text(json.dumps(doc, indent=1))
    assert holds_credentials(path)
    assert not holds_credentials(path.with_suffix(".ipynb"))


# Metadata that Colab, Kaggle, VS Code, papermill, Databricks and widgets write,
# with words of secrets in its names and random ids in its values.
ORDINARY_METADATA = {
    "accelerator": "GPU",
    "colab": {
        "provenance": [],
        "authorship_tag": "ABX9TyMq8v2KtR4wYb8NcHs3JdLp",
        "include_colab_link": True,
        "gpuType": "T4",
    },
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "version": "3.11.4"},
    "vscode": {"interpreter": {"hash": "916dbcbb3f70747c44a77c7bcd40155683ae19c65e1c"}},
    "signature": "sha256:916dbcbb3f70747c44a77c7bcd40155683ae19c65e1c03b4aa3499c5",
    "kaggle": {"dockerImageVersionId": 30558, "isInternetEnabled": True},
    "papermill": {
        "input_path": "x.ipynb",
        "parameters": {"api_key_env": "WANDB_API_KEY", "token_budget": 512},
        "environment_variables": {},
    },
    "widgets": {
        "application/vnd.jupyter.widget-state+json": {
            "0a1b2c3d4e5f": {
                "model_name": "PasswordModel",
                "state": {"description": "Token:", "value": "", "placeholder": "​"},
            }
        }
    },
    "databricks": {"widgets": {"api_key": {"currentValue": "", "label": "API key"}}},
}
ORDINARY_CELL_METADATA = {
    "id": "Xk9mP2qR7vL4",
    "outputId": "2b1c4f0e-9d3a-4c1e-8f7b-1a2b3c4d5e6f",
    "colab": {"base_uri": "https://localhost:8080/", "height": 34},
    "executionInfo": {"status": "ok", "user": {"userId": "08712345678901234567"}},
    "tags": ["parameters"],
}
ORDINARY_OUTPUTS = [
    {"output_type": "stream", "name": "stdout", "text": ["{'input_ids': [1, 2]}\n"]},
    {
        "output_type": "execute_result",
        "metadata": {},
        "data": {
            "text/plain": ["x"],
            "application/json": {
                "token": "\u2581hello",
                "next_token": "world",
                "eos_token": "</s>",
                "key": "val_loss",
                "session_id": "Xk9mP2qR7vL4nT8wZ3jD",
            },
        },
    },
]


@pytest.mark.parametrize("indent", [1, None])
def test_ordinary_notebook_metadata_and_outputs_pass(tmp_path, indent):
    doc = _notebook_doc(ORDINARY_METADATA, ORDINARY_CELL_METADATA, ORDINARY_OUTPUTS)
    path = tmp_path / "explore.ipynb"
    path.write_text(json.dumps(doc, indent=indent, ensure_ascii=False))
    assert written_credential(path) is None


def test_a_cell_line_that_writes_a_json_member_is_read_as_code(tmp_path):
    # In a cell, "api_key": "X" is a JSON string's text: read as code there.
    path = _notebook(tmp_path, "cfg = {", f'    "api_key": "{R}",', "}")
    assert written_credential(path) == (7, "a secret assigned in code")


# A cell's lines are the same lines whatever the notebook's layout: its source
# a list of lines (nbformat) or one string, the notebook saved a member a line
# (nbformat) or on one line (json.dump), with \n or \r\n.
ENV_KEY = "Tq7vN2xKp9Lm4Rzx9"
SCRIPT = "a secret set by a script line"


def _layouts(cell: str, indent: int | None) -> list[str]:
    """Return a notebook's text with cell first, its source saved as a list of
    lines and as one string, each with \\n and with \\r\\n line breaks."""
    texts = []
    for source in (cell.splitlines(keepends=True), cell):
        doc = _notebook_doc()
        doc["cells"].insert(0, {"cell_type": "code", "source": source})
        texts.append(json.dumps(doc, indent=indent))
    texts += [text.replace("\n", "\r\n") for text in texts]
    return texts


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        (f"%env WANDB_API_KEY={ENV_KEY}\nimport wandb", SCRIPT),
        (f"import wandb\n%env WANDB_API_KEY {ENV_KEY}\n", SCRIPT),
        (f"%%bash\nexport WANDB_API_KEY={ENV_KEY}\npython train.py\n", SCRIPT),
        (f'import os\nos.environ["WANDB_API_KEY"] = "{ENV_KEY}"\n', "os.environ"),
        (f'import wandb\nwandb.login(key=f"{R}")\n', "assigned in code"),
        (f"%env WANDB_API_KEY={ENV_KEY}\r\nimport wandb", SCRIPT),
    ],
)
@pytest.mark.parametrize("indent", [1, None])
def test_a_cells_secret_is_refused_in_every_layout(tmp_path, cell, kind, indent):
    path = tmp_path / "explore.ipynb"
    for text in _layouts(cell, indent):
        path.write_bytes(text.encode())
        line = next(
            n for n, x in enumerate(text.splitlines(), 1) if ENV_KEY in x or R in x
        )
        found = written_credential(path)
        assert found is not None and found[0] == line and kind in found[1], text


def test_a_source_split_mid_line_reads_as_the_line_it_joins_into(tmp_path):
    # Jupyter joins a source's strings: "password = " and "\"X\"\n" are one line.
    doc = _notebook_doc()
    doc["cells"][0]["source"] = ["import db\n", "password = ", f'"{R}"\n']
    path = tmp_path / "explore.ipynb"
    path.write_text(json.dumps(doc, indent=1))
    # Named where the line starts: "password = " on line 10, its value on 11.
    assert written_credential(path) == (10, "a secret assigned in code")


def test_notebook_cell_lines_reads_cells_not_outputs():
    doc = _notebook_doc(outputs=[{"output_type": "stream", "text": "%env A=1\n"}])
    doc["cells"][0]["source"] = "%env B=2\r\nimport b"
    doc["cells"].append({"cell_type": "markdown", "source": ["# Notes\n", "x"]})
    text = json.dumps(doc)
    assert [line for _, line in notebook_cell_lines(text)] == [
        "%env B=2",
        "import b",
        "# Notes",
        "x",
    ]


@pytest.mark.parametrize("indent", [1, None])
@pytest.mark.parametrize(
    "cell",
    [
        "%env WANDB_API_KEY=$KEY\nimport wandb",
        "%env WANDB_MODE=offline\n%env TOKENIZERS_PARALLELISM=false",
        "%%bash\nexport WANDB_API_KEY=${WANDB_API_KEY}\n",
        'token = f"{prefix}-{n}"\nprint(f"token={tok}")',
        'def get(user):\n    """Return the password for user."""\n',
    ],
)
def test_the_same_cells_without_a_secret_pass_in_every_layout(tmp_path, cell, indent):
    path = tmp_path / "explore.ipynb"
    for text in _layouts(cell, indent):
        path.write_bytes(text.encode())
        assert written_credential(path) is None, text


def test_freeze_refuses_a_one_line_notebooks_env_line(six_project):
    doc = _notebook_doc()
    doc["cells"][0]["source"] = f"%env WANDB_API_KEY={ENV_KEY}\nimport wandb"
    path = six_project / "explore.ipynb"
    path.write_text(json.dumps(doc))
    result = run_reprobox("freeze", str(six_project))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"reprobox: error: {path}:1: holds a credential ({SCRIPT}), and this "
        "file is copied into the image"
    )
    assert ENV_KEY not in result.stderr
