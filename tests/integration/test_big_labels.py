"""A large lock still travels in the image labels (the real engine and CLI).

Docker's CLI passes each --label as one argument and Linux caps one argument at
128 KiB: a 150 KB lock (TensorFlow plus the usual data stack) once failed every
build with "Argument list too long". The lock now goes in parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets

import docker.errors
import pytest

from reprobox.engine import build_image, connect
from reprobox.share import lock_from_labels, lock_labels

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BASE = "reprobox-base:bookworm-py3.11"


def big_lock(packages: int) -> str:
    rows = []
    for index in range(packages):
        hashes = " \\\n".join(
            f"    --hash=sha256:{secrets.token_hex(32)}" for _ in range(3)
        )
        rows.append(f"package-{index:04d}==1.0.{index} \\\n{hashes}\n")
    return "".join(rows)


def test_a_300_kb_lock_builds_and_reads_back_whole(tmp_path):
    lock = big_lock(1300)
    assert len(lock.encode()) > 300_000  # more than twice one argument's limit
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE}\n")
    engine = connect()
    tag = f"reprobox-test/big-labels:{secrets.token_hex(4)}"
    try:
        image = build_image(engine, tmp_path, tag, labels=lock_labels(lock), secrets={})
        labels = engine.client.images.get(image).labels
        parts = [k for k in labels if k.startswith("org.reprobox.lock")]
        assert len(parts) == -(-len(lock) // 30_000)
        back = lock_from_labels(labels)
        assert (
            hashlib.sha256(back.encode()).hexdigest()
            == hashlib.sha256(lock.encode()).hexdigest()
        )
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.client.images.remove(tag, force=True)
