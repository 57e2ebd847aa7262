"""The case copies kept with the tests must match the shared originals."""

from __future__ import annotations

import pytest


def test_every_shared_case_has_an_identical_copy(case_folders):
    copies, shared = case_folders
    if not shared.is_dir():
        pytest.skip(f"shared cases not present at {shared}")
    originals = sorted(p.name for p in shared.iterdir() if p.is_file())
    assert originals, "the shared freeze cases folder is empty"
    for name in originals:
        copy = copies / name
        assert copy.is_file(), f"tests/unit/lock/cases/{name} is missing"
        assert copy.read_bytes() == (shared / name).read_bytes(), name
