"""A push that waits says why, under -q too, instead of sitting silent.

brk r44: a push stopped with Ctrl-C left the engine still uploading its
layers; the next push, of another project, sat silent for ten minutes with
its layers "Waiting" for the engine's upload turns. A registry that stops
reading an upload left a push just as silent.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import threading
import time

import docker.errors
import pytest

# The registry fixture comes from conftest_cross by import; tests take it by name.
# ruff: noqa: F811
from conftest_cross import registry  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.registry, pytest.mark.timeout(600)]

TURNS = 5  # dockerd's max-concurrent-uploads, left at its default here
NO_PROGRESS = re.compile(r"reprobox: warning: push to (\S+): no progress for 30s: (.*)")


class UploadGate:
    """A TCP proxy to the registry that holds the blob uploads of one
    repository until it is opened: the PATCH and PUT that send a layer, and
    with starts, the POST that starts one too."""

    def __init__(self, registry: str, repository: str, starts: bool = False):
        self.upstream = registry.rsplit(":", 1)
        self.path = f" /v2/{repository}/blobs/uploads/".encode()
        self.methods = (b"PATCH", b"PUT", b"POST") if starts else (b"PATCH", b"PUT")
        self.opened = threading.Event()
        self.held = 0  # the uploads it held so far
        self.counting = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(
                (self.upstream[0], int(self.upstream[1]))
            )
            for src, dst, asks in ((client, upstream, True), (upstream, client, False)):
                args = (src, dst, asks)
                threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, asks: bool) -> None:
        try:
            while data := src.recv(65536):
                first_line = data.split(b"\r\n", 1)[0]
                method = first_line.split(b" ", 1)[0]
                held = self.path in first_line and method in self.methods
                if asks and held and not self.opened.is_set():
                    with self.counting:
                        self.held += 1
                    self.opened.wait(300)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.opened.set()
        self.server.close()


def push_until_warned(cli, project, host: str, gate: UploadGate):
    """Run `reprobox -q push` to host; open the gate once it warns of the
    wait (or after two minutes); return (exit code, stderr lines)."""
    proc = cli.start(
        "-q",
        "push",
        str(project),
        "--registry",
        host,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    timer = threading.Timer(120, gate.opened.set)
    timer.start()
    try:
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if NO_PROGRESS.match(line):
                gate.opened.set()
        return proc.wait(timeout=300), lines
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()


def pushed_tag_removed(docker_client, host: str, name: str) -> None:
    for image in docker_client.api.images(name=f"{host}/reprobox/{name}"):
        for tag in image.get("RepoTags") or []:
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag, noprune=True)


def layer_count(docker_client, tag: str) -> int:
    return len(set(docker_client.images.get(tag).attrs["RootFS"]["Layers"]))


def test_a_push_whose_upload_the_registry_holds_says_it_waits_on_the_registry(
    cli, engine_cleanup, docker_client, registry, tmp_path
):
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    gate = UploadGate(registry, f"reprobox/{name}")
    try:
        code, lines = push_until_warned(cli, project, gate.host, gate)
    finally:
        gate.close()
        pushed_tag_removed(docker_client, gate.host, name)

    shown = "\n".join(lines)
    assert code == 0, shown
    warned = [m for line in lines if (m := NO_PROGRESS.match(line))]
    # dockerd 20.10 said "Pushing" of each layer the registry held ("Preparing"
    # where it held the POST that starts an upload: the same words here). A
    # layer queued for a turn another push on this engine held is not counted.
    assert 1 <= gate.held <= layer_count(docker_client, tag), shown
    held = gate.held
    layers = (
        f"{held} layers being uploaded wait"
        if held > 1
        else "1 layer being uploaded waits"
    )
    assert [m.groups() for m in warned] == [
        (
            gate.host,
            f"{layers} on the registry, which is slow or has stopped answering (or "
            "the network to it has); the push goes on when it answers",
        )
    ], shown


def test_a_push_queued_behind_a_stopped_push_says_the_engine_holds_its_turns(
    cli, engine_cleanup, docker_client, registry, tmp_path
):
    # The breaker's case: a push stopped while its registry held its uploads
    # keeps them in the engine, and with them all the engine's upload turns:
    # the engine notices its client is gone only when it next says progress.
    # Held from their start (the POST), the uploads say none.
    stopped, stopped_name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    project, name, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    gate = UploadGate(registry, f"reprobox/{stopped_name}", starts=True)
    layers = layer_count(docker_client, tag)
    turns = min(layers, TURNS)  # what the stopped push takes: all of them
    first = cli.start(
        "-q", "push", str(stopped), "--registry", gate.host, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while gate.held < turns and first.poll() is None:
            assert time.monotonic() < deadline, f"{gate.held} uploads held in 120 s"
            time.sleep(0.1)
        first.send_signal(signal.SIGINT)
        _, first_err = first.communicate(timeout=60)
        held = gate.held
        # The stop, now met while the stream is read on a thread, still puts
        # back the registry tag the stopped push made.
        left = docker_client.api.images(name=f"{gate.host}/reprobox/{stopped_name}")
        code, lines = push_until_warned(cli, project, gate.host, gate)
    finally:
        first.kill()
        first.wait()
        gate.close()
        pushed_tag_removed(docker_client, gate.host, name)
        pushed_tag_removed(docker_client, gate.host, stopped_name)

    assert (first.returncode, held, left) == (130, turns, []), first_err
    assert (
        first_err.decode().splitlines()[-1].startswith("reprobox: error: interrupted")
    )
    shown = "\n".join(lines)
    assert code == 0, shown
    warned = [m.groups() for line in lines if (m := NO_PROGRESS.match(line))]
    assert warned == [
        (
            gate.host,
            f"{layers} layers wait for a turn to upload. The Docker engine uploads "
            "only a few layers at a time (max-concurrent-uploads, 5 by default) and "
            "another push still going on inside it, such as one stopped earlier, "
            "holds those turns; this push goes on when its uploads end",
        )
    ], shown
