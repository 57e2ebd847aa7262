"""--from-env with packages installed from a local path, and with reprobox itself."""

from __future__ import annotations

import json

from reprobox.lock import collect_requirements

PYTHON = "/envs/train/bin/python"
FOLDER = {"url": "file:///home/me/my%20pkg", "dir_info": {}}


def row(name, version, direct_url=None):
    text = json.dumps(direct_url) if direct_url is not None else None
    return {"name": name, "version": version, "direct_url": text}


def listing(*rows):
    return lambda argv: (0, json.dumps(list(rows)), "")


def test_reprobox_in_the_environment_is_left_out_and_said(fake_runner):
    fake_runner(listing(row("reprobox", "0.1.0", FOLDER), row("six", "1.16.0")))
    collected = collect_requirements(python=PYTHON)
    assert collected.lines == ("six==1.16.0",)
    assert collected.warnings == (
        "the live environment: reprobox is installed there and left out of the "
        "lock: the image gets reprobox's start-up hook instead, so code that "
        "imports reprobox would not find it there",
    )
