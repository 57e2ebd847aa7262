"""Bad input through the real CLI: one clear line, the right exit code, no debris.

Every case copies the frozen and built tests/integration/projects/hard-tiny
project (with its .reprobox/ and one succeeded run), breaks one thing, runs
`python -m reprobox -q ...` and checks: the exit code (2 bad input, 3 engine
trouble, 1 a run that failed), stderr is one `reprobox: error:` line that names
the file or flag and a fix, no traceback, .reprobox/ unchanged except where the
case allows it, no container of the project left and no image made where none
should be. The config-file cases of tests/unit/test_config.py are not repeated;
the few config cases here go through the CLI on purpose.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reprobox.seals import seal_record

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXIT_FAILED, EXIT_USAGE, EXIT_ENGINE = 1, 2, 3
ANY_HINT = object()  # the line ends with a "(what to do)" hint, whatever its words
PROJECT_LABEL = "org.reprobox.project"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    """One finished CLI call."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        """Return the call and its output for assertion messages."""
        return (
            f"$ {' '.join(self.argv)[:400]}\nexit {self.returncode}\n--- stdout\n"
            f"{self.stdout[-2000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )


def invoke(
    cli, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> Result:
    """Run `python -m reprobox ARGS` in the clean env plus env; return the result."""
    argv = [sys.executable, "-m", "reprobox", *args]
    full_env = {**cli.env(), **(env or {})}
    done = subprocess.run(
        argv,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        check=False,
    )
    return Result(argv, done.returncode, done.stdout, done.stderr)


class Context:
    """What a case's setup may use; undoes mounts and servers afterwards."""

    def __init__(self, cli, tiny, docker_client, tmp: Path):
        self.cli = cli
        self.tiny = tiny
        self.docker = docker_client
        self.tmp = tmp
        self.env: dict[str, str] = {}
        self._undo: list[Callable[[], None]] = []

    def mount_tmpfs(self, path: Path, size: str, options: str = "") -> None:
        """Mount a tmpfs of size on path (made empty first) until the case ends."""
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root and mount(8)")
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(path)],
            check=True,
        )
        self._undo.append(
            lambda: subprocess.run(["umount", "-l", str(path)], check=False)
        )

    def serve_status(self, status: int, failing_uploads_s: float = 0) -> int:
        """Serve `status` to every request on a free loopback port; return it.

        Blob uploads (POSTs) in the first failing_uploads_s seconds after the
        first one are answered 500 instead. Every answer closes its connection
        and the server's socket is closed at the end: an engine trying again
        is refused at once, never left waiting.
        """
        first_upload: list[float] = []

        class Refuse(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                code = status
                if self.command == "POST":
                    first_upload[:] = first_upload or [time.monotonic()]
                    if time.monotonic() - first_upload[0] < failing_uploads_s:
                        code = 500
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._undo.append(server.server_close)
        self._undo.append(server.shutdown)
        self._undo.append(lambda: self.untag(f"127.0.0.1:{server.server_port}/"))
        return server.server_port

    def serve_folder(self, root: Path) -> int:
        """Serve the files under root on a free loopback port; return it."""

        class Files(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._undo.append(server.shutdown)
        return server.server_port

    def on_close(self, undo: Callable[[], None]) -> None:
        """Run undo when the case ends."""
        self._undo.append(undo)

    def untag(self, prefix: str) -> None:
        """Remove this project's image tags that start with prefix."""
        for image in self.docker.images.list():
            for tag in image.tags:
                if tag.startswith(prefix) and self.tiny.name in tag:
                    self.docker.images.remove(tag)

    def freeze(self, project: Path) -> None:
        """Freeze project again through the CLI (after the setup edited it)."""
        result = invoke(self.cli, "-q", "freeze", str(project))
        assert result.returncode == 0, result.describe()

    def close(self) -> None:
        """Undo mounts, stop servers and remove stray tags, last first."""
        for undo in reversed(self._undo):
            undo()


@dataclass
class Case:
    """One bad input and what reprobox must do with it."""

    id: str
    argv: tuple[str, ...]  # "{p}" is the project copy, "{tmp}" the case's tmp folder
    code: int
    needles: tuple[str, ...]  # all must appear in the error line ("{p}" allowed)
    fix: object  # a string the hint must hold, or ANY_HINT
    setup: Callable[[Path, Context], None] | None = None
    may_change: tuple[str, ...] = ()  # .reprobox paths (prefixes) allowed to change
    may_build: bool = False  # whether a new image of the project may appear
    check: Callable[[Result, Path, Context], None] | None = None


def edit(rel: str, change: Callable[[str], str]) -> Callable[[Path, Context], None]:
    """Return a setup that rewrites the project file rel with change."""

    def setup(project: Path, ctx: Context) -> None:
        path = project / rel
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return setup


def remove(rel: str) -> Callable[[Path, Context], None]:
    """Return a setup that deletes the project file rel."""
    return lambda project, ctx: (project / rel).unlink()


def manifest_schema(version: int) -> Callable[[Path, Context], None]:
    """Return a setup that sets the manifest's schema_version."""

    def change(text: str) -> str:
        data = json.loads(text)
        data["schema_version"] = version
        return json.dumps(data)

    return edit(".reprobox/manifest.json", change)


def add_data_file(project: Path, ctx: Context) -> None:
    (project / "extra.csv").write_text("1\n")
    edit(
        "reprobox.toml",
        lambda t: t.replace('data = ["data.csv"]', 'data = ["data.csv", "extra.csv"]'),
    )(project, ctx)


def baseline_record(project: Path) -> Path:
    """Return the record.json of the project's one baseline run."""
    found = sorted((project / ".reprobox" / "runs").glob("*/record.json"))
    assert len(found) == 1, found
    return found[0]


def second_record(project: Path) -> None:
    """Copy the baseline run as a second run, so report has two to compare."""
    source = baseline_record(project)
    record = json.loads(source.read_text())
    record["run_id"] = "20990101T000000Z-copy00"
    target = source.parent.parent / record["run_id"] / "record.json"
    target.parent.mkdir()
    target.write_text(json.dumps(seal_record(record)))


def edit_record(project: Path, change: Callable[[dict], None]) -> None:
    """Edit the baseline record by hand, keeping its (now stale) digest."""
    path = baseline_record(project)
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def write_bad_record(kind: str) -> Callable[[Path, Context], None]:
    """Return a setup writing {tmp}/bad.json: corrupt JSON or a newer schema."""

    def setup(project: Path, ctx: Context) -> None:
        if kind == "corrupt":
            text = baseline_record(project).read_text()[:200]
        else:
            data = json.loads(baseline_record(project).read_text())
            data.update(schema_version=99, run_id=data["run_id"] + "-newer")
            text = json.dumps(data)
        (ctx.tmp / "bad.json").write_text(text)

    return setup


def write_requirements(text: str, *, forget_freeze: bool = False):
    """Return a setup that replaces requirements.txt (and drops .reprobox/)."""

    def setup(project: Path, ctx: Context) -> None:
        (project / "requirements.txt").write_text(text)
        if forget_freeze:
            shutil.rmtree(project / ".reprobox")

    return setup


def write_fake_bundle(truncate: bool) -> Callable[[Path, Context], None]:
    """Return a setup writing {tmp}/bundle.tar shaped like `reprobox export`'s."""

    def setup(project: Path, ctx: Context) -> None:
        members = {
            "image.tar": os.urandom(300_000),
            "manifest.json": (project / ".reprobox/manifest.json").read_bytes(),
        }
        index = {
            "schema_version": 1,
            "image_id": "sha256:" + "0" * 64,
            "tag": "reprobox/hard-tiny:0000",
            "files": {
                name: hashlib.sha256(data).hexdigest() for name, data in members.items()
            },
        }
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in [
                ("reprobox-bundle.json", json.dumps(index).encode()),
                *sorted(members.items()),
            ]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        data = buf.getvalue()
        (ctx.tmp / "bundle.tar").write_bytes(
            data[: len(data) // 3] if truncate else data
        )

    return setup


def set_env_value(value: str) -> Callable[[Path, Context], None]:
    """Return a setup adding [env] WEIRD = value (as a TOML literal) to the config."""

    def setup(project: Path, ctx: Context) -> None:
        with open(project / "reprobox.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[env]\nHARD_SHOW = "WEIRD"\nWEIRD = {value}\n')

    return setup


SHELL_VALUE = r"""$(touch /tmp/pwned) "quoted" back\slash `id` ${HOME} \n"""


def shell_literal_setup(project: Path, ctx: Context) -> None:
    assert not Path("/tmp/pwned").exists(), "/tmp/pwned exists before the test"
    set_env_value("'" + SHELL_VALUE + "'")(project, ctx)
    ctx.freeze(project)


def check_shell_literal(result: Result, project: Path, ctx: Context) -> None:
    record = json.loads(result.stdout)
    log = (project / ".reprobox/runs" / record["run_id"] / "container.log").read_text()
    assert f"WEIRD={SHELL_VALUE!r}" in log.splitlines(), log
    assert "pwned-file-exists=False" in log.splitlines(), log
    assert not Path("/tmp/pwned").exists(), "the value ran as a shell command here"


def check_failed_record(result: Result, project: Path, ctx: Context) -> None:
    record_path = result.stdout.strip().splitlines()[-1].split("record: ")[-1]
    runs = sorted((project / ".reprobox/runs").glob("*/record.json"))
    new = [p for p in runs if p != baseline_record_of(ctx)]
    assert len(new) == 1 and str(new[0]) == record_path, (runs, result.describe())
    record = json.loads(new[0].read_text())
    assert record["status"] == "failed" and record["exit_code"] == 2
    assert "train.py" in record["error"]["log_tail"]


def baseline_record_of(ctx: Context) -> Path:
    """Return where the baseline record lies in the case's copy of the project."""
    rel = baseline_record(ctx.tiny.path).relative_to(ctx.tiny.path)
    return ctx.tmp / "p" / rel


def plain_tar(project: Path, ctx: Context) -> None:
    with tarfile.open(ctx.tmp / "plain.tar", "w") as tar:
        tar.add(project / "requirements.txt", arcname="requirements.txt")


def symlink_outside(project: Path, ctx: Context) -> None:
    (project / "outside").symlink_to("/etc/passwd")


def non_utf8_config(project: Path, ctx: Context) -> None:
    text = (project / "reprobox.toml").read_bytes()
    (project / "reprobox.toml").write_bytes(text + b"\n# caf\xe9\n")


def missing_base_image(project: Path, ctx: Context) -> None:
    edit(
        "reprobox.toml",
        lambda t: t.replace(
            '"reprobox-base:bookworm-py3.11"', '"127.0.0.1:5000/reprobox-nosuch:1"'
        ),
    )(project, ctx)
    ctx.freeze(project)


NO_PYTHON_IMAGE = "reprobox-test-nopython:1"


def base_without_python(project: Path, ctx: Context) -> None:
    # The local base with its Python removed: freeze cannot tell, the build can.
    dockerfile = (
        "FROM reprobox-base:bookworm-py3.11\n"
        "RUN rm -f /usr/bin/python3* /usr/local/bin/python3* /usr/bin/python\n"
    )
    ctx.docker.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=NO_PYTHON_IMAGE, rm=True
    )
    ctx.on_close(lambda: ctx.docker.images.remove(NO_PYTHON_IMAGE, force=True))
    edit(
        "reprobox.toml",
        lambda t: t.replace('"reprobox-base:bookworm-py3.11"', f'"{NO_PYTHON_IMAGE}"'),
    )(project, ctx)
    ctx.freeze(project)


BARE_IMAGE = "reprobox-test-bare:{}"


def bare_base(with_shell: bool):
    """A base made from scratch: a shell (dash and its libc) or not even that;
    no /etc/passwd, no python3. Freeze cannot tell, the build can."""

    def setup(project: Path, ctx: Context) -> None:
        tag = BARE_IMAGE.format("sh" if with_shell else "none")
        folder = ctx.tmp / f"bare-{with_shell}"
        files = {"marker": Path(__file__)}
        if with_shell:
            files = {
                "bin/sh": Path(shutil.which("dash") or "/bin/dash"),
                "lib/x86_64-linux-gnu/libc.so.6": Path(
                    "/lib/x86_64-linux-gnu/libc.so.6"
                ),
                "lib64/ld-linux-x86-64.so.2": Path("/lib64/ld-linux-x86-64.so.2"),
            }
        for name, source in files.items():
            (folder / "root" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source.resolve(), folder / "root" / name)
        (folder / "Dockerfile").write_text("FROM scratch\nCOPY root/ /\n")
        ctx.docker.images.build(path=str(folder), tag=tag, rm=True)
        ctx.on_close(lambda: ctx.docker.images.remove(tag, force=True))
        edit(
            "reprobox.toml",
            lambda t: t.replace('"reprobox-base:bookworm-py3.11"', f'"{tag}"'),
        )(project, ctx)
        ctx.freeze(project)

    return setup


def package_without_wheel(project: Path, ctx: Context) -> None:
    # pycrypto 2.6.1 is an sdist only, and the base has no C compiler.
    (project / "requirements.txt").write_text("pycrypto==2.6.1\n", encoding="utf-8")
    ctx.freeze(project)


def index_on_loopback(project: Path, ctx: Context) -> None:
    # A simple index on this machine's 127.0.0.1: freeze resolves against it
    # (and warns), the build container cannot reach it.
    wheels = ctx.tmp / "index" / "simple" / "six"
    wheels.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
         "six==1.17.0", "-d", str(wheels)],
        check=True,
    )  # fmt: skip
    port = ctx.serve_folder(ctx.tmp / "index")
    edit(
        "reprobox.toml",
        lambda t: t.replace(
            "[packages]\n",
            f'[packages]\nindex_url = "http://127.0.0.1:{port}/simple"\n',
        ),
    )(project, ctx)
    ctx.freeze(project)


def check_build_log_kept(result: Result, project: Path, ctx: Context) -> None:
    """A build failure named in one line keeps the whole log, and says where."""
    log = project / ".reprobox" / "build.log"
    assert "build log is in" in result.stderr, result.describe()
    text = log.read_text(encoding="utf-8")
    assert "ERROR" in text and len(text.splitlines()) > 5
    assert log.stat().st_mode & 0o077 == 0


def python_unlike_the_base(project: Path, ctx: Context) -> None:
    # Freeze cannot tell the base image's Python, the build's own check can.
    edit("reprobox.toml", lambda t: t.replace('python = "3.11"', 'python = "3.12"'))(
        project, ctx
    )
    ctx.freeze(project)


def check_mismatch_log_kept(result: Result, project: Path, ctx: Context) -> None:
    """The Dockerfile's Python check keeps the whole log too, with its own line."""
    log = project / ".reprobox" / "build.log"
    assert "build log is in" in result.stderr, result.describe()
    text = log.read_text(encoding="utf-8")
    assert "the base image has Python 3.11, the project is frozen for 3.12" in text
    assert "ERROR" in text and len(text.splitlines()) > 5
    assert log.stat().st_mode & 0o077 == 0


def engine_unreachable(project: Path, ctx: Context) -> None:
    ctx.env["DOCKER_HOST"] = "unix:///tmp/nonexistent.sock"


def nothing_on_stdout(result: Result, project: Path, ctx: Context) -> None:
    # A lone run that cannot start has no record to print: stdout stays empty
    # for the script reading it, as any command's error leaves it (BO, r47).
    assert result.stdout == "", result.describe()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLOSED_PORT = free_port()


def push_nowhere(project: Path, ctx: Context) -> None:
    ctx._undo.append(lambda: ctx.untag(f"127.0.0.1:{CLOSED_PORT}/"))


def push_refused(project: Path, ctx: Context) -> None:
    ctx.env["HARD_REGISTRY"] = f"127.0.0.1:{ctx.serve_status(405)}"


def ignore_the_script(project: Path, ctx: Context) -> None:
    (project / ".reproboxignore").write_text("# scratch\n*.py\n")


def manifest_made_a_folder(project: Path, ctx: Context) -> None:
    manifest = project / ".reprobox" / "manifest.json"
    manifest.unlink()
    manifest.mkdir()


def sealed_then_refused(project: Path, ctx: Context) -> None:
    """Seal the baseline run locally (an export), then add a newer run: the
    refused push below seals that newer run and must put the old seal back."""
    out = ctx.tmp / "first.bundle"
    done = invoke(ctx.cli, "-q", "export", str(project), "-o", str(out))
    assert done.returncode == 0, done.describe()
    ctx.sealed_before = sealed_id(ctx, project)
    ran = invoke(ctx.cli, "-q", "run", str(project))
    assert ran.returncode == 0, ran.describe()
    push_refused(project, ctx)


def sealed_id(ctx: Context, project: Path) -> str | None:
    tags = [t for t in project_tags(ctx.docker, ctx.tiny.name) if t.endswith("-sealed")]
    return ctx.docker.images.get(tags[0]).id if tags else None


def check_first_seal_kept(result: Result, project: Path, ctx: Context) -> None:
    # bt 2: the push said "sealed run ... into <tag>-sealed", then removed it.
    sealed = sealed_id(ctx, project)
    assert sealed is not None, result.describe()
    labels = ctx.docker.images.get(sealed).labels
    assert "org.reprobox.reference-record" in labels


def check_seal_put_back(result: Result, project: Path, ctx: Context) -> None:
    assert ctx.sealed_before is not None
    assert sealed_id(ctx, project) == ctx.sealed_before


BIG_METRICS = """import json, os
print("writing a big metrics file", flush=True)
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    json.dump({"rows": 1, "blob": "x" * 2_000_000}, fh)
"""


def disk_full_run(project: Path, ctx: Context) -> None:
    (project / "train.py").write_text(BIG_METRICS)
    shutil.rmtree(project / ".reprobox/runs")
    ctx.mount_tmpfs(project / ".reprobox/runs", "256k")


def disk_full_freeze(project: Path, ctx: Context) -> None:
    ctx.mount_tmpfs(project / ".reprobox", "8k")


def check_json_whole(result: Result, project: Path, ctx: Context) -> None:
    for name in ("record.json", "capture.json", "manifest.json"):
        for path in (project / ".reprobox").rglob(name):
            json.loads(path.read_text())  # raises on half a file


def check_freeze_wrote_nothing(result: Result, project: Path, ctx: Context) -> None:
    check_json_whole(result, project, ctx)
    # All or nothing: no manifest, and no lock or Dockerfile without one.
    state = project / ".reprobox"
    written = sorted(p.name for p in state.iterdir()) if state.is_dir() else []
    assert [n for n in written if not n.startswith(".")] == [], written


def set_env(name: str, value: str) -> Callable[[Path, Context], None]:
    """Return a setup that sets an environment variable for the CLI call."""

    def setup(project: Path, ctx: Context) -> None:
        ctx.env[name] = value

    return setup


INDEX_TOKEN = "tok-h3-planted-4f1c9a"


def index_refusing_the_token(project: Path, ctx: Context) -> None:
    """Declare an index on 127.0.0.1 whose token comes from the env; it says 401."""
    port = ctx.serve_status(401)
    ctx.env["HARD_INDEX_TOKEN"] = INDEX_TOKEN
    edit(
        "reprobox.toml",
        lambda t: t.replace(
            "[packages]\n",
            "[packages]\nindex_url = "
            f'"http://__token__:${{HARD_INDEX_TOKEN}}@127.0.0.1:{port}/simple/"\n',
        ),
    )(project, ctx)


def check_token_not_shown(result: Result, project: Path, ctx: Context) -> None:
    assert INDEX_TOKEN not in result.stdout + result.stderr, result.describe()


JOINED_TOKEN = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"


def check_joined_token_not_shown(result: Result, project: Path, ctx: Context) -> None:
    assert JOINED_TOKEN not in result.stdout + result.stderr, result.describe()


def check_no_folder_made(result: Result, project: Path, ctx: Context) -> None:
    assert not (ctx.tmp / "nonexistent-dir").exists(), "report made the folder"


RUN = ("run", "{p}")
BUILD = ("build", "{p}")


def requirements_txt_as_a_folder(project: Path, ctx: Context) -> None:
    """Replace requirements.txt by a folder, taken by default (no setting)."""
    config = project / "reprobox.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('requirements = "requirements.txt"\n', ""))
    assert "requirements =" not in config.read_text(encoding="utf-8")
    (project / "requirements.txt").unlink()
    (project / "requirements.txt").mkdir()
    (project / "requirements.txt" / "base.txt").write_text("")


CASES = [
    Case(
        # brk r38 (AZ 5): read as "no requirements file", whose fix named it.
        "default-requirements-txt-is-a-folder",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: packages (requirements.txt, taken by default)",
            "'requirements.txt' is a folder; a requirements file is one file",
        ),
        'set packages.requirements = "<its file>", or rename it',
        setup=requirements_txt_as_a_folder,
    ),
    Case(
        # Refused before any build or container: no run to record (cd 1).
        "train-script-missing",
        RUN,
        EXIT_USAGE,
        ("{p}/reprobox.toml: command: runs 'train.py'", "(no such file)"),
        "create it, or fix the path in command",
        setup=remove("train.py"),
    ),
    Case(
        "data-missing",
        RUN,
        EXIT_USAGE,
        ("data.csv", "does not exist"),
        ANY_HINT,
        setup=remove("data.csv"),
    ),
    Case(
        # brk r43 (BG 3): a token joined to a path's other characters was
        # printed whole (a bare one was cut to ghp_***).
        "data-path-holding-a-joined-token",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("reprobox.toml: data:", "'d_ghp_***.csv' does not exist"),
        ANY_HINT,
        setup=edit(
            "reprobox.toml",
            lambda t: t.replace(
                'data = ["data.csv"]', f'data = ["d_{JOINED_TOKEN}.csv"]'
            ),
        ),
        check=check_joined_token_not_shown,
    ),
    Case(
        "data-unreadable-by-the-training-user",
        RUN,
        EXIT_USAGE,
        ("{p}/data.csv", "not readable by the training user", "mode 0600"),
        "chmod a+r",
        setup=lambda project, ctx: (project / "data.csv").chmod(0o600),
    ),
    Case(
        "data-changed",
        RUN,
        EXIT_USAGE,
        ("{p}/data.csv", "changed since freeze"),
        "reprobox freeze",
        setup=edit("data.csv", lambda t: t + "5,6\n"),
    ),
    Case(
        # The data list is in reprobox.toml: the edit is what run names first.
        "data-added",
        RUN,
        EXIT_USAGE,
        ("{p}/reprobox.toml changed since freeze",),
        "reprobox freeze",
        setup=add_data_file,
    ),
    Case(
        "lock-missing",
        RUN,
        EXIT_USAGE,
        ("requirements.lock", "missing"),
        "reprobox freeze",
        setup=remove(".reprobox/requirements.lock"),
    ),
    Case(
        "lock-edited",
        RUN,
        EXIT_USAGE,
        ("requirements.lock", "sha256"),
        "reprobox freeze",
        setup=edit(".reprobox/requirements.lock", lambda t: t + "# edited\n"),
    ),
    Case(
        "dockerfile-edited",
        RUN,
        EXIT_USAGE,
        ("Dockerfile", "changed after freeze"),
        "reprobox freeze",
        setup=edit(".reprobox/Dockerfile", lambda t: t + "#\n"),
    ),
    Case(
        "manifest-corrupt",
        RUN,
        EXIT_USAGE,
        ("manifest.json", "not valid JSON"),
        "run `reprobox freeze",
        setup=edit(".reprobox/manifest.json", lambda t: t[:50]),
    ),
    Case(
        "manifest-newer",
        RUN,
        EXIT_USAGE,
        ("manifest.json", "schema_version 7"),
        "upgrade reprobox",
        setup=manifest_schema(7),
    ),
    Case(
        "manifest-seed-edited-by-hand",
        RUN,
        EXIT_USAGE,
        ("manifest.json", "section 'seed' was edited after freeze"),
        "reprobox freeze",
        setup=edit(
            ".reprobox/manifest.json", lambda t: t.replace('"seed": 7', '"seed": 8')
        ),
    ),
    Case(
        # It turned off the check of requirements edited since freeze.
        "manifest-requirements-digest-nulled",
        BUILD,
        EXIT_USAGE,
        ("manifest.json", "section 'requirements_sha256' was edited after freeze"),
        "reprobox freeze",
        setup=edit(
            ".reprobox/manifest.json",
            lambda t: json.dumps({**json.loads(t), "requirements_sha256": None}),
        ),
    ),
    Case(
        "manifest-seed-given-twice",
        RUN,
        EXIT_USAGE,
        ("manifest.json", 'key "seed" appears twice'),
        "restore the file",
        setup=edit(
            ".reprobox/manifest.json",
            lambda t: t.replace('"seed": 7', '"seed": 7, "seed": 3'),
        ),
    ),
    Case(
        # compare then judged the edited number; export sealed it in.
        "record-metric-edited-by-hand",
        ("compare", "{p}/.reprobox/runs", "{p}/.reprobox/runs"),
        EXIT_USAGE,
        ("record.json", "was edited after reprobox wrote it"),
        "rerun it, or move the record out of the runs folder",
        setup=lambda project, ctx: edit_record(
            project, lambda r: r["metrics"].update(test_accuracy=1.0)
        ),
    ),
    Case(
        "command-with-shell-redirection",
        RUN,
        EXIT_USAGE,
        ("reprobox.toml: command", "uses shell syntax ('>')"),
        '["sh", "-c", "python train.py > out.txt"]',
        setup=edit(
            "reprobox.toml",
            lambda t: t.replace('"python train.py"', '"python train.py > out.txt"'),
        ),
    ),
    Case(
        "manifest-missing",
        RUN,
        EXIT_USAGE,
        ("manifest.json", "missing"),
        "reprobox freeze",
        setup=remove(".reprobox/manifest.json"),
    ),
    Case(
        "compare-corrupt-record",
        ("compare", "{tmp}/bad.json", "{p}/.reprobox/runs"),
        EXIT_USAGE,
        ("{tmp}/bad.json", "not valid JSON"),
        "leave this file out",
        setup=write_bad_record("corrupt"),
    ),
    Case(
        "compare-newer-record",
        ("compare", "{tmp}/bad.json", "{p}/.reprobox/runs"),
        EXIT_USAGE,
        ("{tmp}/bad.json", "schema_version 99"),
        "upgrade reprobox",
        setup=write_bad_record("newer"),
    ),
    Case(
        "compare-one-record",
        ("compare", "{p}/.reprobox/runs"),
        EXIT_USAGE,
        ("two or more", "got 1"),
        "give more",
    ),
    Case(
        # brk r43 (BG 7): --reference read as a second run to compare.
        "compare-one-record-and-a-reference",
        ("compare", "{p}/.reprobox/runs", "--reference", "0"),
        EXIT_USAGE,
        ("got 1", "--reference '0' picks one of the runs given, it adds none"),
        "give more",
    ),
    Case(
        "compare-nonexistent",
        ("compare", "{tmp}/nope", "{p}/.reprobox/runs"),
        EXIT_USAGE,
        ("{tmp}/nope", "no such file"),
        "record.json",
    ),
    Case(
        "tol-malformed",
        ("compare", "{p}/.reprobox/runs", "{p}/.reprobox/runs", "--tol", "rows"),
        EXIT_USAGE,
        ("--tol", "rows"),
        "--tol test_accuracy=abs:",
    ),
    Case(
        "seeds-backwards",
        (*RUN, "--seeds", "5-1"),
        EXIT_USAGE,
        ("--seeds", "5-1"),
        "1-5",
    ),
    Case(
        "seeds-not-a-number",
        (*RUN, "--seeds", "x"),
        EXIT_USAGE,
        ("--seeds", "'x'"),
        "--seeds 0-4",
    ),
    Case("cpus-zero", (*RUN, "--cpus", "0"), EXIT_USAGE, ("--cpus",), "--cpus 1.5"),
    Case(
        "cpus-negative", (*RUN, "--cpus", "-1"), EXIT_USAGE, ("--cpus",), "--cpus 1.5"
    ),
    Case(
        "memory-words",
        (*RUN, "--memory", "lots"),
        EXIT_USAGE,
        ("--memory", "lots"),
        "--memory 4g",
    ),
    Case(
        "profile-unknown",
        (*RUN, "--profile", "fast"),
        EXIT_USAGE,
        ("--profile", "fast"),
        "strict",
    ),
    Case(
        "env-bad-name",
        (*RUN, "--env", "1BAD=x"),
        EXIT_USAGE,
        ("--env", "1BAD"),
        ANY_HINT,
    ),
    Case(
        "env-value-with-a-line-break",
        (*RUN, "--env", "A=b\nc"),
        EXIT_USAGE,
        ("--env A", "line break"),
        "one line",
    ),
    Case(
        "env-given-twice",
        (*RUN, "--env", "A=1", "--env", "A=2"),
        EXIT_USAGE,
        ("--env A", "twice"),
        "once",
    ),
    Case(
        "env-reprobox-own",
        (*RUN, "--env", "REPROBOX_OUT=/x"),
        EXIT_USAGE,
        ("REPROBOX_OUT",),
        "--seed",
    ),
    Case(
        "env-unset",
        (*RUN, "--env", "HARD_UNSET_NAME_ZZZ"),
        EXIT_USAGE,
        ("HARD_UNSET_NAME_ZZZ", "not set"),
        "--env HARD_UNSET_NAME_ZZZ=VALUE",
    ),
    Case(
        "seed-and-seeds",
        (*RUN, "--seed", "1", "--seeds", "1-2"),
        EXIT_USAGE,
        ("--seed", "--seeds"),
        "use one",
    ),
    Case(
        "gpus-bogus",
        (*RUN, "--gpus", "bogus"),
        EXIT_USAGE,
        ("--gpus", "bogus"),
        "--gpus all",
    ),
    Case(
        # brk review 17: 0 and 00 are one GPU index; it passed "named twice".
        "gpus-index-named-twice-as-0-and-00",
        (*RUN, "--gpus", "device=0,00"),
        EXIT_USAGE,
        ("--gpus 'device=0,00'", "names a GPU twice"),
        "--gpus all",
    ),
    Case(
        # brk r42 (BE 10, BF 6): a lone quote was stripped and "all" ran.
        "gpus-lone-quote",
        (*RUN, "--gpus", '"all'),
        EXIT_USAGE,
        ("--gpus '\"all'", "is not a GPU selection"),
        "--gpus all",
    ),
    Case(
        "gpus-on-gpu-less-host",
        (*RUN, "--gpus", "all"),
        EXIT_USAGE,
        ("--gpus all", "NVIDIA driver"),
        "run without --gpus",
    ),
    Case(
        "registry-url",
        ("push", "{p}", "--registry", "http://x"),
        EXIT_USAGE,
        ("--registry", "http://x"),
        "--registry 127.0.0.1:5000",
    ),
    Case(
        "import-missing",
        ("import", "{tmp}/nope.tar"),
        EXIT_USAGE,
        ("{tmp}/nope.tar", "no such file"),
        "written by export",
    ),
    Case(
        "import-not-a-bundle",
        ("import", "{tmp}/plain.tar"),
        EXIT_USAGE,
        ("{tmp}/plain.tar", "not a reprobox bundle"),
        "reprobox export",
        setup=plain_tar,
    ),
    Case(
        "import-truncated",
        ("import", "{tmp}/bundle.tar"),
        EXIT_USAGE,
        ("{tmp}/bundle.tar",),
        ANY_HINT,
        setup=write_fake_bundle(truncate=True),
    ),
    Case(
        "verify-foreign-image",
        ("verify", "reprobox-base:bookworm-py3.11", "--runs-dir", "{tmp}/verify"),
        EXIT_USAGE,
        ("reprobox-base:bookworm-py3.11", "not made by reprobox"),
        ANY_HINT,
    ),
    Case(
        # bv 2: freeze and build took it; the run then failed, exit 1.
        "command-script-in-reproboxignore",
        BUILD,
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: command: runs 'train.py'",
            ".reproboxignore leaves it out",
        ),
        "remove the .reproboxignore line",
        setup=ignore_the_script,
    ),
    Case(
        # h73: freeze took it; the run then failed in the container, exit 1,
        # "can't open file '/app/missing.py'", after a build.
        "command-script-missing",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: command: runs 'missing.py', which is not in the "
            "project (no such file)",
        ),
        "create it, or fix the path in command",
        setup=edit(
            "reprobox.toml",
            lambda t: t.replace(
                'command = "python train.py"', 'command = "python missing.py"'
            ),
        ),
    ),
    Case(
        # bx: behind a wrapper the script was not looked for; the run failed
        # in the container, "can't open file '/app/missing.py'".
        "command-script-missing-behind-timeout",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: command: runs 'missing.py', which is not in the "
            "project (no such file)",
        ),
        "create it, or fix the path in command",
        setup=edit(
            "reprobox.toml",
            lambda t: t.replace(
                'command = "python train.py"',
                'command = "timeout 3600 python missing.py"',
            ),
        ),
    ),
    Case(
        # Build looks again: the script deleted after freeze.
        "command-script-removed-since-freeze",
        BUILD,
        EXIT_USAGE,
        ("{p}/reprobox.toml: command: runs 'train.py'", "(no such file)"),
        "create it, or fix the path in command",
        setup=remove("train.py"),
    ),
    Case(
        # bu 4: found at its rename, after the lock and Dockerfile were
        # replaced; temps and .freeze.pending were left, build then refused.
        "manifest-path-is-a-folder",
        ("freeze", "{p}"),
        EXIT_USAGE,
        # Refused before the lock is made (brk r41, BD 1), as build refuses it.
        ("{p}/.reprobox/manifest.json: manifest is a folder, not a file reprobox",),
        "move it away, then run `reprobox freeze",
        setup=manifest_made_a_folder,
    ),
    Case(
        "requirement-unresolvable",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("nonexistent-package-reprobox-zzz", "requirements.txt"),
        ANY_HINT,
        setup=write_requirements(
            "six==1.17.0\nnonexistent-package-reprobox-zzz==1.0\n", forget_freeze=True
        ),
    ),
    Case(
        "index-credential-in-config",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("reprobox.toml", "packages.extra_index_urls", "credential"),
        "${NAME}",
        setup=edit(
            "reprobox.toml",
            lambda t: t.replace(
                'requirements = "requirements.txt"\n',
                'requirements = "requirements.txt"\nextra_index_urls = '
                '["https://__token__:s3cr3t@127.0.0.1:9/simple/"]\n',
            ),
        ),
    ),
    Case(
        "index-refuses-the-token",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "reprobox.toml: packages.index_url: http://***@127.0.0.1:",
            "refused the credentials in its URL (401 Unauthorized)",
        ),
        "check the token in $HARD_INDEX_TOKEN",
        setup=index_refusing_the_token,
        check=check_token_not_shown,
    ),
    Case(
        "tolerance-for-a-metric-not-compared",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: metrics.tolerances.test_acuracy:",
            "'test_acuracy' is not in metrics.compare",
        ),
        "add 'test_acuracy' to metrics.compare",
        setup=edit(
            "reprobox.toml",
            lambda t: (
                t + '\n[metrics]\ncompare = ["test_accuracy"]\n'
                "tolerances = { test_acuracy = { abs = 0.01 } }\n"
            ),
        ),
    ),
    Case(
        # brk r42 (BF 7): "inf is not finite" named a value never written.
        "tolerance-past-the-largest-float",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: metrics.tolerances.test_accuracy.abs:",
            "inf is not a finite number ≥ 0 (a number past the largest float, "
            "such as 1e400, reads as inf)",
        ),
        "e.g. { abs = 0.01 }",
        setup=edit(
            "reprobox.toml",
            lambda t: (
                t + '\n[metrics]\ncompare = ["test_accuracy"]\n'
                "tolerances = { test_accuracy = { abs = 1e400 } }\n"
            ),
        ),
    ),
    Case(
        # brk r44 (BI 4): 1e-400 reads as 0, and the tolerance became exact.
        "tolerance-below-the-smallest-float",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: metrics.tolerances.test_accuracy.rel:",
            "1e-400 is too close to 0 for a float (the smallest is 5e-324), so it "
            "reads as 0",
        ),
        "write 0 for an exact bound, or a number of at least 5e-324",
        setup=edit(
            "reprobox.toml",
            lambda t: (
                t + '\n[metrics]\ncompare = ["test_accuracy"]\n'
                "tolerances = { test_accuracy = { rel = 1e-400 } }\n"
            ),
        ),
    ),
    Case(
        "requirement-editable",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/requirements.txt:2", "-e ."),
        "name==version",
        setup=write_requirements("six==1.17.0\n-e .\n"),
    ),
    Case(
        "requirement-local-path",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/requirements.txt:2", "./pkg"),
        "name==version",
        setup=write_requirements("six==1.17.0\n./pkg\n"),
    ),
    Case(
        "requirement-file-url",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/requirements.txt:1", "file://"),
        "six==",
        setup=write_requirements("six @ file:///tmp/six-1.17.0-py2.py3-none-any.whl\n"),
    ),
    Case(
        "data-outside",
        RUN,
        EXIT_USAGE,
        ("reprobox.toml", "data", "../data.csv"),
        "into the project folder",
        setup=edit("reprobox.toml", lambda t: t.replace('"data.csv"', '"../data.csv"')),
    ),
    Case(
        "data-absolute",
        RUN,
        EXIT_USAGE,
        ("reprobox.toml", "data", "/etc/hostname"),
        "inside the project folder",
        setup=edit(
            "reprobox.toml", lambda t: t.replace('"data.csv"', '"/etc/hostname"')
        ),
    ),
    Case(
        "symlink-outside",
        ("build", "{p}"),
        EXIT_USAGE,
        ("outside", "symbolic link", "/etc/passwd"),
        ".reproboxignore",
        setup=symlink_outside,
    ),
    Case(
        "env-newline",
        RUN,
        EXIT_USAGE,
        ("reprobox.toml", "env.WEIRD", "line break"),
        "one line",
        setup=set_env_value('"""a\nb"""'),
    ),
    Case(
        "env-shell-characters-kept-literal",
        (*RUN, "--json"),
        0,
        (),
        None,
        setup=shell_literal_setup,
        may_change=("runs/",),
        may_build=True,
        check=check_shell_literal,
    ),
    Case(
        "config-not-utf8",
        RUN,
        EXIT_USAGE,
        ("reprobox.toml", "UTF-8"),
        "save it",
        setup=non_utf8_config,
    ),
    Case(
        "env-100kb",
        RUN,
        EXIT_USAGE,
        ("reprobox.toml", "env.WEIRD", "4096"),
        "in a file",
        setup=set_env_value('"' + "x" * 100_000 + '"'),
    ),
    Case(
        "engine-unreachable",
        RUN,
        EXIT_ENGINE,
        ("unix:///tmp/nonexistent.sock", "no Docker engine"),
        "DOCKER_HOST",
        setup=engine_unreachable,
    ),
    Case(
        "engine-unreachable-json",
        (*RUN, "--json"),
        EXIT_ENGINE,
        ("unix:///tmp/nonexistent.sock", "no Docker engine"),
        "DOCKER_HOST",
        setup=engine_unreachable,
        check=nothing_on_stdout,
    ),
    Case(
        "base-image-missing",
        RUN,
        EXIT_USAGE,
        (
            "reprobox.toml: base_image",
            "127.0.0.1:5000/reprobox-nosuch:1",
            "no such image",
        ),
        "change base_image",
        setup=missing_base_image,
    ),
    Case(
        "base-image-without-python3",
        BUILD,
        EXIT_USAGE,
        ("reprobox.toml: base_image", NO_PYTHON_IMAGE, "has no python3"),
        "python3-venv",
        setup=base_without_python,
        may_change=("build.log",),
        check=check_build_log_kept,
    ),
    Case(
        "base-image-without-passwd-or-python3",
        BUILD,
        EXIT_USAGE,
        ("reprobox.toml: base_image", BARE_IMAGE.format("sh"), "has no python3"),
        "python3-venv",
        setup=bare_base(with_shell=True),
        may_change=("build.log",),
        check=check_build_log_kept,
    ),
    Case(
        "base-image-without-a-shell",
        BUILD,
        EXIT_USAGE,
        ("reprobox.toml: base_image", BARE_IMAGE.format("none"), "has no /bin/sh"),
        "python3-venv",
        setup=bare_base(with_shell=False),
        may_change=("build.log",),
        check=check_build_log_kept,
    ),
    Case(
        "python-unlike-the-base-image",
        BUILD,
        EXIT_USAGE,
        ("the base image has Python 3.11", "the project is frozen for 3.12"),
        "set python to the base image's",
        setup=python_unlike_the_base,
        may_change=("build.log",),
        check=check_mismatch_log_kept,
    ),
    Case(
        "package-fails-to-build",
        BUILD,
        EXIT_USAGE,
        ("package pycrypto failed to build from source", "Python 3.11"),
        "pin a pycrypto version with a wheel",
        setup=package_without_wheel,
        may_change=("build.log",),
        check=check_build_log_kept,
    ),
    Case(
        "index-on-loopback",
        BUILD,
        EXIT_USAGE,
        ("reprobox.toml: packages.index_url", "loopback"),
        "127.0.0.1 in a container is the container itself",
        setup=index_on_loopback,
        may_change=("build.log",),
        check=check_build_log_kept,
    ),
    Case(
        "registry-not-listening",
        ("push", "{p}", "--registry", f"127.0.0.1:{CLOSED_PORT}"),
        EXIT_ENGINE,
        (f"127.0.0.1:{CLOSED_PORT}", "refused"),
        ANY_HINT,
        setup=push_nowhere,
        check=check_first_seal_kept,
    ),
    Case(
        "registry-answers-405",
        ("push", "{p}", "--registry", "{HARD_REGISTRY}"),
        EXIT_ENGINE,
        ("{HARD_REGISTRY}",),
        ANY_HINT,
        setup=push_refused,
    ),
    Case(
        "registry-refuses-after-a-new-seal",
        ("push", "{p}", "--registry", "{HARD_REGISTRY}"),
        EXIT_ENGINE,
        ("{HARD_REGISTRY}",),
        ANY_HINT,
        setup=sealed_then_refused,
        may_change=("runs/",),
        check=check_seal_put_back,
    ),
    Case(
        "disk-full-during-run",
        RUN,
        EXIT_USAGE,  # the runs folder is the user's to fix, as freeze's disk is
        ("No space left",),
        "free space there",
        setup=disk_full_run,
        may_change=("runs/",),
        may_build=True,
        check=check_json_whole,
    ),
    Case(
        "disk-full-during-freeze",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("No space left",),
        ANY_HINT,
        setup=disk_full_freeze,
        may_change=("",),
        check=check_freeze_wrote_nothing,
    ),
    Case(
        "cpus-below-docker-minimum",
        (*RUN, "--cpus", "1e-9"),
        EXIT_USAGE,
        ("--cpus 1e-9",),  # as typed, not 1e-09
        "0.01 or more",
    ),
    Case(
        "cpus-more-than-the-engine-has",
        (*RUN, "--cpus", "4000"),
        EXIT_USAGE,
        ("refused the container's settings", "CPUs"),
        "lower --cpus",
        may_change=("runs/",),
    ),
    Case(
        "memory-below-engine-minimum",
        (*RUN, "--memory", "1k"),
        EXIT_USAGE,
        ("--memory 1k", "outside what Docker accepts"),
        "--memory 4g",
    ),
    Case(
        "seed-negative",
        (*RUN, "--seed", "-1"),
        EXIT_USAGE,
        ("--seed -1", "out of range"),
        "0 to 4294967295",
    ),
    Case(
        "seed-too-big",
        (*RUN, "--seed", "5000000000"),
        EXIT_USAGE,
        ("--seed 5000000000", "out of range"),
        "0 to 4294967295",
    ),
    Case(
        "seeds-too-big",
        (*RUN, "--seeds", "1,5000000000"),
        EXIT_USAGE,
        ("--seeds", "5000000000", "out of range"),
        "0 to 4294967295",
    ),
    Case(
        "host-port-out-of-range",
        ("build", "{p}", "--host", "tcp://127.0.0.1:99999"),
        EXIT_USAGE,
        ("--host", "99999", "not a Docker engine address"),
        "tcp://HOST:PORT",
    ),
    Case(
        # brk r43 (BG 7): read as a host named unix: exit 3, no engine answers.
        "host-scheme-without-slashes",
        ("run", "{p}", "--host", "unix:"),
        EXIT_USAGE,
        ("--host 'unix:'", "not a Docker engine address", "needs // after it"),
        "unix:///PATH",
    ),
    Case(
        # brk r49 (BR 4): docker-py's "port is required", read as the scheme.
        "host-without-its-port",
        ("run", "{p}", "--host", "http://127.0.0.1"),
        EXIT_USAGE,
        (
            "--host 'http://127.0.0.1' is not a Docker engine address: it names "
            "no port, which http:// needs (e.g. http://127.0.0.1:2375)",
        ),
        "tcp://HOST:PORT",
    ),
    Case(
        # brk r50 (BT 1): a bare word was read as a scheme ("garbage://:2375").
        "host-a-bare-word",
        ("run", "{p}", "--host", "garbage"),
        EXIT_USAGE,
        (
            "--host 'garbage' is not a Docker engine address: it names no scheme "
            "and no port (e.g. tcp://garbage:2375)",
        ),
        "tcp://HOST:PORT",
    ),
    Case(
        "host-port-not-a-number",
        ("build", "{p}", "--host", "tcp://127.0.0.1:abc"),
        EXIT_USAGE,
        ("--host", "abc", "not a Docker engine address"),
        "tcp://HOST:PORT",
    ),
    Case(
        "host-ipv6-unclosed",
        ("build", "{p}", "--host", "tcp://[::1"),
        EXIT_USAGE,
        ("--host", "[::1", "not a Docker engine address"),
        "tcp://HOST:PORT",
    ),
    Case(
        "host-unknown-scheme",
        ("build", "{p}", "--host", "garbage://x"),
        EXIT_USAGE,
        ("--host", "garbage://x", "protocol"),
        "unix:///PATH",
    ),
    Case(
        "docker-host-port-out-of-range",
        ("build", "{p}"),
        EXIT_USAGE,
        ("DOCKER_HOST", "99999", "not a Docker engine address"),
        "tcp://HOST:PORT",
        setup=set_env("DOCKER_HOST", "tcp://127.0.0.1:99999"),
    ),
    Case(
        "context-unknown",
        ("build", "{p}", "--context", "nosuch"),
        EXIT_USAGE,
        ("docker context 'nosuch' not found",),
        "docker context ls",
    ),
    Case(
        "docker-context-env-unknown",
        ("build", "{p}", "--force"),
        EXIT_USAGE,
        ("DOCKER_CONTEXT='nosuch': docker context 'nosuch' not found",),
        "unset DOCKER_CONTEXT",
        setup=set_env("DOCKER_CONTEXT", "nosuch"),
    ),
    Case(
        "verify-malformed-image",
        ("verify", "BAD IMAGE!!", "--runs-dir", "{tmp}/verify"),
        EXIT_USAGE,
        ("'BAD IMAGE!!'", "not an image reference"),
        "NAME[:TAG]",
    ),
    Case(
        "report-output-is-a-directory",
        ("report", "{p}/.reprobox/runs", "-o", "{tmp}"),
        EXIT_USAGE,
        ("--output {tmp}", "is a directory"),
        "report.html",
    ),
    Case(
        "report-output-folder-missing",
        ("report", "{p}/.reprobox/runs", "-o", "{tmp}/nonexistent-dir/x.html"),
        EXIT_USAGE,
        ("{tmp}/nonexistent-dir", "does not exist"),
        "create it first",
        check=check_no_folder_made,
    ),
    Case(
        "report-output-is-an-input",
        ("report", "{p}/.reprobox/runs", "-o", "{p}/.reprobox/runs/{run}/record.json"),
        EXIT_USAGE,
        ("--output", "record.json", "reprobox will not replace it"),
        "choose another -o",
        setup=lambda p, ctx: second_record(p),
    ),
    Case(
        "export-output-is-the-manifest",
        ("export", "{p}", "-o", "{p}/.reprobox/manifest.json"),
        EXIT_USAGE,
        ("--output", "manifest.json", "reprobox keeps in .reprobox/"),
        "outside .reprobox/",
    ),
    Case(
        # Round 34: a 299 MB file named "-" in the working folder.
        "export-output-is-stdout",
        ("export", "{p}", "-o", "-"),
        EXIT_USAGE,
        ("--output -", "as a file, not to stdout"),
        "give a file path",
    ),
    Case(
        "export-output-is-project-code",
        ("export", "{p}", "-o", "{p}/train.py"),
        EXIT_USAGE,
        ("--output", "train.py", "a file of project"),
        "outside the project folder",
    ),
    Case(
        "verify-runs-dir-is-a-file",
        (
            "verify",
            "{image}",
            "--runs-dir",
            "{p}/train.py",
            "--reference",
            "{p}/.reprobox/runs/{run}/record.json",
        ),
        EXIT_USAGE,
        ("train.py", "cannot write the run's files there"),
        "must be a folder",
    ),
    Case(
        "verify-image-with-data",
        (
            "verify",
            "{image}",
            "--runs-dir",
            "{tmp}/v",
            "--reference",
            "{p}/.reprobox/runs/{run}/record.json",
        ),
        EXIT_USAGE,
        ("trains on data files", "data.csv", "cannot mount them"),
        "reprobox run",
    ),
    Case(
        # brk r36 (AW 8d): without --reference this said the image carries no
        # reference "or pass --reference", which the data then refused.
        "verify-image-with-data-no-reference",
        ("verify", "{image}", "--runs-dir", "{tmp}/v"),
        EXIT_USAGE,
        ("trains on data files", "data.csv", "cannot mount them"),
        "reprobox run",
    ),
    Case(
        "requirements-not-utf8",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/requirements.txt", "not UTF-8"),
        "save it as UTF-8",
        setup=lambda p, ctx: (p / "requirements.txt").write_bytes(b"\xff\xfe x\n"),
    ),
    Case(
        "requirements-include-outside",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/requirements.txt:1", "outside the project folder"),
        "copy the file into the project",
        setup=write_requirements("-r /etc/hostname\n"),
    ),
    Case(
        "run-cpus-beyond-the-engine",
        ("run", "{p}", "--cpus", "1000"),
        EXIT_USAGE,
        ("the engine refused the container's settings",),
        "lower --cpus",
    ),
    Case(
        # brk r45 (BK 2, BL F1): "write e.g. --cpus 0", refused next.
        "run-cpus-below-the-smallest-float",
        ("run", "{p}", "--cpus", "1e-400"),
        EXIT_USAGE,
        ("'1e-400' is too close to 0 for a float (the smallest is 5e-324)",),
        "write e.g. --cpus 1.5",
    ),
    Case(
        # brk r45 (BK 3): "'127.0.0.1:5000/ghp_***%… is not" (half an escape).
        "registry-with-a-token-escaped-in-full",
        (
            "push",
            "{p}",
            "--registry",
            "127.0.0.1:5000/"
            + "".join(f"%{ord(c):02X}" for c in "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"),
        ),
        EXIT_USAGE,
        ("--registry '127.0.0.1:5000/ghp_***… is not HOST[:PORT][/PATH]",),
        "--registry 127.0.0.1:5000/team",
    ),
    Case(
        # brk r50 (BU 6): pushed, and listed beside 127.0.0.1:5000 as another.
        "registry-port-with-a-leading-zero",
        ("push", "{p}", "--registry", "localhost:05000"),
        EXIT_USAGE,
        (
            "--registry 'localhost:05000' is not HOST[:PORT][/PATH]: port 05000 has a "
            "leading zero (write 5000)",
        ),
        "--registry 127.0.0.1:5000/team",
    ),
    Case(
        # brk r49 (BS 5): the bare "is not HOST[:PORT][/PATH]" for a scheme.
        "registry-with-a-scheme",
        ("push", "{p}", "--registry", "http://127.0.0.1:5000/team"),
        EXIT_USAGE,
        (
            "--registry 'http://127.0.0.1:5000/team' is not HOST[:PORT][/PATH]: "
            "give it without http://",
        ),
        "--registry 127.0.0.1:5000/team",
    ),
    Case(
        # brk r46 (BM F4): "write the value you mean", where the key's own
        # check says what it takes.
        "cpus-below-the-smallest-float",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/reprobox.toml: run.cpus:", "1e-400 is too close to 0 for a float"),
        "give 0.01 or more, e.g. cpus = 1",
        setup=edit("reprobox.toml", lambda t: t + "\n[run]\ncpus = 1e-400\n"),
    ),
    Case(
        # brk r46 (BM F5): named "a token, or a password or token in a URL".
        "requirements-private-key-header",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/requirements.txt:2", "holds a credential (a private key)"),
        ".reproboxignore",
        setup=write_requirements("six==1.17.0\n-----BEGIN RSA PRIVATE KEY-----\n"),
    ),
    Case(
        # brk r47 (BO 1): a PGP key in [env] went into the manifest, the
        # Dockerfile and the image's environment; a PEM one was refused.
        "env-pgp-private-key",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/reprobox.toml: env.SIGN:", "looks like a secret"),
        "reprobox run --env SIGN",
        setup=edit(
            "reprobox.toml",
            lambda t: (
                t
                + '\n[env]\nSIGN = "-----BEGIN PGP PRIVATE KEY BLOCK-----'
                + 'lQOYBFZx8Cv7Bn2Mq9Lp4Rt6Wy1K"\n'
            ),
        ),
    ),
    Case(
        "config-name-with-capitals",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("reprobox.toml", "name", "has capitals"),
        "name = ",
        setup=edit(
            "reprobox.toml",
            lambda t: re.sub(
                r'(?m)^name = "([^"]+)"', lambda m: f'name = "{m[1].upper()}"', t
            ),
        ),
    ),
    Case(
        "compare-unknown-metric",
        ("compare", "{p}/.reprobox/runs", "{p}/.reprobox/runs", "--metric", "nosuch"),
        EXIT_USAGE,
        ("--metric 'nosuch'", "no run record has"),
        "the records have",
    ),
    Case(
        "compare-unknown-tol-metric",
        (
            "compare",
            "{p}/.reprobox/runs",
            "{p}/.reprobox/runs",
            "--tol",
            "nosuch=abs:0.1",
        ),
        EXIT_USAGE,
        ("--tol 'nosuch'", "no run record has"),
        "the records have",
    ),
]


def full_tmpfs(path: Path, ctx: Context) -> None:
    """Mount a small tmpfs on path and fill it to the last byte."""
    ctx.mount_tmpfs(path, "64k")
    with open(path / "fill", "wb", buffering=0) as fh, contextlib.suppress(OSError):
        for _ in range(64):
            fh.write(b"\0" * 4096)


CASES += [
    Case(
        "run-runs-folder-read-only",
        ("run", "{p}"),
        EXIT_USAGE,
        ("{p}/.reprobox/runs/", "cannot write the run's files", "Read-only"),
        "it is on a read-only file system: make it writable, then run again",
        setup=lambda p, ctx: ctx.mount_tmpfs(p / ".reprobox/runs", "1m", ",ro"),
    ),
    Case(
        "run-runs-folder-full",
        ("run", "{p}"),
        EXIT_USAGE,
        ("{p}/.reprobox/runs/", "cannot write the run's files", "No space left"),
        "free space there",
        setup=lambda p, ctx: full_tmpfs(p / ".reprobox/runs", ctx),
    ),
]


def add_to_packages(line: str) -> Callable[[Path, Context], None]:
    """Return a setup adding line under [packages] in reprobox.toml."""
    return edit(
        "reprobox.toml", lambda t: t.replace("[packages]\n", f"[packages]\n{line}\n")
    )


def damaged_ca(project: Path, ctx: Context) -> None:
    text = Path("/etc/ssl/certs/ca-certificates.crt").read_text()
    (ctx.tmp / "bad.pem").write_text(text[: len(text) // 2])  # cut mid-certificate


def strict_with_env(project: Path, ctx: Context) -> None:
    with open(project / "reprobox.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[env]\nTF_ENABLE_ONEDNN_OPTS = "1"\n')
    edit("reprobox.toml", lambda t: 'profile = "strict"\n' + t)(project, ctx)


def default_with_env(project: Path, ctx: Context) -> None:
    with open(project / "reprobox.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[env]\nTF_ENABLE_ONEDNN_OPTS = "1"\n')


def add_env(lines: str, strict: bool = False) -> Callable[[Path, Context], None]:
    """Return a setup adding an [env] table of lines (and profile = "strict")."""

    def setup(project: Path, ctx: Context) -> None:
        with open(project / "reprobox.toml", "a", encoding="utf-8") as fh:
            fh.write(f"\n[env]\n{lines}\n")
        if strict:
            edit("reprobox.toml", lambda t: 'profile = "strict"\n' + t)(project, ctx)

    return setup


def pass_env_also_in_env(project: Path, ctx: Context) -> None:
    """Name MYVAR in pass_env and set it in [env] too."""
    edit("reprobox.toml", lambda t: 'pass_env = ["MYVAR"]\n' + t)(project, ctx)
    add_env('MYVAR = "2"')(project, ctx)


def check_strict_threads_from_env_flag(
    result: Result, project: Path, ctx: Context
) -> None:
    """--env wins over the strict profile: OMP from the flag, TF's pinned to one."""
    record = json.loads(result.stdout)
    machine = record["machine"]
    assert machine["threads"]["omp"] == 2, machine["threads"]
    assert machine["threads"]["intra_op"] == 1, machine["threads"]
    assert machine["threads"]["inter_op"] == 1, machine["threads"]
    assert machine["threads"]["source"] == "set by the user: OMP_NUM_THREADS"
    assert machine["env"]["PYTHONHASHSEED"] == "7"  # hard-tiny's seed
    assert machine["env"]["TF_NUM_INTRAOP_THREADS"] == "1"


REF = "{p}/.reprobox/runs/{run}/record.json"


def run_once_more(project: Path, ctx: Context) -> None:
    """Run the project a second time: a report needs two records."""
    done = invoke(ctx.cli, "run", str(project))
    assert done.returncode == 0, done.describe()


CASES += [
    Case(
        # br nit: export sealed the image first, then failed on the path.
        "export-into-a-folder-that-takes-no-files",
        ("export", "{p}", "-o", "/proc/reprobox-bundle.tar"),
        EXIT_USAGE,
        ("--output /proc/reprobox-bundle.tar: cannot write a file in /proc",),
        "write the bundle to a folder you can write",
    ),
    Case(
        # bp F10: the error named the temp file (/proc/.x.html.e58dq7kt.tmp)
        # and gave no fix.
        "report-into-a-folder-that-takes-no-files",
        ("report", "{p}/.reprobox/runs", "-o", "/proc/reprobox-report.html"),
        EXIT_USAGE,
        ("reprobox: error: /proc/reprobox-report.html: No such file or directory",),
        "write elsewhere",
        setup=run_once_more,
        may_change=("runs/",),
    ),
]
CASES += [
    Case(
        "config-env-thread-count-under-strict",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("env.OMP_NUM_THREADS", "is '8', but profile \"strict\" sets '1'"),
        "--env OMP_NUM_THREADS=8",
        setup=add_env('OMP_NUM_THREADS = "8"', strict=True),
    ),
    Case(
        "run-profile-strict-over-a-config-thread-count",
        (*RUN, "--profile", "strict"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml",
            "env.TF_NUM_INTRAOP_THREADS",
            "--profile strict sets '1'",
        ),
        "--env TF_NUM_INTRAOP_THREADS=8",
        setup=add_env('TF_NUM_INTRAOP_THREADS = "8"'),
    ),
    Case(
        "config-env-hash-seed-the-seed-replaces",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("env.PYTHONHASHSEED", "is '1', but seed = 7 sets '7' and the seed wins"),
        "--env PYTHONHASHSEED=1",
        setup=add_env('PYTHONHASHSEED = "1"'),
    ),
    Case(
        "run-seed-over-a-config-hash-seed",
        (*RUN, "--seed", "5"),
        EXIT_USAGE,
        ("{p}/reprobox.toml", "env.PYTHONHASHSEED", "--seed 5 sets '5'"),
        "leave out --seed",
        setup=add_env('PYTHONHASHSEED = "7"'),
    ),
    Case(
        # brk r39 (BB 7): [env]'s value silently won over the shell's.
        "config-pass-env-also-in-env",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/reprobox.toml", "pass_env", "names MYVAR, which [env] sets too"),
        "keep MYVAR in one",
        setup=pass_env_also_in_env,
    ),
    Case(
        "config-env-reprobox-own-variable",
        ("build", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml",
            "env.REPROBOX_OUT",
            "is reprobox's own: the REPROBOX_ prefix is kept for what reprobox "
            "tells the run",
        ),
        "remove it",
        setup=add_env('REPROBOX_OUT = "/tmp"'),
    ),
    Case(
        "config-command-string-with-a-line-break",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/reprobox.toml", "command: holds a line break ('\\n')"),
        '["sh", "-c", "python train.py\\nrm -rf /"]',
        setup=edit(
            "reprobox.toml",
            lambda t: t.replace(
                'command = "python train.py"', 'command = "python train.py\\nrm -rf /"'
            ),
        ),
    ),
    Case(
        "config-data-names-the-commands-script",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/reprobox.toml", "data: 'train.py' is the command's script"),
        "remove 'train.py' from data",
        setup=edit(
            "reprobox.toml",
            lambda t: t.replace(
                'data = ["data.csv"]', 'data = ["data.csv", "train.py"]'
            ),
        ),
    ),
    Case(
        "run-strict-env-flag-wins-over-thread-pin",
        (*RUN, "--profile", "strict", "--env", "OMP_NUM_THREADS=2", "--json"),
        0,
        (),
        None,
        may_change=("runs/",),
        may_build=True,
        check=check_strict_threads_from_env_flag,
    ),
    Case(
        "config-index-url-unbalanced-bracket",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("{p}/reprobox.toml", "packages.index_url", "is not a URL"),
        "https://HOST[:PORT]/PATH",
        setup=add_to_packages('index_url = "https://[::1/simple"'),
    ),
    Case(
        "config-extra-index-url-port-too-big",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("packages.extra_index_urls", "port out of range"),
        "https://HOST[:PORT]/PATH",
        setup=add_to_packages('extra_index_urls = ["https://h:99999/simple"]'),
    ),
    Case(
        "config-env-the-strict-profile-overrides",
        ("freeze", "{p}"),
        EXIT_USAGE,
        ("env.TF_ENABLE_ONEDNN_OPTS", "profile \"strict\" sets '0'"),
        "--env TF_ENABLE_ONEDNN_OPTS=1",
        setup=strict_with_env,
    ),
    Case(
        "run-profile-strict-over-a-config-env",
        (*RUN, "--profile", "strict", "--repeat", "2"),
        EXIT_USAGE,
        ("{p}/reprobox.toml", "env.TF_ENABLE_ONEDNN_OPTS", "--profile strict sets '0'"),
        "--env TF_ENABLE_ONEDNN_OPTS=1",
        setup=default_with_env,
    ),
    Case(
        "verify-runs-dir-empty",
        ("verify", "{image}", "--runs-dir", "", "--reference", REF),
        EXIT_USAGE,
        ("--runs-dir", "an empty path"),
        "see reprobox verify --help",
    ),
    Case(
        "run-env-with-no-name",
        ("run", "{p}", "-e", ""),
        EXIT_USAGE,
        ("--env ''", "names no variable"),
        "give --env NAME=VALUE",
    ),
    Case(
        "run-seed-not-a-number",
        ("run", "{p}", "--seed", "abc"),
        EXIT_USAGE,
        ("'--seed'",),
        "see reprobox run --help",
    ),
    Case(
        "compare-without-runs",
        ("compare",),
        EXIT_USAGE,
        ("missing argument 'runs'",),
        "see reprobox compare --help",
    ),
    Case(
        "freeze-base-cudnn-not-a-version",
        ("freeze", "{p}", "--gpu", "--base-cudnn", "x;y"),
        EXIT_USAGE,
        ("--base-cudnn 'x;y' is not a cuDNN version",),
        "8.9",
    ),
    Case(
        "freeze-python-exe-without-from-env",
        ("freeze", "{p}", "--python-exe", sys.executable),
        EXIT_USAGE,
        ("--python-exe", "only with --from-env"),
        "add --from-env",
    ),
    Case(
        "freeze-from-env-virtual-env-gone",
        ("freeze", "{p}", "--from-env"),
        EXIT_USAGE,
        ("VIRTUAL_ENV=/nonexistent", "/nonexistent/bin/python does not exist"),
        "--python-exe",
        setup=set_env("VIRTUAL_ENV", "/nonexistent"),
    ),
    Case(
        "freeze-ca-cert-cut-off",
        ("freeze", "{p}", "--ca-cert", "{tmp}/bad.pem"),
        EXIT_USAGE,
        ("--ca-cert", "bad.pem", "damaged certificate"),
        "export the CA again",
        setup=damaged_ca,
    ),
    Case(
        # brk r41 (BD): a CA link to a missing file said "does not exist".
        "freeze-ca-cert-broken-link",
        ("freeze", "{p}", "--ca-cert", "{tmp}/ca.pem"),
        EXIT_USAGE,
        ("--ca-cert", "ca.pem is a link to a missing file", "gone.pem"),
        "point the link at a PEM certificate file",
        setup=lambda p, ctx: (ctx.tmp / "ca.pem").symlink_to(ctx.tmp / "gone.pem"),
    ),
    Case(
        "reproboxignore-links-outside",
        ("build", "{p}"),
        EXIT_USAGE,
        ("{p}/.reproboxignore", "points outside the project", "/etc/passwd"),
        "copy the file into the project",
        setup=lambda p, ctx: (p / ".reproboxignore").symlink_to("/etc/passwd"),
    ),
]


def index_token_on_a_closed_port(project: Path, ctx: Context) -> None:
    """Declare two extra indexes: an empty one that answers 404, then one whose
    token comes from the env and on whose port nothing listens."""
    (ctx.tmp / "empty").mkdir()
    empty = f"http://127.0.0.1:{ctx.serve_folder(ctx.tmp / 'empty')}/simple/"
    ctx.env["HARD_INDEX_TOKEN"] = INDEX_TOKEN
    add_to_packages(
        f'extra_index_urls = ["{empty}", '
        f'"http://__token__:${{HARD_INDEX_TOKEN}}@127.0.0.1:{CLOSED_PORT}/simple/"]'
    )(project, ctx)


# An index that does not answer is named by the key that declared it.
CASES += [
    Case(
        "config-index-url-port-zero",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: packages.index_url: 'http://127.0.0.1:0/simple/'",
            "port out of range 1-65535",
        ),
        "https://HOST[:PORT]/PATH",
        setup=add_to_packages('index_url = "http://127.0.0.1:0/simple/"'),
    ),
    Case(
        "index-url-upper-case-scheme-does-not-answer",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            f"{{p}}/reprobox.toml: packages.index_url: http://127.0.0.1:{CLOSED_PORT}"
            "/simple/ did not answer (connection refused)",
        ),
        "start the index there or fix the URL",
        setup=add_to_packages(f'index_url = "HTTP://127.0.0.1:{CLOSED_PORT}/simple/"'),
    ),
    Case(
        # brk r48 (BP 7): "file URLs and local folders are not allowed".
        "index-url-ftp",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: packages.index_url: 'ftp://h.example/simple/' is "
            "not an index pip and uv can read",
        ),
        "declare an https:// index",
        setup=add_to_packages('index_url = "ftp://h.example/simple/"'),
    ),
    Case(
        # brk r48 (BP 6): "check that each name and version exists".
        "index-url-answers-500",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: packages.index_url: http://127.0.0.1:",
            "/simple/ answered HTTP 500 Internal Server Error",
        ),
        "the index failed on its side",
        setup=lambda project, ctx: add_to_packages(
            f'index_url = "http://127.0.0.1:{ctx.serve_status(500)}/simple/"'
        )(project, ctx),
    ),
    *(
        # brk r49 (BS 2): each was blamed on the package names.
        Case(
            f"index-url-answers-{status}",
            ("freeze", "{p}"),
            EXIT_USAGE,
            ("{p}/reprobox.toml: packages.index_url: http://127.0.0.1:", problem),
            fix,
            setup=lambda project, ctx, status=status: add_to_packages(
                f'index_url = "http://127.0.0.1:{ctx.serve_status(status)}/simple/"'
            )(project, ctx),
        )
        for status, problem, fix in (
            (
                429,
                "/simple/ answered HTTP 429 Too Many Requests",
                "the index limits how often it may be asked",
            ),
            (
                302,
                "/simple/ gave a reply the resolver cannot read: a redirect "
                "(HTTP 302 Found) with no Location",
                "check that the URL names a package index's simple API",
            ),
            (
                200,
                "/simple/ gave a reply the resolver cannot read: no Content-Type "
                "header",
                "check that the URL names a package index's simple API",
            ),
        )
    ),
    Case(
        "extra-index-does-not-answer",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: packages.extra_index_urls[1]: "
            f"http://***@127.0.0.1:{CLOSED_PORT}/simple/ did not answer",
        ),
        "start the index there or fix the URL",
        setup=index_token_on_a_closed_port,
        check=check_token_not_shown,
    ),
]

CASES += [
    Case(
        "config-index-url-reference-starts-with-a-digit",
        ("freeze", "{p}"),
        EXIT_USAGE,
        (
            "{p}/reprobox.toml: packages.index_url: ${1BAD} is not a valid "
            "environment variable reference (names start with a letter or underscore)",
        ),
        "write it as ${NAME}",
        setup=add_to_packages(
            'index_url = "http://__token__:${1BAD}@127.0.0.1:5803/simple/"'
        ),
    ),
]

PYTHON_FIX = "give the Python of the environment you trained in"
CASES += [
    Case(
        "freeze-python-exe-not-executable",
        ("freeze", "{p}", "--from-env", "--python-exe", "/etc/passwd"),
        EXIT_USAGE,
        ("--python-exe /etc/passwd: not an executable Python",),
        PYTHON_FIX,
    ),
    Case(
        "freeze-python-exe-a-folder",
        ("freeze", "{p}", "--from-env", "--python-exe", "{tmp}"),
        EXIT_USAGE,
        ("--python-exe {tmp}: not an executable Python (a folder)",),
        PYTHON_FIX,
    ),
    Case(
        "freeze-python-exe-not-a-python",
        ("freeze", "{p}", "--from-env", "--python-exe", "/bin/true"),
        EXIT_USAGE,
        ("--python-exe /bin/true: not an executable Python (it printed no Python",),
        PYTHON_FIX,
    ),
]


def test_table_has_at_least_thirty_cases():
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def tiny(test_project, cli):
    """The hard-tiny project, frozen, built, and run once (the baseline record)."""
    project = test_project("hard-tiny")
    result = invoke(cli, "-q", "run", str(project.path))
    assert result.returncode == 0, result.describe()
    return project


def snapshot(folder: Path) -> dict[str, str]:
    """Return rel path -> sha256 of every file under folder."""
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def project_tags(docker_client, name: str) -> set[str]:
    return {
        tag
        for image in docker_client.images.list(name=f"reprobox/{name}")
        for tag in image.tags
    }


def fill(text: str, project: Path, ctx: Context) -> str:
    if "{run}" in text:
        text = text.replace("{run}", baseline_record(ctx.tiny.path).parent.name)
    return (
        text.replace("{p}", str(project))
        .replace("{tmp}", str(ctx.tmp))
        .replace("{image}", ctx.tiny.tag)
        .replace("{HARD_REGISTRY}", ctx.env.get("HARD_REGISTRY", ""))
    )


def error_line(result: Result, case: Case) -> str:
    """Check stderr's shape for the case's exit code; return the error line."""
    out = result.stdout + result.stderr
    assert "Traceback" not in out, result.describe()
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("reprobox: error:")]
    assert len(errors) == 1, result.describe()
    if case.code == EXIT_FAILED:
        assert lines[0] == errors[0], result.describe()  # then the log tail
    else:
        assert lines == errors, result.describe()
    return errors[0]


def check_fix(line: str, fix: object, result: Result) -> None:
    if fix is ANY_HINT:
        assert line.endswith(")") and "(" in line, f"no fix given: {result.describe()}"
    elif fix is not None:
        assert fix in line, result.describe()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tiny, cli, docker_client, tmp_path):
    started = time.monotonic()
    project = tmp_path / "p"
    shutil.copytree(tiny.path, project, symlinks=True)
    ctx = Context(cli, tiny, docker_client, tmp_path)
    try:
        if case.setup:
            case.setup(project, ctx)
        before = snapshot(project / ".reprobox")
        tags_before = project_tags(docker_client, tiny.name)
        argv = ["-q", *(fill(a, project, ctx) for a in case.argv)]
        result = invoke(cli, *argv, env=ctx.env)
        print(
            f"\n[{case.id}] exit {result.returncode} in "
            f"{time.monotonic() - started:.1f}s: {result.stderr.strip()[:300]}"
        )

        assert result.returncode == case.code, result.describe()
        if case.code != 0:
            line = error_line(result, case)
            for needle in case.needles:
                assert fill(needle, project, ctx) in line, result.describe()
            check_fix(line, case.fix, result)
        after = snapshot(project / ".reprobox")
        changed = {
            rel
            for rel in before.keys() | after.keys()
            if before.get(rel) != after.get(rel)
        }
        unexpected = {
            rel
            for rel in changed
            if not any(rel.startswith(p) for p in case.may_change)
        }
        assert not unexpected, f"changed in .reprobox: {sorted(unexpected)}"
        stray = [rel for rel in after if rel.endswith(".tmp")]
        assert not stray, f"temp files left: {stray}"
        if case.check:
            case.check(result, project, ctx)
    finally:
        ctx.close()
    left = docker_client.containers.list(
        all=True, filters={"label": f"{PROJECT_LABEL}={tiny.name}"}
    )
    assert left == [], f"containers left: {[c.id[:12] for c in left]}"
    if not case.may_build:
        assert project_tags(docker_client, tiny.name) <= tags_before | {
            t + "-sealed" for t in tags_before
        }, "an image was made"


# Docker's engine retries a failed layer upload after 5, 10, 15 and 20 s: a
# registry answering 500 to everything kept a push silent for 50 s. Here the
# first uploads get 500 and their retries 405, which the engine does not retry:
# one round of retries, about 5 s. (All-500 is the unit test's recorded stream.)
@pytest.mark.timeout(240)
def test_a_push_the_engine_retries_says_so_once_per_retry(
    tiny, cli, docker_client, tmp_path
):
    project = tmp_path / "p"
    shutil.copytree(tiny.path, project, symlinks=True)
    ctx = Context(cli, tiny, docker_client, tmp_path)
    results = {}
    try:
        for flags in ((), ("-q",)):
            port = ctx.serve_status(405, failing_uploads_s=4)
            registry = f"127.0.0.1:{port}/x"
            started = time.monotonic()
            argv = (*flags, "push", str(project), "--registry", registry)
            done = invoke(cli, *argv, timeout=120)
            results[flags] = (registry, done, time.monotonic() - started)
            print(f"\n[push{''.join(flags)}] {results[flags][2]:.1f}s")
    finally:
        ctx.close()

    for flags, (registry, done, seconds) in results.items():
        error = (
            f"reprobox: error: {registry} answered the push with HTTP 405 Method "
            f"Not Allowed (check that a registry answers at {registry} and accepts "
            "pushes)"
        )
        assert done.returncode == EXIT_ENGINE, done.describe()
        assert "Traceback" not in done.stderr, done.describe()
        assert seconds >= 5, done.describe()  # the engine did wait its retry
        retries = [line for line in done.stderr.splitlines() if "retries" in line]
        if flags:  # -q: the error alone
            assert done.stderr == error + "\n", done.describe()
        else:
            assert retries == [
                f"push to {registry}: a layer upload failed; Docker retries in 5s "
                "(retry 1)"
            ], done.describe()
            assert done.stderr.splitlines()[-1] == error, done.describe()


# dockerd words a 401 as "unauthorized: authentication required", with no
# number: the push said the registry refused, not that it asked for a login.
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("status", "shown", "fix"),
    [
        (
            401,
            "HTTP 401 Unauthorized (unauthorized: authentication required)",
            "log in with `docker login {host}` as this user, then push again",
        ),
        (
            403,
            "HTTP 403 Forbidden",
            "the account logged in at {host} may not push there: `docker login "
            "{host}` as one that may, or give another --registry",
        ),
    ],
)
def test_a_push_the_registry_refuses_names_its_http_status(
    tiny, cli, docker_client, tmp_path, status, shown, fix
):
    project = tmp_path / "p"
    shutil.copytree(tiny.path, project, symlinks=True)
    ctx = Context(cli, tiny, docker_client, tmp_path)
    try:
        host = f"127.0.0.1:{ctx.serve_status(status)}"
        done = invoke(cli, "push", str(project), "--registry", host, timeout=120)
    finally:
        ctx.close()

    assert done.returncode == EXIT_ENGINE, done.describe()
    assert done.stderr.splitlines()[-1] == (
        f"reprobox: error: {host} answered the push with {shown} "
        f"({fix.format(host=host)})"
    ), done.describe()
    manifest = json.loads((project / ".reprobox" / "manifest.json").read_text())
    assert "published" not in manifest


# A bundle holds the image, and an image's own files often hold test keys:
# an earlier bundle in the project was taken for a credential file, and the
# next export into the project said nothing.
@pytest.mark.timeout(300)
def test_an_export_into_the_project_says_where_the_bundle_goes(
    tiny, cli, docker_client, tmp_path
):
    project = tmp_path / "p"
    shutil.copytree(tiny.path, project, symlinks=True)
    ctx = Context(cli, tiny, docker_client, tmp_path)
    bundle = project / "bundle.tar"
    try:
        notes = []
        for _ in range(2):
            done = invoke(cli, "export", str(project), "-o", str(bundle))
            assert done.returncode == 0, done.describe()
            said = done.stderr.splitlines()
            notes.append([n for n in said if "is inside project" in n])
    finally:
        ctx.close()

    from reprobox.credential_files import holds_credentials

    if holds_credentials(bundle):  # the base image's files hold a key
        note = (
            f"reprobox: warning: {bundle} is inside project {project}: the next "
            "build leaves it out of the image, but only because something in it "
            "reads as a credential (see `reprobox freeze` for what); a bundle "
            "without one would go into the image, under a new tag; write it "
            "outside the project or under .reprobox/, or list it in "
            ".reproboxignore"
        )
    else:
        note = (
            f"reprobox: warning: {bundle} is inside project {project}: the next "
            "build copies it into the image, under a new tag; write it outside "
            "the project or under .reprobox/, or list it in .reproboxignore"
        )
    assert notes == [[note], [note]]
