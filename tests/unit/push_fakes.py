"""A fake engine of image ids and tags, for the tags push and export move."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import docker.errors

from reprobox.push_tags import MARKER_DIR

SEALED = "sha256:" + "5" * 64
OLD = "sha256:" + "0" * 64
DIGEST = "sha256:" + "d" * 64


class FakeImage:
    def __init__(self, engine, image_id):
        self.engine, self.id = engine, image_id

    @property
    def tags(self):
        return sorted(t for t, i in self.engine.tags.items() if i == self.id)

    @property
    def labels(self):
        return self.engine.labels.get(self.id, {})

    @property
    def attrs(self):
        return {"Parent": self.engine.parents.get(self.id, "")}

    def tag(self, repo, tag):
        self.engine.on_tag(f"{repo}:{tag}")
        self.engine.tags[f"{repo}:{tag}"] = self.id


class FakeEngine:
    """An engine of images by id and tags; its push runs `pushing` to its end."""

    def __init__(self, host="unix:///var/run/docker.sock"):
        self.host = host
        self.ids = {SEALED, OLD}
        self.in_use: set[str] = set()
        self.tags: dict[str, str] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.parents: dict[str, str] = {}
        self.pushing = [{"status": "pushing"}, {"aux": {"Digest": DIGEST}}]
        self.on_tag = lambda ref: None
        images = SimpleNamespace(
            get=self._get, push=self._push, remove=self._remove, list=self._list
        )
        self.client = SimpleNamespace(images=images, api=SimpleNamespace())

    def _get(self, ref):
        found = self.tags.get(ref, ref)
        if found not in self.ids:
            raise docker.errors.ImageNotFound(ref)
        return FakeImage(self, found)

    def _push(self, repo, tag, stream, decode):
        for event in self.pushing:
            if isinstance(event, BaseException):
                raise event
            yield event

    def _list(self, filters):
        assert filters["dangling"] is True
        key, _, value = filters["label"].partition("=")
        return [
            FakeImage(self, i)
            for i in sorted(self.ids)
            if not FakeImage(self, i).tags and self.labels.get(i, {}).get(key) == value
        ]

    def _remove(self, ref, noprune):
        if ref in self.ids:  # an image by id, once no tag names it
            assert ref not in self.tags.values()
            if ref in self.in_use:
                raise docker.errors.APIError("conflict: image is being used")
            self.ids.discard(ref)
            return
        assert noprune
        del self.tags[ref]


def dead_owner() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{os.uname().nodename}:{child.pid}:12345"


def markers(state_dir: Path) -> list[Path]:
    folder = state_dir / MARKER_DIR
    return sorted(folder.iterdir()) if folder.exists() else []
