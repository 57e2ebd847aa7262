"""Terraform settings are read only in HCL text: a .tf/.tfvars/.hcl file, or
text whose lines open an HCL block; never in Python."""

from __future__ import annotations

import pytest

from reprobox.credential_lines import credential_on_line, secret_in_text
from reprobox.image_inputs import written_credential

KIND = "a secret set in a Terraform block"
# Too short for the code rule, which asks 12 characters: only HCL reads it.
KEY = "hunter2x"

# Python whose dicts open like a block (module = {, data = {) and whose
# secret-named constants hold a name or a tag, as cfnlint, libcst and
# transformers write them.
PYTHON = {
    "cfnlint.py": 'module = {\n  "Type": "x",\n}\n'
    'reserved_key = "AWS::CloudFormation::Module"\n',
    "libcst.py": 'class V:\n  module: {\n  }\n  CONTEXT_KEY = "AddImportsVisitor"\n',
    "config.py": 'data = {\n  "a": 1}\nbase_config_key = "sam_config"\n',
    # even a Python file that quotes a Terraform block in a string
    "gen.py": f'TEMPLATE = """\nprovider "aws" {{\n  secret_key = "{KEY}"\n}}\n"""\n',
}


@pytest.mark.parametrize("rel", sorted(PYTHON))
def test_python_is_never_read_as_terraform(tmp_path, rel):
    (tmp_path / rel).write_text(PYTHON[rel])
    assert written_credential(tmp_path / rel) is None


@pytest.mark.parametrize(
    "text",
    [
        'module = {\n  "x": 1,\n}\nreserved_key = "AWS::CloudFormation::Module"\n',
        'data = {\n  "a": 1}\nbase_config_key = "sam_config"\n',
    ],
)
def test_a_dict_opening_like_a_block_is_no_hcl_in_any_file(text):
    assert secret_in_text(text) is False
    assert credential_on_line(text, "notes.md") is None


@pytest.mark.parametrize(
    "name, text, line",
    [
        ("main.tf", f'provider "aws" {{\n  secret_key = "{KEY}"\n}}\n', 2),
        ("prod.tfvars", f'region = "eu-west-1"\nsecret_key = "{KEY}"\n', 2),
        ("vault.hcl", f'storage "s3" {{\n  secret_key = "{KEY}"\n}}\n', 2),
        ("infra.md", f'```\nresource "aws_x" "y" {{\n  secret_key = "{KEY}"\n}}\n', 3),
        ("setup.txt", f'terraform {{\n}}\nlocals {{\n  api_token = "{KEY}"\n}}\n', 4),
    ],
)
def test_terraform_text_is_still_read(tmp_path, name, text, line):
    (tmp_path / name).write_text(text)
    assert written_credential(tmp_path / name) == (line, KIND)
