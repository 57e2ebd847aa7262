"""A push or pull a registry ends with a broken reply says what was wrong with it."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


class CutShort(http.server.BaseHTTPRequestHandler):
    """Say no blob is there yet (404 to HEAD), as a registry would; answer the
    rest with 200, promising 1000 bytes of body and sending a few."""

    def _answer(self):
        cut_short = self.command != "HEAD"
        self.send_response(200 if cut_short else 404)
        self.send_header("Content-Length", "1000" if cut_short else "0")
        self.send_header("Connection", "close")
        self.end_headers()
        if cut_short:
            self.wfile.write(b'{"errors": [{"co')
        self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


def test_a_200_cut_short_is_said_as_a_malformed_reply(cli, engine_cleanup, tmp_path):
    # AZ 4: "127.0.0.1:5713 answered the push with HTTP 200 OK", as if the
    # status were what went wrong.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutShort)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    try:
        done = cli.run("-q", "push", str(project), "--registry", host, check=False)
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 3, done.describe()
    assert "Traceback" not in done.stderr, done.describe()
    assert done.stderr.splitlines()[-1] == (
        f"reprobox: error: {host} gave the push a malformed reply: HTTP 200 OK, a "
        "success status, but not the one the registry API answers that step with "
        f"(check that a registry answers at {host} and accepts pushes)"
    ), done.describe()
    manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
    assert "published" not in manifest


def test_a_pull_whose_reply_is_cut_short_says_so(cli, tmp_path):
    # The engine said "unexpected EOF", shown as the pull's cause in its words.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutShort)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ref = f"127.0.0.1:{server.server_port}/reprobox/x@sha256:" + "d" * 64
    try:
        done = cli.run(
            "-q", "verify", ref, "--runs-dir", str(tmp_path / "v"), check=False
        )
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 3, done.describe()
    assert done.stderr.splitlines() == [
        f"reprobox: error: pull of {ref} failed: its registry gave a reply cut "
        "short: unexpected EOF"
    ], done.describe()


class NoHttp(http.server.BaseHTTPRequestHandler):
    """Answer every request with a status line no HTTP has, then close."""

    def _answer(self):
        self.wfile.write(b"HTTP/1.1 2\r\n\r\n")
        self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


def test_a_reply_that_is_no_http_is_said_as_malformed_not_refused(
    cli, engine_cleanup, tmp_path
):
    # brk r41 (BD 4): the engine's 'malformed HTTP status code "2"' at the
    # /v2/ check read "refused the push", where nothing was refused.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoHttp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    try:
        done = cli.run("-q", "push", str(project), "--registry", host, check=False)
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 3, done.describe()
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"reprobox: error: {host} gave the push a malformed reply:")
    assert "malformed HTTP status code" in last and "refused" not in last


class NoStatus(http.server.BaseHTTPRequestHandler):
    """Answer every request with 999, a code no HTTP status has."""

    def _answer(self):
        self.send_response(999)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


def test_a_reply_with_no_http_status_is_not_a_failure_on_its_side(
    cli, engine_cleanup, tmp_path
):
    # brk r42 (BE 10): HTTP 999 was "the registry failed on its side", the
    # words for a 5xx.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoStatus)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_port}"
    try:
        done = cli.run("-q", "push", str(project), "--registry", host, check=False)
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 3, done.describe()
    last = done.stderr.splitlines()[-1]
    assert "failed on its side" not in last, done.describe()
    assert last.endswith(
        f"(that is no HTTP status: check what answers at {host} (a registry speaks "
        "HTTP), then push again)"
    ), done.describe()
    manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
    assert "published" not in manifest


def test_a_registry_that_never_answers_did_not_answer_it_refused_nothing(
    cli, engine_cleanup, tmp_path
):
    # brk r48 (BP 5): a registry that took the connection and then said
    # nothing "refused the push".
    import socket

    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:  # accept, read nothing, answer nothing
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=hold, daemon=True).start()
    host = f"127.0.0.1:{listener.getsockname()[1]}"
    try:
        done = cli.run(
            "-q", "push", str(project), "--registry", host, check=False, timeout=300
        )
    finally:
        stop.set()
        for conn in held:
            conn.close()
        listener.close()

    assert done.returncode == 3, done.describe()
    last = done.stderr.splitlines()[-1]
    assert last.startswith(
        f"reprobox: error: {host} did not answer the push in time: "
    ), done.describe()
    assert "refused" not in last
