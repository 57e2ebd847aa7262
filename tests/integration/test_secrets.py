"""Planted secrets appear nowhere, and the container is locked down.

A token unique to this test run guards a PEP 503 index served on loopback
(Basic auth `__token__:<token>`, an empty index, 404 for every project); the
project names it in extra_index_urls. A second token passes through
`pass_env` (which freeze must skip) and `run --env`. Then both tokens, and
their base64 forms, are searched for in everything reprobox writes or builds:
.reprobox/ files, the image's config and labels, its history, every layer of
`docker save`, and the build log reprobox printed.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import io
import json
import secrets
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
REPO = Path(__file__).resolve().parents[2]
PROJECT_LABEL = "org.reprobox.project"
CONTAINER_OUT = "/reprobox/out"
CHECK_SCRIPT = '''"""Try to write into the read-only data file, then sleep a while."""

import errno
import os
import time

print(f"uid={os.getuid()} gid={os.getgid()}", flush=True)
try:
    with open("data.csv", "a", encoding="utf-8") as fh:
        fh.write("tampered\\n")
    print("data-write=allowed", flush=True)
except OSError as exc:
    print(f"data-write=refused {errno.errorcode[exc.errno]}", flush=True)
time.sleep(float(os.environ.get("HARD_SLEEP", "0")))
print("done", flush=True)
'''


class TokenIndex:
    """An empty PEP 503 index on loopback that wants Basic auth __token__:TOKEN."""

    def __init__(self, token: str):
        expected = "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
        self.authorised: list[str] = []
        self.refused: list[str] = []
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.headers.get("Authorization") != expected:
                    index.refused.append(self.path)
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="hard"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                index.authorised.append(self.path)
                if self.path.rstrip("/") == "/simple":
                    body = b"<!DOCTYPE html><html><body></body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                else:
                    body = b""
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reprobox(
    cli, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the reprobox CLI in the clean env plus env."""
    return subprocess.run(
        [sys.executable, "-m", "reprobox", *args],
        env={**cli.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def shown(proc) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def needles(*tokens: str) -> dict[str, bytes]:
    """Return what must not appear: each token, and base64 of it and of its auth."""
    found = {}
    for token in tokens:
        found[token] = token.encode()
        found[f"b64({token})"] = base64.b64encode(token.encode())
        basic = base64.b64encode(f"__token__:{token}".encode())
        found[f"b64(__token__:{token})"] = basic
    return found


def hits(data: bytes, where: str, wanted: dict[str, bytes]) -> list[str]:
    return [f"{label} in {where}" for label, needle in wanted.items() if needle in data]


def saved_image_files(docker_client, image_id: str):
    """Yield (name, bytes, layer) for each file of `docker save`, gunzipped;
    layer is the opened tar of a file that is a layer, else None."""
    raw = b"".join(docker_client.api.get_image(image_id, chunk_size=1 << 20))
    with tarfile.open(fileobj=io.BytesIO(raw)) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if data[257:262] != b"ustar":
                yield member.name, data, None
                continue
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                yield member.name, data, layer


def saved_image_hits(docker_client, image_id: str, wanted: dict[str, bytes]) -> tuple:
    """Search every file of `docker save`, layers unpacked; return (hits, files)."""
    found: list[str] = []
    files = 0
    for name, data, layer in saved_image_files(docker_client, image_id):
        files += 1
        if layer is None:
            found += hits(data, f"save:{name}", wanted)
            continue
        for inner in layer.getmembers():  # search each file, by name and content
            if inner.isfile():
                files += 1
                content = layer.extractfile(inner).read()
                found += hits(
                    content + inner.name.encode(), f"layer {name}:{inner.name}", wanted
                )
    return found, files


@pytest.fixture(scope="module")
def planted(cli, engine_cleanup, tmp_path_factory):
    """Freeze and run a project holding two planted tokens; return what it made."""
    token = f"s3cr3t-planted-{secrets.token_hex(8)}"
    token2 = f"s3cr3t-planted-{secrets.token_hex(8)}"
    # A value secret by what it is, not its name: a netrc line.
    token3 = f"s3cr3t-planted-{secrets.token_hex(8)}"
    index = TokenIndex(token)
    path, name = cli.copy_project(
        TEST_PROJECTS / "hard-tiny", tmp_path_factory.mktemp("secrets"), "hard-tiny"
    )
    engine_cleanup.add(name)
    config = path / "reprobox.toml"
    # The file names the variable; the token itself stays in the environment.
    url = f"http://__token__:${{HARD_INDEX_TOKEN}}@127.0.0.1:{index.port}/simple/"
    text = (
        config.read_text()
        .replace("seed = 7\n", 'seed = 7\npass_env = ["MY_API_TOKEN"]\n')
        .replace(
            'requirements = "requirements.txt"\n',
            f'requirements = "requirements.txt"\nextra_index_urls = ["{url}"]\n',
        )
    )
    config.write_text(text)
    # A pin the other tests do not build, so that pip really runs in this build
    # (at least the first time: BuildKit keeps the layer afterwards).
    (path / "requirements.txt").write_text("six==1.16.0\n")
    (path / "train.py").write_text(CHECK_SCRIPT)
    (path / "data.csv").chmod(0o666)  # only the read-only mount may refuse a write
    try:
        froze = reprobox(
            cli,
            "freeze",
            str(path),
            env={"MY_API_TOKEN": token2, "HARD_INDEX_TOKEN": token},
        )
        assert froze.returncode == 0, shown(froze)
        ran = reprobox(
            cli,
            "run",
            str(path),
            "--env",
            f"MY_API_TOKEN={token2}",
            "--env",
            f"RUN_NOTE=machine h login u password {token3}",
            # cf 1: a secret's value again under a harmless name, inside more.
            "--env",
            f"RUN_TAG=tag-{token2}-x",
            "--json",
            env={"HARD_INDEX_TOKEN": token},
        )
    finally:
        index.close()
    return {
        "token": token,
        "token2": token2,
        "token3": token3,
        "path": path,
        "name": name,
        "port": index.port,
        "index": index,
        "freeze": froze,
        "run": ran,
    }


def pip_step_lines(build_log: str) -> list[str]:
    """Return the BuildKit log lines of the pip install step."""
    lines = build_log.splitlines()
    step = next(
        (ln.split()[0] for ln in lines if ln.startswith("#") and "pip install" in ln),
        None,
    )
    assert step, build_log[-2000:]
    return [ln for ln in lines if ln.split()[:1] == [step]]


def is_cached(step: list[str]) -> bool:
    return any(line.endswith(" CACHED") for line in step)


def secrets_shown(secrets: dict[str, str], run_dir: Path, ran) -> list[str]:
    """Say which of secrets (label -> text) a run shows, and where: its log,
    its record, or the command's stdout or stderr."""
    places = {
        "container.log": (run_dir / "container.log").read_text(),
        "record.json": (run_dir / "record.json").read_text(),
        "stdout": ran.stdout,
        "stderr": ran.stderr,
    }
    return [
        f"{label} in {where}"
        for label, text in secrets.items()
        for where, place in places.items()
        if text in place
    ]


def test_build_succeeds_with_an_index_it_cannot_reach(planted):
    ran = planted["run"]
    assert ran.returncode == 0, shown(ran)
    record = json.loads(ran.stdout)
    assert record["status"] == "succeeded"
    step = pip_step_lines(ran.stderr)
    print(
        f"\n[secrets] pip step {'CACHED' if is_cached(step) else 'ran'}:\n"
        + "\n".join(step[-8:])
    )
    if not is_cached(step):
        # pip tried the index (the container's own loopback), gave up, used PyPI.
        assert any(f"127.0.0.1:{planted['port']}" in line for line in step), step
        assert any("Successfully installed six-1.16.0" in line for line in step)
    # uv asked the token index at freeze, with the token, and was told 404.
    assert any(p.startswith("/simple/six") for p in planted["index"].authorised), (
        planted["index"].authorised,
        planted["index"].refused,
    )


def test_manifest_shows_the_index_redacted(planted):
    manifest = json.loads((planted["path"] / ".reprobox/manifest.json").read_text())
    assert manifest["indexes"]["extra_index_urls"] == [
        f"http://***@127.0.0.1:{planted['port']}/simple/"
    ]
    assert "MY_API_TOKEN" not in manifest["environment"]
    # A loopback index works at freeze but not in the build container: said once.
    [loopback] = [w for w in manifest["packages"]["warnings"] if "loopback" in w]
    assert loopback.startswith(
        f"extra_index_urls http://***@127.0.0.1:{planted['port']}/simple/ is on "
        "this machine's loopback"
    )
    assert "loopback" in planted["freeze"].stderr


def test_freeze_warns_that_the_secret_variable_was_skipped(planted):
    warnings = [
        line
        for line in planted["freeze"].stderr.splitlines()
        if line.startswith("reprobox: warning: pass_env: MY_API_TOKEN")
    ]
    assert len(warnings) == 1, planted["freeze"].stderr
    assert "secret" in warnings[0]


IN_IMAGE_CONFIG = ":app/reprobox.toml"


@pytest.fixture(scope="module")
def token_hits(planted, docker_client) -> list[str]:
    """Search everything reprobox wrote or built for the tokens; return the hits."""
    wanted = needles(planted["token"], planted["token2"], planted["token3"])
    record = json.loads(planted["run"].stdout)
    found: list[str] = []
    state = planted["path"] / ".reprobox"
    files = sorted(p for p in state.rglob("*") if p.is_file())
    names = {p.name for p in files}
    assert {
        "requirements.lock",
        "manifest.json",
        "Dockerfile",
        "record.json",
        "container.log",
    } <= names, names
    for path in files:
        found += hits(path.read_bytes(), str(path.relative_to(state)), wanted)
    for label, proc in (("freeze", planted["freeze"]), ("run", planted["run"])):
        found += hits(proc.stdout.encode(), f"{label} stdout", wanted)
        found += hits(proc.stderr.encode(), f"{label} stderr (build log)", wanted)
    assert "#" in planted["run"].stderr and "pip install" in planted["run"].stderr

    image = record["image"]["id"]
    attrs = docker_client.api.inspect_image(image)
    found += hits(json.dumps(attrs).encode(), "image inspect", wanted)
    history = subprocess.run(
        ["docker", "history", "--no-trunc", image], capture_output=True, check=True
    ).stdout
    found += hits(history, "docker history", wanted)
    saved, searched = saved_image_hits(docker_client, image, wanted)
    found += saved
    print(
        f"\n[secrets] searched {len(files)} state files, image config, history "
        f"and {searched} files of docker save: {len(found)} hits: {found}"
    )
    assert searched > 100
    return found


def test_tokens_appear_nowhere(token_hits):
    assert [hit for hit in token_hits if not hit.endswith(IN_IMAGE_CONFIG)] == []


def test_image_copy_of_the_config_holds_no_token(token_hits):
    assert [hit for hit in token_hits if hit.endswith(IN_IMAGE_CONFIG)] == []


def test_record_hides_the_run_time_secret(planted):
    record = json.loads(planted["run"].stdout)
    assert record["options"]["env"] == {
        "MY_API_TOKEN": "***",
        "RUN_NOTE": "***",
        "RUN_TAG": "***",
    }


def container_of(docker_client, name: str, proc, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = docker_client.containers.list(
            filters={"label": f"{PROJECT_LABEL}={name}", "status": "running"}
        )
        if found:
            return found[0]
        assert proc.poll() is None, "reprobox ended before its container ran"
        time.sleep(0.1)
    pytest.fail(f"no running container of {name}")


def test_container_is_locked_down(planted, cli, docker_client):
    path, name = planted["path"], planted["name"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reprobox",
            "-q",
            "run",
            str(path),
            "--json",
            "--env",
            "HARD_SLEEP=4",
        ],
        env=cli.env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        container = container_of(docker_client, name, proc)
        attrs = docker_client.api.inspect_container(container.id)
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    record = json.loads(out)
    host = attrs["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"]
    assert host.get("CapAdd") in (None, [])
    assert "no-new-privileges" in host["SecurityOpt"]
    user = attrs["Config"]["User"]
    assert user and user.split(":")[0] not in ("0", "root"), user

    run_dir = path / ".reprobox/runs" / record["run_id"]
    mounts = {(m["Source"], m["Destination"], m["RW"]) for m in attrs["Mounts"]}
    assert mounts == {
        (str(run_dir), CONTAINER_OUT, True),
        (str(path / "data.csv"), "/app/data.csv", False),
    }, mounts

    log = (run_dir / "container.log").read_text().splitlines()
    assert "data-write=refused EROFS" in log, log
    assert log[0].startswith("uid=") and not log[0].startswith("uid=0 "), log
    assert (path / "data.csv").read_text() == "x,y\n1,2\n3,4\n"


# Copies of credential files under names no list holds, each with its own
# secret: they must stay out by what they hold (or, for the hard link, by
# being the same file as .env).
PLANTED_COPIES = {
    "hf-token-copy": "{hf}\n",
    ".env": "API_KEY={dot}\n",
    "env_backup.txt": "API_KEY={dot}\n",
    ".netrc": "machine y password {netrc}\n",
    "netrc": "machine y password {netrc}\n",
    "sa_nopem.json": (
        '{{"type": "service_account", "project_id": "p", "private_key_id": "abc", '
        '"private_key": "{sa}", "client_email": "x@p.iam.gserviceaccount.com", '
        '"client_id": "1"}}\n'
    ),
    "gcp-sa.json": '{{"type": "service_account", "private_key": "{sa2}"}}',
    "aws.ini": "[default]\naws_access_key_id = AKIAABCDEFGHIJKLMNOP\n"
    "aws_secret_access_key = {aws}\n",
    "aws_config.ini": "[default]\naws_secret_access_key = {aws}\n",
    "secrets.yaml": "password: {yaml}\n",
    "config.env.bak": "WANDB_API_KEY={bak}\n",
    "creds-copy.json": '{{"password": "{jsonpw}"}}',
    "wandb.json": '{{"api_key": "{jsonapikey}", "other": 1}}\n',
    "registry-auth.json": (
        '{{"auths": {{"127.0.0.1:5000": {{"auth": "{dockerauth}"}}}}}}'
    ),
    "registry-idtoken.json": (
        '{{"auths": {{"r.example": {{"identitytoken": "{idtoken}"}}}}}}'
    ),
    "client_secret.json": (
        '{{"installed": {{"client_id": "x.apps.googleusercontent.com", '
        '"client_secret": "{oauth}"}}}}'
    ),
    "oauth-web.json": '{{"web": {{"client_id": "x", "client_secret": "{oauthweb}"}}}}',
    "git-credentials-copy": "https://user:{gitcred}@github.com\n",
    "pgpass-copy": "# prod\nlocalhost:5432:db:user:{pgpass}\n",
    "npmrc.txt": "//registry.npmjs.org/:_authToken={npm}\n",
    "compose.yaml": (
        "services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD={compose}\n"
    ),
    "settings.jsonc": (
        '// editor\n{{\n  /* service */\n  "url": "https://x//y",\n'
        '  "api_key": "{jsonc}", // private\n}}\n'
    ),
    "settings.xml": (
        "<settings><servers><server><id>x</id><username>u</username>"
        "<password>{maven}</password></server></servers></settings>\n"
    ),
    # Values where the format puts them: an inline table, a YAML block, after
    # blanks in .properties, a Kubernetes env list item.
    "db.toml": 'db = {{ host = "h", password = "{toml}" }}\n',
    "literal.yaml": "db:\n  password: |\n    {yamlblock}\n",
    "db.properties": "db.url=jdbc:postgresql://h/db\ndb.password {props}\n",
    "pod.yaml": "env:\n  - name: LOG_LEVEL\n    value: debug\n"
    "  - name: API_TOKEN\n    value: {k8s}\n",
    # YAML's name: value commented out, as # password=X is.
    "commented.yaml": "model: resnet\n# password: {yamlcomment}\n",
    "commented-key.yml": "model: resnet\n#api_key: {yamlcomment2}\n",
    # One random token in a file whose name names a secret (W&B's key is 40
    # hex digits, no published format), and redis's password directive.
    "wandb_api_key": "{wandbkey}\n",
    "api_token.txt": "{namedtoken}\n",
    "redis.conf": "port 6379\nrequirepass {redis}\n",
    # The AWS console's key CSV is a credential file by its first line. (A
    # credential on one line of an ordinary file is refused instead: see
    # test_a_credential_written_in_an_ordinary_file_is_refused.)
    "alice_accessKeys.csv": "Access key ID,Secret access key\nAKIAX,{awscsv}\n",
}
# Binary: a private key in DER form, and a zip archive holding a .env.
PLANTED_BINARY = {"deploy.der", "backup.zip"}
# Saved as UTF-16LE without a byte order mark, as some Windows tools do.
PLANTED_UTF16_COPIES = {"db.ini": "[db]\r\nhost=h\r\npassword={utf16}\r\n"}
# Gzipped, as a backup of secrets.yaml might be.
PLANTED_GZIP_COPIES = {"secrets.yaml.gz": "password: {gz}\n"}
# Ordinary JSON that names secrets without holding one goes in.
ORDINARY_JSON = {
    "hparams.json": '{"tokenizer": "bert-base", "max_tokens": 512, "key_column": "id"}',
    "package.json": '{"name": "viz", "dependencies": {"jsonwebtoken": "^9.0.0"}}',
}


def test_copies_of_credential_files_stay_out_of_the_image(
    cli, engine_cleanup, tmp_path_factory, docker_client
):
    tokens = {
        key: f"BBSECRET{key}{secrets.token_hex(6)}"
        for key in (
            *("dot", "netrc", "sa", "sa2", "aws", "yaml", "bak", "jsonpw"),
            *("jsonapikey", "idtoken", "oauth", "oauthweb", "gitcred", "pgpass"),
            *("npm", "compose", "jsonc", "maven", "utf16", "hf"),
            *("toml", "yamlblock", "props", "k8s", "gz"),
            *("awscsv", "zip", "yamlcomment", "yamlcomment2", "redis"),
        )
    }
    # Random as a token of no format is: letters of both cases and digits.
    tokens["wandbkey"] = "3f9a0c2b" + secrets.token_hex(16)
    tokens["namedtoken"] = "Qm7xLp2Vz9" + secrets.token_hex(8)
    tokens["hf"] = "hf_" + tokens["hf"]  # a bare token of a published format
    # A Docker config holds base64 of user:password.
    login = f"u:BBSECRETdocker{secrets.token_hex(6)}"
    tokens["dockerauth"] = base64.b64encode(login.encode()).decode()
    path, name = cli.copy_project(
        TEST_PROJECTS / "hard-tiny", tmp_path_factory.mktemp("copies"), "hard-tiny"
    )
    engine_cleanup.add(name)
    for rel, text in PLANTED_COPIES.items():
        (path / rel).write_text(text.format(**tokens))
    for rel, text in PLANTED_UTF16_COPIES.items():
        (path / rel).write_text(text.format(**tokens), encoding="utf-16-le")
    gzipped = {
        rel: gzip.compress(text.format(**tokens).encode(), mtime=0)
        for rel, text in PLANTED_GZIP_COPIES.items()
    }
    for rel, data in gzipped.items():
        (path / rel).write_bytes(data)
    (path / "hardlink.txt").hardlink_to(path / ".env")
    der_key = _der_private_key()
    (path / "deploy.der").write_bytes(der_key)
    with zipfile.ZipFile(path / "backup.zip", "w") as archive:
        archive.writestr("proj/.env", f"API_KEY={tokens['zip']}\n")
    # Code and prose that only mention secrets go in, as they must.
    (path / "train.py").write_text(
        'import os\n\npassword = os.environ.get("X", "")\nprint(len(password))\n'
    )
    (path / "README.md").write_text("Give the api_key at run time.\n")
    for rel, text in ORDINARY_JSON.items():
        (path / rel).write_text(text)

    built = reprobox(cli, "freeze", str(path))
    assert built.returncode == 0, shown(built)
    built = reprobox(cli, "build", str(path))
    assert built.returncode == 0, shown(built)
    [image] = docker_client.images.list(filters={"label": f"{PROJECT_LABEL}={name}"})

    wanted = {token: token.encode() for token in tokens.values()}
    wanted["DER key"] = der_key[-40:]  # its private part, random per run
    # The UTF-16 copy's secret is found as its file holds it, too.
    wanted["utf16 as saved"] = tokens["utf16"].encode("utf-16-le")
    # A gzipped copy would sit in a layer as the bytes written, not its text.
    wanted |= {f"{rel} as saved": data for rel, data in gzipped.items()}
    found, searched = saved_image_hits(docker_client, image.id, wanted)
    history = subprocess.run(
        ["docker", "history", "--no-trunc", image.id], capture_output=True, check=True
    ).stdout
    found += hits(history, "docker history", wanted)
    found += hits(json.dumps(image.attrs).encode(), "image inspect", wanted)
    for state in (path / ".reprobox").rglob("*"):
        if state.is_file():
            found += hits(state.read_bytes(), str(state), wanted)
    assert searched > 100
    assert found == []
    app = {
        p.split(":app/", 1)[1]
        for p in _layer_names(docker_client, image.id)
        if ":app/" in p
    }
    assert {"train.py", "README.md", *ORDINARY_JSON} <= app, app
    left_out = {*PLANTED_COPIES, *PLANTED_UTF16_COPIES, *PLANTED_GZIP_COPIES}
    left_out |= PLANTED_BINARY
    assert not app & {*left_out, "hardlink.txt"}, app


def _der_private_key() -> bytes:
    """Return a fresh ed25519 private key as PKCS#8 DER bytes, as openssl saves it.

    The 32 random bytes are the key; the prefix is the fixed PKCS#8 header.
    """
    header = bytes.fromhex("302e020100300506032b657004220420")
    return header + secrets.token_bytes(32)


def _layer_names(docker_client, image_id: str) -> list[str]:
    """Return 'layer:path' for every file in the image's layers."""
    return [
        f"{name}:{m.name}"
        for name, _, layer in saved_image_files(docker_client, image_id)
        if layer is not None
        for m in layer.getmembers()
    ]


URL_PARTS_SCRIPT = r'''"""Print the parts of the URL in DBURL, as a script may."""

import os
from urllib.parse import unquote, urlsplit

parts = urlsplit(os.environ["DBURL"])
print(f"user={parts.username} password={parts.password}", flush=True)
print(f"decoded={unquote(parts.password)} userinfo={parts.netloc}", flush=True)
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    fh.write('{"rows": 1}')
'''


def test_commented_tokens_are_refused_or_kept_out_of_the_image(
    cli, engine_cleanup, docker_client, tmp_path
):
    """A token in a requirements comment, here or in a -r include, never reaches
    the image: freeze refuses it, and a file kept out by .reproboxignore may
    hold one. A URL's password given with --env is hidden in the run's log in
    each form a script may print it."""
    index_token = f"pypi-{secrets.token_hex(16)}"
    gh_token = f"ghp_{secrets.token_hex(16)}"
    password = f"Pw9{secrets.token_hex(6)}%2Fx"  # percent-encoded, as URLs carry it
    path, name = cli.copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    requirements = path / "requirements.txt"
    requirements.write_text(
        "six==1.17.0\n-r more.txt\n"
        f"# --extra-index-url https://__token__:{index_token}@pypi.corp.example/simple\n"
    )
    (path / "more.txt").write_text(
        f"attrs>=23 ; python_version < '3'\n# see https://u:{gh_token}@github.com/o/r\n"
    )
    (path / "train.py").write_text(URL_PARTS_SCRIPT)
    wanted = needles(index_token, gh_token)

    refused = reprobox(cli, "freeze", str(path))
    assert refused.returncode == 2, shown(refused)
    assert f"{requirements}:3: holds a credential" in refused.stderr, shown(refused)
    assert "Traceback" not in refused.stderr
    assert hits((refused.stdout + refused.stderr).encode(), "freeze", wanted) == []

    requirements.write_text("six==1.17.0\n-r more.txt\n")
    refused = reprobox(cli, "freeze", str(path))
    assert refused.returncode == 2, shown(refused)
    assert f"{path / 'more.txt'}:2: holds a credential" in refused.stderr
    assert hits((refused.stdout + refused.stderr).encode(), "freeze", wanted) == []

    (path / ".reproboxignore").write_text("more.txt\n")
    froze = reprobox(cli, "freeze", str(path))
    assert froze.returncode == 0, shown(froze)
    dburl = f"postgres://dbuser:{password}@db.example:5432/app"
    ran = reprobox(cli, "run", str(path), "--json", "--env", f"DBURL={dburl}")
    assert ran.returncode == 0, shown(ran)
    record = json.loads(ran.stdout)
    saved, searched = saved_image_hits(docker_client, record["image"]["id"], wanted)
    assert searched > 100 and saved == []

    log = (path / ".reprobox/runs" / record["run_id"] / "container.log").read_text()
    assert "user=dbuser password=***" in log, log
    assert "decoded=*** userinfo=***@db.example:5432" in log, log
    forms = (password, password.replace("%2F", "/"), f"dbuser:{password}")
    assert not any(form in log + ran.stderr for form in forms)

    # pyproject.toml's comments are no input of the lock: build reads it again.
    (path / "pyproject.toml").write_text(f'[project]\nname = "x"\n# {gh_token}\n')
    refused = reprobox(cli, "build", str(path))
    assert refused.returncode == 2, shown(refused)
    assert f"{path / 'pyproject.toml'}:3: holds a credential" in refused.stderr
    assert gh_token not in refused.stdout + refused.stderr


TRANSFORMS_SCRIPT = '''"""Print API_TOKEN as libraries echo it, and a long line."""

import base64
import os
from urllib.parse import quote

token = os.environ["API_TOKEN"]
print("lower", token.lower(), flush=True)
print("upper", token.upper(), flush=True)
print("basic", base64.b64encode(f"user:{token}".encode()).decode(), flush=True)
print("hex", token.encode().hex(), flush=True)
print("quoted", quote(token, safe=""), flush=True)
# The engine sends a line in chunks of 16 KiB: the token's first 10 bytes
# end the first chunk.
print("long", "x" * (16384 - 5 - 10) + token, "end", flush=True)
print("mode", os.environ["RUN_MODE"], flush=True)
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    fh.write('{"rows": 1}')
'''


def test_a_secret_the_script_transforms_is_hidden_in_log_record_and_output(
    cli, engine_cleanup, tmp_path
):
    """Lowercased, uppercased, in a Basic auth header, hex, URL-quoted, or cut
    between two chunks of the engine's stream: the --env token appears in none
    of the run's log, its record and what reprobox printed; a value that is no
    secret is shown."""
    token = f"Tk9/{secrets.token_hex(10)}+Zq="
    path, name = cli.copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    (path / "train.py").write_text(TRANSFORMS_SCRIPT)
    froze = reprobox(cli, "freeze", str(path))
    assert froze.returncode == 0, shown(froze)
    ran = reprobox(
        cli,
        "run",
        str(path),
        "--json",
        "--env",
        f"API_TOKEN={token}",
        "--env",
        "RUN_MODE=fast-mode-123",
    )
    assert ran.returncode == 0, shown(ran)
    record = json.loads(ran.stdout)
    assert record["options"]["env"] == {"API_TOKEN": "***", "RUN_MODE": "fast-mode-123"}
    run_dir = path / ".reprobox/runs" / record["run_id"]
    log = (run_dir / "container.log").read_text()

    basic = base64.b64encode(f"user:{token}".encode()).decode()
    forms = {
        "token": token,
        "lower": token.lower(),
        "upper": token.upper(),
        "base64 of user:token": basic,
        "its token part": basic[8:-4],
        "hex": token.encode().hex(),
        "HEX": token.encode().hex().upper(),
        "quote": quote(token, safe=""),
        "first part": token[:10],
        "second part": token[10:],
    }
    found = secrets_shown(forms, run_dir, ran)
    assert found == [], log
    assert log.splitlines() == [
        "lower ***",
        "upper ***",
        f"basic {basic[:7]}***",
        "hex ***",
        "quoted ***",
        "long " + "x" * (16384 - 5 - 10) + "*** end",
        "mode fast-mode-123",
    ]
    # The terminal shows the same lines, the cut one whole.
    assert "x*** end\n" in ran.stderr and "mode fast-mode-123" in ran.stderr


# A fixed secret that every shape below refuses: a random one (Zq8 + hex) now
# and then had too few letter-digit switches for the code rule, and a test must
# not fail by chance. tests/unit/test_written_secret_fixture.py checks it.
WRITTEN_SECRET = "Zq8e41b7c09d5fa2863bd17e"
# Ordinary files that write a credential on one line: the line, then the text.
WRITTEN_CREDENTIALS = {
    "train.py": (3, 'import os\n\nDB = "postgresql://svc:{secret}@db.internal/runs"\n'),
    "config.py": (1, 'HF_TOKEN = "hf_{secret}"\n'),
    "conda-copy.yml": (2, "channels:\n  - https://u:{secret}@conda.example/main\n"),
    "extra-reqs.txt": (1, "--extra-index-url https://u:{secret}@pkgs.example/s\n"),
    "log.jsonl": (2, '{{"step": 1}}\n{{"api_key": "{secret}"}}\n'),
    "main.tf": (2, 'provider "aws" {{\n  secret_key = "{secret}"\n}}\n'),
    "env.bat": (2, "@echo off\nset API_KEY={secret}\n"),
    "db.py": (2, 'import psycopg2\nconn = psycopg2.connect(password="{secret}")\n'),
    "launch.sh": (2, "#!/bin/sh\nDB_PASSWORD={secret} python train.py\n"),
    "notes.ipynb": (
        3,
        '{{\n "cells": [\n  {{"source": ["login(\\"hf_{secret}\\")"]}}\n ]\n}}\n',
    ),
    # A stray NUL leaves a log text; a cell's escaped quotes read as code's.
    "train.log": (2, "epoch 1 loss 0.52\0\nexport HF_TOKEN=hf_{secret}\n"),
    "explore.ipynb": (
        3,
        '{{\n "cells": [\n  {{"source": ["login(key=\\"{secret}\\")"]}}\n ]\n}}\n',
    ),
    "login.sh": (2, "#!/bin/sh\nhuggingface-cli login --token {secret}\n"),
    "Dockerfile.dev": (2, "FROM python:3.11-slim\nENV API_KEY {secret}\n"),
    "client.py": (
        2,
        'import requests\nr = requests.get("u", auth=("ci", "{secret}"))\n',
    ),
    "dsn.py": (1, 'DSN = "host=db password={secret} dbname=runs"\n'),
    "wrapped.py": (2, 'password = (\n    "{secret}"\n)\n'),
    # A keyword left open after other code, its key on the next line.
    "login_below.py": (3, 'import wandb\nrun = wandb.login(key=\\\n    "{secret}")\n'),
    # A Makefile is code, not a settings file left out: refused on its line.
    "Makefile": (2, "upload:\n\tTWINE_PASSWORD={secret} twine upload\n"),
    # The project's metadata reads like a settings file, but pip needs it in
    # the image: refused on its line, never left out.
    "setup.cfg": (4, "[metadata]\nname = x\n[wandb]\napi_key = {secret}\n"),
    "pyproject.toml": (
        6,
        '[project]\nname = "x"\nversion = "1"\n\n[[tool.uv.index]]\n'
        'url = "https://ml:{secret}@pypi.corp.example/simple"\n',
    ),
    "requirements-dev.txt": (2, "pytest\n# password={secret}\n"),
    # A notebook's own metadata, read as a JSON settings file's members are.
    "meta.ipynb": (
        5,
        '{{\n "cells": [],\n "metadata": {{\n  "wandb": {{\n'
        '   "api_key": "{secret}"\n  }}\n }}\n}}\n',
    ),
    # A header that names a key, as Authorization names a token.
    "upload.sh": (
        2,
        '#!/bin/sh\ncurl -H "X-API-Key: {secret}" https://api.example/v1\n',
    ),
    # A login as the file's very first line, at byte 0, as after a shebang.
    "login-first.sh": (1, "wandb login {secret}\npython train.py\n"),
    # A notebook saved by json.dump without indent: all on line 1.
    "oneline.ipynb": (
        1,
        '{{"cells": [], "metadata": {{"kernelspec": {{"name": "python3", '
        '"env": {{"WANDB_API_KEY": "{secret}"}}}}}}, "nbformat": 4}}',
    ),
}


def test_a_credential_written_in_an_ordinary_file_is_refused(
    cli, engine_cleanup, docker_client, tmp_path
):
    """Code, notes, logs and scripts with a credential on one line are neither
    left out (the run would miss them) nor copied: freeze refuses each, naming
    file and line, and build does too for one written after freeze."""
    path, name = cli.copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    train = (path / "train.py").read_text()
    for rel, (number, text) in WRITTEN_CREDENTIALS.items():
        secret = WRITTEN_SECRET
        (path / rel).write_text(text.format(secret=secret))
        refused = reprobox(cli, "freeze", str(path))
        assert refused.returncode == 2, (rel, shown(refused))
        assert f"{path / rel}:{number}: holds a credential (" in refused.stderr
        assert "copied into the image" in refused.stderr, shown(refused)
        assert "Traceback" not in refused.stderr
        assert secret not in refused.stdout + refused.stderr
        if rel == "train.py":
            (path / rel).write_text(train)
        else:
            (path / rel).unlink()

    # Listed in .reproboxignore, a file may hold one: it never goes in.
    (path / "local-notes.md").write_text(f"ghp_{secrets.token_hex(16)}\n")
    (path / ".reproboxignore").write_text("local-notes.md\n")
    froze = reprobox(cli, "freeze", str(path))
    assert froze.returncode == 0, shown(froze)

    secret = WRITTEN_SECRET
    (path / "run.sh").write_text(f"#!/bin/sh\nexport WANDB_API_KEY={secret}\n")
    refused = reprobox(cli, "build", str(path))
    assert refused.returncode == 2, shown(refused)
    assert f"{path / 'run.sh'}:2: holds a credential (" in refused.stderr
    assert secret not in refused.stdout + refused.stderr
    assert docker_client.images.list(filters={"label": f"{PROJECT_LABEL}={name}"}) == []


PARTS_SCRIPT = r'''"""Print only the secret part of each structured --env value."""

import base64
import json
import os

conn = dict(
    item.split("=", 1) for item in os.environ["MY_CONN"].split(";") if item
)
print("conn", conn["Password"], "as", conn["User Id"], flush=True)
print("json", json.loads(os.environ["SECRET_JSON"])["db"]["password"], flush=True)
print("netrc", os.environ["MY_NETRC"].split()[-1], flush=True)
print("token", os.environ["MY_BEARER"].split()[-1], flush=True)
login = base64.b64decode(os.environ["MY_BASIC"].split()[-1]).decode()
print("basic", login.split(":")[1], flush=True)
# A variable holds one line: the key's line breaks are written as \n.
for line in os.environ["MY_KEY"].replace("\\n", "\n").splitlines():
    print("key", line, flush=True)
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    fh.write('{"rows": 1}')
'''


def test_the_secret_part_of_a_structured_value_is_hidden(cli, engine_cleanup, tmp_path):
    """A connection string's password, a JSON value's nested password, a netrc
    password, a bearer token, a Basic login's password and a private key's body
    lines, each printed alone, appear in none of the run's log, its record and
    what reprobox printed; they show as ***, and the parts that are no secret
    (the user, the key's BEGIN line) are shown."""
    password = f"Pw0{secrets.token_hex(6)}"
    nested = f"Hu{secrets.token_hex(7)}"
    netrc = f"Gz4{secrets.token_hex(8)}"
    bearer = (
        f"eyJ{secrets.token_hex(6)}.eyJ{secrets.token_hex(6)}.{secrets.token_hex(8)}"
    )
    basic = f"Bp{secrets.token_hex(7)}"
    key_lines = [base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(2)]
    key = (  # one line, as a variable holds a key: its breaks written as \n
        "-----BEGIN RSA PRIVATE KEY-----\\n"
        + "\\n".join(key_lines)
        + "\\n-----END RSA PRIVATE KEY-----"
    )
    env = {
        "MY_CONN": f"Server=db;User Id=sa;Password={password};",
        "SECRET_JSON": json.dumps({"db": {"password": nested}}),
        "MY_NETRC": f"machine h login u password {netrc}",
        "MY_BEARER": f"Bearer {bearer}",
        "MY_BASIC": "Authorization: Basic "
        + base64.b64encode(f"ci:{basic}".encode()).decode(),
        "MY_KEY": key,
    }
    path, name = cli.copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    (path / "train.py").write_text(PARTS_SCRIPT)
    froze = reprobox(cli, "freeze", str(path))
    assert froze.returncode == 0, shown(froze)
    options = [arg for item in env.items() for arg in ("--env", "=".join(item))]
    ran = reprobox(cli, "run", str(path), "--json", *options)
    assert ran.returncode == 0, shown(ran)
    record = json.loads(ran.stdout)
    assert record["options"]["env"] == dict.fromkeys(env, "***")
    run_dir = path / ".reprobox/runs" / record["run_id"]
    log = (run_dir / "container.log").read_text()

    parts = [password, nested, netrc, bearer, basic, *key_lines]
    found = secrets_shown({part: part for part in parts}, run_dir, ran)
    assert found == [], log
    assert log.splitlines() == [
        "conn *** as sa",
        "json ***",
        "netrc ***",
        "token ***",
        "basic ***",
        "key -----BEGIN RSA PRIVATE KEY-----",
        "key ***",
        "key ***",
        "key -----END RSA PRIVATE KEY-----",
    ]
    assert "conn *** as sa\n" in ran.stderr and "basic ***\n" in ran.stderr


VENDOR_SCRIPT = '''"""Print the vendor tokens given with --env."""

import os

print("vault", os.environ["MY_VAULT"], flush=True)
print("vendor", os.environ["MY_VENDOR"], flush=True)
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    fh.write('{"rows": 1}')
'''


def _random_run(length: int) -> str:
    """Return a random base62 run with a lower, an upper and a digit in it."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "a7Q" + "".join(secrets.choice(alphabet) for _ in range(length - 3))


def test_vendor_tokens_are_never_frozen_and_hidden_when_run(
    cli, engine_cleanup, docker_client, tmp_path
):
    """A HashiCorp Vault token and a token of a format reprobox has no pattern
    for (a vendor's prefix and a random run), listed in pass_env, are skipped
    by freeze with a warning and reach neither the Dockerfile, the manifest nor
    the image; given with --env they show as *** in the record, log and
    terminal. Written in README.md, the Vault token stops the freeze."""
    vault = f"hvs.{_random_run(90)}"
    vendor = f"acme_live_{_random_run(32)}"
    path, name = cli.copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    config = path / "reprobox.toml"
    config.write_text(
        config.read_text().replace(
            "seed = 7\n", 'seed = 7\npass_env = ["MY_VAULT", "MY_VENDOR"]\n'
        )
    )
    (path / "train.py").write_text(VENDOR_SCRIPT)
    wanted = needles(vault, vendor)

    readme = path / "README.md"
    readme.write_text(f"# Tiny\n\nLog in with `{vault}`.\n")
    tokens = {"MY_VAULT": vault, "MY_VENDOR": vendor}
    refused = reprobox(cli, "freeze", str(path), env=tokens)
    assert refused.returncode == 2, shown(refused)
    assert f"{readme}:3: holds a credential" in refused.stderr, shown(refused)
    assert hits((refused.stdout + refused.stderr).encode(), "freeze", wanted) == []

    readme.unlink()
    froze = reprobox(cli, "freeze", str(path), env=tokens)
    assert froze.returncode == 0, shown(froze)
    for variable in tokens:
        assert f"pass_env: {variable} looks like a secret" in froze.stderr
    written = b"".join(
        p.read_bytes() for p in (path / ".reprobox").rglob("*") if p.is_file()
    )
    assert hits(written, ".reprobox", wanted) == []
    manifest = json.loads((path / ".reprobox/manifest.json").read_text())
    assert "MY_VAULT" not in json.dumps(manifest)

    options = [arg for item in tokens.items() for arg in ("--env", "=".join(item))]
    ran = reprobox(cli, "run", str(path), "--json", *options)
    assert ran.returncode == 0, shown(ran)
    record = json.loads(ran.stdout)
    assert record["options"]["env"] == {"MY_VAULT": "***", "MY_VENDOR": "***"}
    saved, searched = saved_image_hits(docker_client, record["image"]["id"], wanted)
    assert searched > 100 and saved == []
    run_dir = path / ".reprobox/runs" / record["run_id"]
    log = (run_dir / "container.log").read_text()
    assert log.splitlines() == ["vault ***", "vendor ***"]
    found = secrets_shown({"vault": vault, "vendor": vendor}, run_dir, ran)
    assert found == [], log
    assert "vault ***\n" in ran.stderr and "vendor ***\n" in ran.stderr


# Settings files whose secret slots hold stand-ins (Hydra's mandatory ???, a
# template's {password}, ***): no credential files; the run reads them. Code
# files here are neither refused.
STAND_IN_FILES = {
    "conf/config.yaml": "db:\n  password: ???\ntrainer: {lr: 0.01}\n",
    "conf/db.ini": "[db]\npassword = ***\n",
    "conf/template.toml": '[db]\npassword = "{password}"\n',
    "conf/db.json": '{"db": {"password": "***"}}',
    "conf/later.yaml": "api_key: MISSING\ntoken: REPLACE_ME\n",
    # Code that gives a secret-named name a value that is no secret.
    "storage.py": 'blob_key = "exp42/ckpt/Epoch7Step3500.safetensors"\n',
    "tracking.py": 'EXPERIMENT_KEY = "c0mpl3x9ExperimentKeyForCometML2024"\n',
    "pipeline.py": 'sk = "sk-learn-compatible-estimator-v2"\n',
    # Metadata whose names hold a secret's word: google-auth was read as a
    # secret's name, and the file left out of the image.
    "requirements-gpu.txt": "google-auth==2.11.0\nsix==1.17.0\n",
    "setup.cfg": "[options.extras_require]\njwt = pyjwt>=2\nauth = google-auth\n",
    # Comments that document a field, and a notebook's Colab metadata.
    "conf/fields.yaml": "lr: 0.1\n# token: str\n# password: Required\n",
    "scratch.ipynb": (
        '{\n "cells": [],\n "metadata": {\n  "colab": {\n'
        '   "authorship_tag": "ABX9TyMq8v2KtR4wYb8NcHs3JdLp"\n  }\n },\n'
        ' "nbformat": 4,\n "nbformat_minor": 5\n}\n'
    ),
    "token_counts.txt": "12\n34\n",
}
# [env] settings whose names hold a secret's word, with plain values.
PLAIN_ENV = {
    "MAX_TOKENS": "4096",
    "PASS_K": "5",
    "SORT_KEY": "len",
    "KEY_COLUMN": "id",
    "PRIMARY_KEY_FIELD": "id",
    "AUTH_MODE": "none",
    "SECRET_SAUCE": "1",
}
READS_ORDINARY_FILES = '''"""Read the project's settings files, as training does."""

import os

for rel in sorted(os.environ["READ_FILES"].split(",")):
    with open(rel, encoding="utf-8") as fh:
        print(rel, len(fh.read()), flush=True)
for name in sorted(os.environ.get("READ_ENV", "").split(",")):
    if name:
        print(name, os.environ[name], flush=True)
with open(os.environ["REPROBOX_METRICS"], "w", encoding="utf-8") as fh:
    fh.write('{"rows": 1}')
'''


def test_ordinary_files_that_look_like_secrets_go_in_and_run(
    cli, engine_cleanup, tmp_path
):
    """Settings whose secret slots hold stand-ins, and code that gives a
    key's name a path, are copied into the image (left out, the run failed
    with FileNotFoundError; refused, it never started), and the run reads them;
    [env] settings named with a secret's word (MAX_TOKENS) but plain values
    are frozen into the image."""
    path, name = cli.copy_project(TEST_PROJECTS / "hard-tiny", tmp_path, "hard-tiny")
    engine_cleanup.add(name)
    config = path / "reprobox.toml"
    settings = "".join(f'{key} = "{value}"\n' for key, value in PLAIN_ENV.items())
    config.write_text(config.read_text() + "\n[env]\n" + settings)
    for rel, text in STAND_IN_FILES.items():
        (path / rel).parent.mkdir(exist_ok=True)  # conf/
        (path / rel).write_text(text)
    (path / "train.py").write_text(READS_ORDINARY_FILES)
    froze = reprobox(cli, "freeze", str(path))
    assert froze.returncode == 0, shown(froze)
    assert "left out" not in froze.stderr, shown(froze)
    read = ",".join(STAND_IN_FILES)
    variables = ",".join(PLAIN_ENV)
    options = ("--env", f"READ_FILES={read}", "--env", f"READ_ENV={variables}")
    ran = reprobox(cli, "run", str(path), "--json", *options)
    assert ran.returncode == 0, shown(ran)
    record = json.loads(ran.stdout)
    log = (path / ".reprobox/runs" / record["run_id"] / "container.log").read_text()
    assert log.splitlines() == [
        f"{rel} {len(text)}" for rel, text in sorted(STAND_IN_FILES.items())
    ] + [f"{key} {value}" for key, value in sorted(PLAIN_ENV.items())]


@pytest.mark.integration
def test_quiet_freeze_warns_of_credential_files_it_leaves_out(
    cli, engine_cleanup, docker_client, tmp_path
):
    # brk r39 (BB a): under -q the line was a hidden note, so a file the
    # training reads went missing from the image with no word.
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (project / ".env").write_text("WANDB_API_KEY=k3yFakeValue9xQ2mZ7vB4nL8\n")
    done = cli.run("-q", "freeze", str(project), timeout=600)
    assert done.stderr.splitlines() == [
        "reprobox: warning: left out of the image as credential files: .env "
        "(pass secrets at run time with `reprobox run --env NAME`)"
    ]
    cli.run("-q", "build", str(project), timeout=900)
    (tag,) = [
        t
        for image in docker_client.images.list(name=f"reprobox/{name}")
        for t in image.tags
    ]
    listing = docker_client.containers.run(
        tag, ["ls", "-a", "/app"], entrypoint=[], network_disabled=True, remove=True
    ).decode()
    assert "train.py" in listing.split() and ".env" not in listing.split()
