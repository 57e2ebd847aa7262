"""The secret that the real-engine test writes into ordinary files is refused
in every one of them, every time: it is a constant, checked here rule by rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from reprobox.credential_lines import credential_on_line
from reprobox.image_inputs import written_credential

_PATH = Path(__file__).resolve().parents[1] / "integration" / "test_secrets.py"
_SPEC = importlib.util.spec_from_file_location("integration_test_secrets", _PATH)
SECRETS_TEST = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(SECRETS_TEST)


@pytest.mark.parametrize("rel", sorted(SECRETS_TEST.WRITTEN_CREDENTIALS))
def test_the_written_secret_is_refused_on_its_line(tmp_path, rel):
    number, text = SECRETS_TEST.WRITTEN_CREDENTIALS[rel]
    (tmp_path / rel).write_text(text.format(secret=SECRETS_TEST.WRITTEN_SECRET))
    found = written_credential(tmp_path / rel)
    assert found is not None and found[0] == number


def test_the_secret_set_for_build_is_refused():
    text = f"#!/bin/sh\nexport WANDB_API_KEY={SECRETS_TEST.WRITTEN_SECRET}\n"
    assert credential_on_line(text, "run.sh") == (2, "a secret set by a script line")
