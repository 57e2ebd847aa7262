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


@pytest.mark.parametrize(
    "line",
    [
        "--extra-index-url https://__token__:s3cr3tvalue@h.example/simple/",
        "-i https://h.example/simple/?token=s3cr3tvalue",
        "--find-links=https://u:s3cr3tvalue@h.example/wheels/",
    ],
)
def test_an_index_option_with_a_credential_is_refused(tmp_path, line):
    (tmp_path / "requirements.txt").write_text(f"six==1.16.0\n{line}\n")
    with pytest.raises(LockError) as info:
        read_requirements_file(tmp_path / "requirements.txt")
    text = str(info.value)
    assert "holds a credential, and this file is copied into the image" in text
    assert "s3cr3tvalue" not in text


def test_an_index_option_without_a_credential_is_only_a_warning(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "six==1.16.0\n--extra-index-url https://h.example/simple/\n"
    )
    _, warnings = read_requirements_file(tmp_path / "requirements.txt")
    assert len(warnings) == 1


def test_an_index_option_with_only_a_reference_is_a_warning(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "six==1.16.0\n--extra-index-url https://__token__:${TOK}@h.example/simple/\n"
    )
    _, warnings = read_requirements_file(tmp_path / "requirements.txt")
    assert len(warnings) == 1
