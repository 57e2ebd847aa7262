"""The suite collects as one: no two test modules share a file name.

pytest imports test modules by their base name (rootdir import mode, no
packages): tests/unit/test_x.py beside tests/integration/test_x.py stops the
whole `pytest tests` run at collection, as it did CI, while each folder alone
runs green.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_name():
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert sorted(name for name, count in names.items() if count > 1) == []
