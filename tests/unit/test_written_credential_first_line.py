"""The first line of a file is read as any other line is.

Every line and text that the other unit tests give to a credential rule is
written at the very start of a file (byte 0), and after a BOM, and must get
the verdict it gets one line down: `wandb login KEY` as a script's first line
once went into the image while the same line after `#!/bin/sh` was refused.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from reprobox.image_inputs import written_credential

_HERE = Path(__file__).parent
# Parameters that hold the text of a file or of one of its lines.
_TEXT_ARGS = ("line", "text")
# Parameters that name the file such a text is written to.
_NAME_ARGS = ("name", "rel")
# Files a bare line is tried in: a script, code, docs, a build file.
_NAMES = ("run.sh", "train.py", "README.md", "Makefile")
KEY = "4f3a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"


def _test_module(path: Path):
    """Return the test module at path, as pytest imported it if it did."""
    if path.stem in sys.modules:
        return sys.modules[path.stem]
    spec = importlib.util.spec_from_file_location(f"_first_line_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as dataclasses in it look themselves up
    try:
        spec.loader.exec_module(module)
    except (ImportError, pytest.skip.Exception):
        return None  # an optional package (numpy) is missing: its tests skip
    return module


def _parameters(mark) -> list[dict[str, object]]:
    """Return a parametrize mark's cases, each as its arguments by name."""
    names = mark.args[0]
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",")]
    cases = []
    for case in mark.args[1]:
        values = getattr(case, "values", None) if hasattr(case, "marks") else None
        if values is None:
            values = case if len(names) > 1 else (case,)
        cases.append(dict(zip(names, values, strict=False)))
    return cases


def _examples() -> list[tuple[str, tuple[str, ...], str]]:
    """Return every line or text the unit tests parametrize with, and the
    names of the files to write it to."""
    found: dict[tuple[str, tuple[str, ...]], str] = {}
    for path in sorted(_HERE.glob("test_*.py")):
        if path == Path(__file__):
            continue
        module = _test_module(path)
        for name, test in sorted(vars(module).items() if module else ()):
            if not name.startswith("test_"):
                continue
            for mark in getattr(test, "pytestmark", []):
                if mark.name != "parametrize":
                    continue
                for case in _parameters(mark):
                    file_name = next(
                        (case[arg] for arg in _NAME_ARGS if "." in str(case.get(arg))),
                        None,
                    )
                    names = (file_name,) if isinstance(file_name, str) else _NAMES
                    for arg in _TEXT_ARGS:
                        if isinstance(case.get(arg), str) and case[arg]:
                            found.setdefault((case[arg], names), path.stem)
    return [(where, names, text) for (text, names), where in found.items()]


EXAMPLES = _examples()


def _verdict(folder: Path, name: str, text: str, strict: bool):
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return written_credential(path, strict=strict)


def test_the_examples_are_many_and_hold_the_shapes_that_were_missed():
    texts = [text for _, _, text in EXAMPLES]
    assert len(texts) > 300
    assert any(text.startswith("wandb login") for text in texts)
    assert any(text.startswith("curl -u") for text in texts)


@pytest.mark.parametrize(
    ("where", "names", "text"),
    EXAMPLES,
    ids=[f"{where}-{n}" for n, (where, _, _) in enumerate(EXAMPLES)],
)
def test_an_example_at_byte_0_gets_its_verdict_on_line_2(tmp_path, where, names, text):
    # Ended by a line break: the last line, too, stays in the chunk it is in.
    text = text if text.endswith("\n") else text + "\n"
    for name in names:
        for strict in (False, True):
            below = _verdict(tmp_path / "below", name, "\n" + text, strict)
            expected = None if below is None else (below[0] - 1, below[1])
            first = _verdict(tmp_path / "first", name, text, strict)
            assert first == expected, (name, strict)
            after_bom = _verdict(tmp_path / "bom", name, "\ufeff" + text, strict)
            assert after_bom == expected, (name, strict, "BOM")


@pytest.mark.parametrize("name", ["run.sh", "README.md", "Makefile", "notes.txt"])
@pytest.mark.parametrize("key", [KEY, "Zq7Xk9mPq2Lw7RtZ8aB3cD5eF7"])
def test_a_login_with_its_key_as_a_files_first_line_is_refused(tmp_path, name, key):
    path = tmp_path / name
    path.write_text(f"wandb login {key}\npython train.py\n")
    assert written_credential(path) == (1, "a secret passed on a command line")


def test_a_login_as_the_first_line_of_a_later_chunk_is_refused(tmp_path):
    # A file is read in chunks of whole lines, the first 8 KiB first; the
    # line across that edge starts the next chunk, with no break before it.
    filler = "".join(f"step {n:05d} loss 0.5\n" for n in range(8192 // 20))
    assert 8192 - 40 < len(filler) < 8192
    path = tmp_path / "train.log"
    path.write_text(f"{filler}wandb login {KEY}\n")
    found = written_credential(path)
    assert found == (8192 // 20 + 1, "a secret passed on a command line")
