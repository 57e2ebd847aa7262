"""A freeze held by an index that never answers says so after 30 s, under -q.

brk r49 (BR 1): it sat silent for some 2 minutes (uv's timeout and retries)
before saying the index did not answer (timed out); under -q, silent.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PROJECTS = Path(__file__).resolve().parent / "projects"


def silent_index() -> tuple[int, socket.socket]:
    """Accept connections on a loopback port and never answer; return the port."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:  # closed
                return
            held.append(client)

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1], server


def test_freeze_held_by_a_silent_index_warns_once_after_30_s(cli, tmp_path):
    port, server = silent_index()
    project, _ = cli.copy_project(PROJECTS / "sleeper", tmp_path, "sleeper")
    config = project / "reprobox.toml"
    index = f"http://127.0.0.1:{port}/simple/"
    config.write_text(config.read_text() + f'index_url = "{index}"\n')
    started = time.monotonic()
    child = cli.start(
        "-q", "freeze", str(project), stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        line = child.stderr.readline().decode()  # -q: nothing before the warning
        waited = time.monotonic() - started
    finally:
        child.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=30)
        if child.poll() is None:
            child.kill()
            child.wait()
        server.close()
    assert line == (
        "reprobox: warning: still resolving the requirements after 30 s: a "
        "package index that is slow or does not answer holds it up (asked: "
        f"{index}); uv gives up on one that does not answer after its timeout "
        "(30 s a request, retried 3 times)\n"
    )
    assert 29 < waited < 60
    assert not (project / ".reprobox" / "requirements.lock").exists()
