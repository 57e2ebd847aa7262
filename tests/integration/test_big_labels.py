"""A large lock still travels in the image labels (the real engine and CLI).

Docker's CLI passes each --label as one argument and Linux caps one argument at
128 KiB: a 150 KB lock (TensorFlow plus the usual data stack) once failed every
build with "Argument list too long". The lock now goes in parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets

import docker.errors
import pytest
from conftest import TEST_PROJECTS, copy_project, run_reprobox

from reprobox.engine import build_image, connect
from reprobox.manifest import core_manifest_text
from reprobox.share import (
    MANIFEST_LABEL,
    lock_from_labels,
    lock_labels,
    manifest_text_from_labels,
)

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


def test_a_project_with_1500_data_files_builds_and_its_labels_hold_the_manifest(
    tmp_path, engine_cleanup
):
    # Its manifest (~200 KB of data fingerprints) is more than one argv argument.
    path, name = copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    files = [f"shards/part-{index:04d}.csv" for index in range(1500)]
    (path / "shards").mkdir()
    for index, rel in enumerate(files):
        (path / rel).write_text(f"{index}\n")
    config = path / "reprobox.toml"
    listed = ", ".join(f'"{rel}"' for rel in ["data.csv", *files])
    config.write_text(
        config.read_text().replace('data = ["data.csv"]', f"data = [{listed}]")
    )

    run_reprobox("freeze", str(path))
    manifest = (path / ".reprobox" / "manifest.json").read_text()
    assert len(manifest) > 128 * 1024
    built = run_reprobox("build", str(path), "--json")
    image = engine_cleanup.client.images.get(json.loads(built.stdout)["image_id"])

    # The label holds the manifest less the freezing machine's facts.
    label = manifest_text_from_labels(image.labels)
    assert label == core_manifest_text(json.loads(manifest))
    assert "host" not in json.loads(label)
    assert len(label) > 128 * 1024
    parts = [
        k
        for k in image.labels
        if k.startswith(MANIFEST_LABEL + ".") or k == MANIFEST_LABEL
    ]
    assert len(parts) == -(-len(label) // 30_000)
