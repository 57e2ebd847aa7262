"""A manifest too large for the image's labels is refused with the right fix.

A config with 50,000 [env] entries froze, and build then said "declare fewer,
larger data files" for a project that declared none (breaker AP 8).
"""

from __future__ import annotations

import json

import pytest

from reprobox.config import load_config
from reprobox.errors import InputError
from reprobox.freeze import freeze_project
from reprobox.share import manifest_labels

BIG = 3_000_000  # characters: more than the labels carry


def _text(**sections) -> str:
    return json.dumps({"schema_version": 2, "project": {"name": "p"}, **sections})


@pytest.mark.parametrize(
    ("sections", "section", "fix"),
    [
        (
            {"environment": {f"V{i}": "x" * 40 for i in range(BIG // 40)}},
            "environment",
            "set fewer variables in [env] and pass_env",
        ),
        (
            {
                "data": [
                    {"path": f"d/{i}.csv", "sha256": "0" * 64} for i in range(BIG // 80)
                ]
            },
            "data",
            "declare fewer, larger data files",
        ),
    ],
)
def test_the_fix_is_for_the_section_that_holds_most(sections, section, fix):
    with pytest.raises(InputError) as info:
        manifest_labels(_text(**sections))
    assert f"({section} holds most of it)" in info.value.message
    assert info.value.hint.startswith(fix)


def test_a_manifest_that_fits_is_labels():
    labels = manifest_labels(_text(environment={"A": "1"}))
    assert "".join(labels.values()) == _text(environment={"A": "1"})


def test_freeze_refuses_it_before_writing_anything(tmp_path, fake_lock):
    env = "".join(f'V{i} = "{"x" * 40}"\n' for i in range(60_000))
    (tmp_path / "reprobox.toml").write_text(
        'command = "python t.py"\nbase_image = "reprobox-base:bookworm-py3.11"\n'
        f"[env]\n{env}"
    )
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "t.py").write_text("print(1)\n")
    cfg = load_config(tmp_path)
    with pytest.raises(InputError) as info:
        freeze_project(cfg, environ={})
    assert info.value.message.startswith(f"{cfg.source}: the manifest is ")
    assert "(environment holds most of it)" in info.value.message
    assert not (tmp_path / ".reprobox" / "manifest.json").exists()
