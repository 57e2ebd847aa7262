"""Rebuilding a project keeps one copy of its context in the engine's build cache.

BuildKit keeps what a build was sent from a local folder under a key made from
the folder's path. reprobox staged every build at a new temp path, so each
build of a project left another full copy of it in the cache: the CI disk
filled. Three builds of a 30 MB project, each after a one-byte edit, must
leave one such copy, not three.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from conftest import TEST_PROJECTS

from reprobox.context_folder import project_folder

pytestmark = pytest.mark.integration

BLOB_BYTES = 30_000_000


def _context_copies(docker_client, since: dt.datetime) -> list[dict]:
    """The build cache's copies of a local folder of the blob's size made since."""
    found = []
    for entry in docker_client.df().get("BuildCache") or []:
        made = dt.datetime.fromisoformat(entry["CreatedAt"][:26].rstrip("Z"))
        if (
            entry["Type"] == "source.local"
            and entry["Size"] >= BLOB_BYTES
            and made.replace(tzinfo=dt.timezone.utc) >= since
        ):
            found.append(entry)
    return found


def test_rebuilds_after_edits_reuse_one_copy_of_the_context(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    blob = project / "blob.bin"
    blob.write_bytes(os.urandom(BLOB_BYTES))
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    assert cli.run("-q", "freeze", str(project)).returncode == 0
    tags = []
    for edit in (b"one", b"two", b"three"):
        with open(blob, "r+b") as fh:
            fh.seek(4096)
            fh.write(edit)
        built = cli.run("build", str(project), "--json")
        tags.append(json.loads(built.stdout)["tag"])
        docker_client.images.remove(tags[-1])
    assert len(set(tags)) == 3, tags  # each edit was built, not found cached
    copies = _context_copies(docker_client, since)
    assert len(copies) == 1, [(c["ID"], c["Size"], c["CreatedAt"]) for c in copies]
    assert not project_folder(project).exists()
