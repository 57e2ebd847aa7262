"""export_bundle: one streamed partial file, renamed whole, read back by import."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from types import SimpleNamespace

import pytest

from reprobox.bundles import BUNDLE_INDEX, export_bundle
from reprobox.errors import InputError

IMAGE_ID = "sha256:" + "2" * 64


class FakeEngine:
    """An engine whose image streams the given chunks, or fails after some."""

    def __init__(self, chunks, fail_after=None):
        def get_image(image, chunk_size):
            assert image == IMAGE_ID
            for number, chunk in enumerate(chunks):
                if number == fail_after:
                    raise KeyboardInterrupt
                yield chunk

        images = SimpleNamespace(get=lambda ref: SimpleNamespace(id=IMAGE_ID))
        self.client = SimpleNamespace(
            api=SimpleNamespace(get_image=get_image), images=images
        )


CHUNKS = [b"x" * 1000, b"y" * 7, b"z" * 600_000]


def test_bundle_holds_every_member_with_the_indexed_digests(tmp_path):
    out = tmp_path / "b.tar"
    files = {"manifest.json": "{}\n", "requirements.lock": "six==1.17.0\n"}
    index = export_bundle(FakeEngine(CHUNKS), "img", "reprobox/x:abc", out, files)

    with tarfile.open(out) as tar:
        names = tar.getnames()
        read = {name: tar.extractfile(name).read() for name in names}
    assert sorted(names) == sorted(["image.tar", *files, BUNDLE_INDEX])
    assert read["image.tar"] == b"".join(CHUNKS)
    assert read["manifest.json"] == b"{}\n"
    assert json.loads(read[BUNDLE_INDEX]) == index
    assert index["files"] == {
        name: hashlib.sha256(read[name]).hexdigest() for name in ("image.tar", *files)
    }
    assert os.listdir(tmp_path) == ["b.tar"]  # no temp folder, no partial file


def test_interrupted_export_leaves_the_old_file_and_no_partial(tmp_path):
    out = tmp_path / "b.tar"
    out.write_bytes(b"old bundle")
    with pytest.raises(KeyboardInterrupt):
        export_bundle(FakeEngine(CHUNKS, fail_after=2), "img", "t:x", out, {})
    assert out.read_bytes() == b"old bundle"
    assert os.listdir(tmp_path) == ["b.tar"]


def test_a_partial_file_a_killed_export_left_is_taken_over(tmp_path):
    out = tmp_path / "b.tar"
    (tmp_path / ".b.tar.reprobox-partial").write_bytes(b"junk" * 1000)
    export_bundle(FakeEngine(CHUNKS), "img", "t:x", out, {})
    with tarfile.open(out) as tar:
        assert tar.extractfile("image.tar").read() == b"".join(CHUNKS)
    assert os.listdir(tmp_path) == ["b.tar"]


def test_a_live_export_to_the_same_file_is_not_disturbed(tmp_path):
    out = tmp_path / "b.tar"
    partial = tmp_path / ".b.tar.reprobox-partial"
    with open(partial, "wb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        held.write(b"in progress")
        held.flush()
        with pytest.raises(InputError, match="another reprobox export is writing"):
            export_bundle(FakeEngine(CHUNKS), "img", "t:x", out, {})
    assert partial.read_bytes() == b"in progress"
    assert not out.exists()


@pytest.mark.parametrize("length", [10, 245, 246, 255])
def test_any_file_name_has_a_partial_file_that_fits(tmp_path, length):
    from reprobox.bundle_file import partial_path

    out = tmp_path / ("n" * (length - 7) + ".bundle")
    partial = partial_path(out)
    assert partial.parent == tmp_path and partial.name.startswith(".")
    assert len(os.fsencode(partial.name)) <= 255
    assert partial_path(out) == partial and partial != out
    partial.write_bytes(b"x")  # the file system takes the name


def _export_start() -> bytes:
    """The first block a killed export leaves: image.tar's header."""
    return tarfile.TarInfo("image.tar").tobuf(format=tarfile.GNU_FORMAT) + b"x" * 99


def test_an_export_removes_what_dead_exports_to_other_names_left(tmp_path):
    # brk: a kill -9 left .a.tar.partial, and exports to other names kept it.
    dead = [tmp_path / ".a.tar.reprobox-partial", tmp_path / ".c.tar.partial"]
    for partial in dead:
        partial.write_bytes(_export_start())  # nobody holds its lock: writer gone
    empty = tmp_path / ".d.tar.reprobox-partial"  # killed before the first byte
    empty.touch()
    export_bundle(FakeEngine(CHUNKS), "img", "t:x", tmp_path / "b.tar", {})
    assert sorted(os.listdir(tmp_path)) == ["b.tar"]


def test_an_export_leaves_a_live_export_and_user_files_alone(tmp_path):
    live = tmp_path / ".a.tar.reprobox-partial"
    kept = {
        ".notes.partial": b"my half-downloaded notes",  # another tool's file
        ".empty.partial": b"",  # someone's marker file
        ".x.reprobox-partial": b"not a tar at all, " * 40,
    }
    for name, data in kept.items():
        (tmp_path / name).write_bytes(data)
    with open(live, "wb") as held:  # a running export holds its partial's lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        held.write(_export_start())
        held.flush()
        export_bundle(FakeEngine(CHUNKS), "img", "t:x", tmp_path / "b.tar", {})
        assert live.read_bytes() == _export_start()
    for name, data in kept.items():
        assert (tmp_path / name).read_bytes() == data
    assert (tmp_path / "b.tar").is_file()


def test_a_partial_swept_between_open_and_lock_is_opened_again(tmp_path, monkeypatch):
    from reprobox import bundle_file

    partial = tmp_path / ".b.tar.reprobox-partial"
    real_flock, calls = fcntl.flock, []

    def flock_after_a_sweep(fd, op):
        if not calls:  # a sweep takes the file away just before our lock
            os.unlink(partial)
        calls.append(fd)
        return real_flock(fd, op)

    monkeypatch.setattr(bundle_file.fcntl, "flock", flock_after_a_sweep)
    fd = bundle_file.open_locked_partial(partial)
    try:
        assert len(calls) == 2
        assert os.fstat(fd).st_ino == os.stat(partial).st_ino
    finally:
        os.close(fd)


def test_the_partial_of_an_export_killed_outright_is_swept(tmp_path):
    import signal
    import subprocess
    import sys

    from reprobox.bundle_file import partial_path, sweep_stale_partials

    partial = partial_path(tmp_path / "a.tar")
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time\n"
            "from pathlib import Path\n"
            "from reprobox.bundle_file import open_locked_partial\n"
            "fd = open_locked_partial(Path(sys.argv[1]))\n"
            "os.write(fd, bytes.fromhex(sys.argv[2]))\n"
            "print('writing', flush=True)\n"
            "time.sleep(60)\n",
            str(partial),
            _export_start().hex(),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline() == "writing\n"
        assert sweep_stale_partials(tmp_path) == []  # alive: its file stays
        assert partial.exists()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    assert sweep_stale_partials(tmp_path) == [partial]
    assert not partial.exists()


def test_a_full_disk_names_the_bundle_and_the_fix(tmp_path, monkeypatch):
    import errno

    from reprobox import bundles

    def full(fh, name, chunks):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundles, "_add_member", full)
    out = tmp_path / "b.tar"
    with pytest.raises(InputError) as caught:
        export_bundle(FakeEngine(CHUNKS), "img", "t:x", out, {})
    assert caught.value.message == (
        f"{out}: cannot write the bundle: No space left on device; nothing was "
        "left there"
    )
    assert caught.value.hint.startswith(f"free space in {tmp_path} ")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="mounts a tmpfs"
)
def test_a_disk_that_fills_names_the_bundle_not_a_bare_strerror(tmp_path):
    # bo F4: the error named the file, then close() flushed its buffer onto
    # the full disk and raised a bare "No space left on device" in its place.
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=True
    )
    try:
        out = small / "b.tar"
        big = [bytes(3000)] * 400  # 1.2 MB of image, in pieces a buffer would keep
        with pytest.raises(InputError) as caught:
            export_bundle(FakeEngine(big), "img", "t:x", out, {})
        assert caught.value.message == (
            f"{out}: cannot write the bundle: No space left on device; nothing was "
            "left there"
        )
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.parametrize(
    "tag",
    [
        # A token's capitals are no tag's: it was called "damaged" (brk r45 BK 6).
        "reprobox/x-ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R:0123456789abcdef",
        "reprobox/x-ghp_" + "zx81kq93mw" * 3 + "p7ld2r:0123456789abcdef",
    ],
)
def test_import_names_a_token_in_the_bundles_tag_as_the_reason(tmp_path, tag):
    from reprobox.bundles import _read_bundle_index

    index = {
        "schema_version": 1,
        "image_id": IMAGE_ID,
        "tag": tag,
        "files": {"image.tar": "0" * 64},
    }
    path = tmp_path / "b.tar"
    member = tmp_path / BUNDLE_INDEX
    member.write_text(json.dumps(index))
    with tarfile.open(path, "w") as tar:
        tar.add(member, arcname=BUNDLE_INDEX)
    with tarfile.open(path) as tar, pytest.raises(InputError) as caught:
        _read_bundle_index(tar, path)
    shown = tag.split(":")[0][:15]  # reprobox/x-ghp_ then cut
    assert caught.value.message == (
        f"{path}: {BUNDLE_INDEX}'s tag {shown}***:0123456789abcdef holds a token "
        "of a published format (ghp_..., hf_..., AKIA...), which import would tag "
        "the image with; refused, nothing was imported"
    )
