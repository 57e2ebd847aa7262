"""An interrupted build's message agrees with the tags it left.

BuildKit goes on exporting an image whose export began, and tags it, even
after its CLI was told to stop: the breaker saw 3 of 16 builds stopped then
tagged while reprobox said "nothing was half-written". Each try below stops a
build of a 200 MB project at another point, with another signal, sent to
reprobox or to its process group, and checks that either no new tag exists
and the message says nothing was made, or the tag exists, its image carries
the build's labels, and the message names it as finished.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, TEST_PROJECTS

from reprobox.errors import EXIT_INTERRUPTED

BIG_BYTES = 200_000_000
NOTHING = "reprobox: error: interrupted; nothing was half-written"
# What a stop as reprobox exits says too: every stop that made nothing says one line.
INTERRUPTED = NOTHING
FINISHED = re.compile(
    r"reprobox: error: build finished \(tag (reprobox/\S+:[0-9a-f]{16})\), "
    r"then interrupted"
)
# (signal, to the process group?, the build line it waits for, then seconds)
TRIES = [
    (signal.SIGINT, True, "[internal] load build definition", 0.0),
    (signal.SIGTERM, False, "exporting layers", 0.0),
    (signal.SIGINT, True, "exporting layers", 0.0),
    (signal.SIGHUP, True, "exporting layers", 0.2),
    (signal.SIGINT, False, "exporting layers", 0.4),
    (signal.SIGTERM, True, "exporting to image", 0.0),
    (signal.SIGINT, True, "COPY app", 0.5),
    (signal.SIGHUP, False, "exporting layers", 0.7),
]


def _tags(docker_client, name: str) -> set[str]:
    images = docker_client.images.list(name=f"reprobox/{name}")
    return {tag for image in images for tag in image.tags}


def _stop_build_at(cli, project, signum, to_group: bool, line: str, delay: float):
    """Start a build, signal it delay seconds after line; return (rc, out, err)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprobox", "build", str(project)],
        env=cli.env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen = []
    assert proc.stderr is not None
    for text in proc.stderr:
        seen.append(text)
        if line in text:
            break
    time.sleep(delay)
    try:
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
    except ProcessLookupError:
        pass
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, "".join(seen) + err


@pytest.mark.integration
def test_an_interrupted_build_says_whether_it_made_its_tag(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    big = project / "weights.bin"
    big.write_bytes(os.urandom(BIG_BYTES))
    assert cli.run("-q", "freeze", str(project)).returncode == 0
    assert cli.run("-q", "build", str(project)).returncode == 0  # packages cached
    first = _tags(docker_client, name)
    outcomes = []
    for signum, to_group, line, delay in TRIES:
        with open(big, "r+b") as fh:  # a new tag for every try
            fh.seek(1234)
            fh.write(secrets.token_bytes(16))
        before = _tags(docker_client, name)
        code, out, err = _stop_build_at(cli, project, signum, to_group, line, delay)
        new = _tags(docker_client, name) - before
        last = err.strip().splitlines()[-1]
        what = f"{signal.Signals(signum).name} at {line!r}+{delay}s: exit {code}"
        assert "Traceback" not in err, f"{what}\n{err[-3000:]}"
        if code == 0:  # the build ended before the signal came
            assert out.startswith("built reprobox/"), f"{what}\n{out}"
            assert new == {out.split()[1]}, f"{what}: {new}"
            outcomes.append("done before")
        elif new and out.startswith("built reprobox/") and last == INTERRUPTED:
            # The command had ended, its result said, as the signal came; README:
            # a signal while reprobox exits is 130 too. The result names the tag.
            assert code == EXIT_INTERRUPTED, f"{what}\n{err[-2000:]}"
            assert new == {out.split()[1]}, f"{what}: {new}\n{out}"
            outcomes.append("done, then interrupted while exiting")
        elif new:
            assert code == EXIT_INTERRUPTED, f"{what}\n{err[-2000:]}"
            found = FINISHED.fullmatch(last)
            assert found and new == {found[1]}, f"{what}: {new}\n{err[-2000:]}"
            labels = docker_client.images.get(found[1]).labels
            assert labels["org.reprobox.project"] == name
            outcomes.append("finished")
        else:
            assert code == EXIT_INTERRUPTED, f"{what}\n{err[-2000:]}"
            assert last == NOTHING, f"{what}\n{err[-2000:]}"
            outcomes.append("nothing")
        for tag in new:
            docker_client.images.remove(tag)
        print(f"\n[{what}] {outcomes[-1]}")
    time.sleep(3)  # an engine that tagged after reprobox looked shows it now
    assert _tags(docker_client, name) == first
    # Stopped as the build began, nothing can have been made; stopped as its
    # layers are exported, the engine finished it (measured 16 of 16).
    assert outcomes[0] == "nothing"
    assert "finished" in outcomes[1:6], outcomes
