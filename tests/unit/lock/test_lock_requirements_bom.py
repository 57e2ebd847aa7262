"""Requirements files saved with a byte-order mark read as pip reads them."""

from __future__ import annotations

import pytest

from reprobox.errors import LockError
from reprobox.lock.lockfile import lock_blocks
from reprobox.lock.requirements_file import read_requirements_file


def test_a_byte_order_mark_is_skipped_in_the_file_and_its_includes(tmp_path):
    (tmp_path / "requirements.txt").write_bytes(
        b"\xef\xbb\xbfsix==1.16.0\n-r base.txt\n"
    )
    (tmp_path / "base.txt").write_bytes(b"\xef\xbb\xbf-r more.txt\n")
    (tmp_path / "more.txt").write_bytes(b"\xef\xbb\xbfnumpy==1.26.4\n")

    entries, warnings = read_requirements_file(tmp_path / "requirements.txt")

    assert [str(e.requirement) for e in entries] == ["six==1.16.0", "numpy==1.26.4"]
    assert warnings == []


def test_a_bad_lock_line_is_one_line():
    with pytest.raises(LockError) as info:
        lock_blocks("six=1.16.0 --hash=sha256:" + "0" * 64 + "\n")
    assert str(info.value).startswith("lock line 1: not a requirement: ")
    assert "\n" not in str(info.value)
