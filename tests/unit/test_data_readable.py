"""Data files the training user cannot read are refused before a run starts."""

from __future__ import annotations

import os

import pytest

from reprobox import run_owner
from reprobox.errors import InputError


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data" / "x.csv"
    path.parent.mkdir()
    path.write_text("a,b\n1,2\n")
    return path


def as_user(monkeypatch, uid, gid):
    monkeypatch.setattr(run_owner, "container_user", lambda: (uid, gid))


@pytest.mark.parametrize(
    "mode, who, readable",
    [
        (0o644, "other", True),
        (0o600, "other", False),
        (0o640, "other", False),
        (0o640, "group", True),
        (0o604, "group", False),  # the group's bits apply, not the others'
        (0o400, "owner", True),
        (0o044, "owner", False),  # the owner's bits apply
    ],
)
def test_the_bits_of_the_class_the_user_is_in_decide(
    data_file, monkeypatch, mode, who, readable
):
    st = data_file.stat()
    uid = st.st_uid if who == "owner" else st.st_uid + 1
    gid = st.st_gid if who == "group" else st.st_gid + 1
    as_user(monkeypatch, uid, gid)
    data_file.chmod(mode)
    root = data_file.parent.parent
    if readable:
        run_owner.check_data_readable(root, ["data/x.csv"])
        return
    with pytest.raises(InputError) as caught:
        run_owner.check_data_readable(root, ["data/x.csv"])
    assert str(data_file) in caught.value.message
    assert f"(uid {uid}): mode {mode:04o}" in caught.value.message
    assert f"chmod a+r {data_file}" in caught.value.hint


def test_a_missing_file_is_left_to_the_data_check(tmp_path, monkeypatch):
    as_user(monkeypatch, os.getuid() + 1, os.getgid() + 1)
    run_owner.check_data_readable(tmp_path, ["gone.csv"])  # no error here


def test_root_trains_as_uid_1000_and_others_as_themselves(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert run_owner.container_user() == (1000, 1000)
    monkeypatch.setattr(os, "geteuid", lambda: 1234)
    monkeypatch.setattr(os, "getuid", lambda: 1234)
    monkeypatch.setattr(os, "getgid", lambda: 99)
    assert run_owner.container_user() == (1234, 99)
