"""reprobox's main job, end to end: freeze, build and run examples/digits for real.

Everything goes through the CLI (`python -m reprobox ...`) against the local
Docker engine; the session builds the digits image once and the tests reuse it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from reprobox.share import lock_from_labels, manifest_text_from_labels

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

BASE_IMAGE = "reprobox-base:bookworm-py3.11"

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
FROZEN_FILES = ("Dockerfile", "requirements.lock", "manifest.json")
FORBIDDEN_LOCK_TEXT = (
    "file://",
    "--find-links",
    "--index-url",
    "/opt/pypi",
    "/opt/wheels",
)


def frozen_bytes(project: Path) -> dict[str, bytes]:
    """Return the bytes of the three frozen files of a project."""
    return {name: (project / ".reprobox" / name).read_bytes() for name in FROZEN_FILES}


def manifest_of(project: Path) -> dict:
    """Return the project's parsed manifest."""
    return json.loads((project / ".reprobox" / "manifest.json").read_text())


def identity_text_of(project: Path) -> str:
    """Return the manifest as the image's label holds it, as stable JSON.

    That is manifest.json less the freezing machine's facts (`host`, and its
    seal), which are not the image's identity.
    """
    manifest = manifest_of(project)
    identity = {k: v for k, v in manifest.items() if k != "host"}
    identity["sections_sha256"] = {
        k: v for k, v in manifest["sections_sha256"].items() if k != "host"
    }
    text = json.dumps(identity, indent=2, sort_keys=True, ensure_ascii=False)
    return text + "\n"


def project_containers(docker_client, name: str) -> list[str]:
    """Return the ids of every container, in any state, labelled with the project."""
    found = docker_client.api.containers(
        all=True, filters={"label": f"org.reprobox.project={name}"}
    )
    return [c["Id"][:12] for c in found]


def run_json(cli, project, *extra: str):
    """Run the project through `reprobox run --json`; return (record, result)."""
    result = cli.run("run", str(project.path), "--json", *extra)
    record = json.loads(result.stdout)
    print(
        f"\n[run {' '.join(extra) or 'default'}] {result.seconds:.1f}s wall, "
        f"container {record['duration_s']:.1f}s, "
        f"test_accuracy {record['metrics'].get('test_accuracy')}"
    )
    return record, result


# --- freeze -------------------------------------------------------------------


def test_freeze_writes_dockerfile_lock_and_manifest(digits_project):
    for name in FROZEN_FILES:
        path = digits_project.path / ".reprobox" / name
        assert path.is_file() and path.stat().st_size > 0, path


def test_freezing_twice_gives_byte_identical_files(cli, digits_project, tmp_path):
    again = tmp_path / digits_project.name
    shutil.copytree(digits_project.path, again)
    cli.run("freeze", str(again))
    assert frozen_bytes(again) == frozen_bytes(digits_project.path)


def test_lock_is_hashed_and_portable(digits_project):
    lock = (digits_project.path / ".reprobox" / "requirements.lock").read_text()
    for text in FORBIDDEN_LOCK_TEXT:
        assert text not in lock, text

    blocks: dict[str, str] = {}
    current = None
    for line in lock.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            current = line.split()[0]
            blocks[current] = line
        else:
            assert current is not None, f"continuation before any requirement: {line}"
            blocks[current] += "\n" + line
    assert len(blocks) == len(manifest_of(digits_project.path)["packages"]["pins"])
    for requirement, block in blocks.items():
        assert "==" in requirement, requirement
        assert "--hash=sha256:" in block, f"{requirement} has no --hash"


def test_manifest_has_schema_v2_fields(digits_project):
    path = digits_project.path / ".reprobox" / "manifest.json"
    text = path.read_text()
    manifest = json.loads(text)
    assert text == json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    assert manifest["schema_version"] == 2
    assert set(manifest["sections_sha256"]) == set(manifest) - {
        "sections_sha256",
        "published",
    }
    assert isinstance(manifest["reprobox_version"], str)
    assert manifest["project"] == {
        "name": digits_project.name,
        "command": ["python", "train.py"],
        "workdir": manifest["project"]["workdir"],
    }
    assert manifest["project"]["workdir"].startswith("/")
    assert manifest["python"] == "3.11"
    assert manifest["platform"] == "linux/x86_64"
    assert manifest["base_image"]["ref"] == BASE_IMAGE
    assert "digest" in manifest["base_image"]

    packages = manifest["packages"]
    lock_bytes = (digits_project.path / ".reprobox" / "requirements.lock").read_bytes()
    assert packages["source"] == "requirements"
    assert isinstance(packages["resolver"], str) and packages["resolver"]
    assert packages["lock_sha256"] == hashlib.sha256(lock_bytes).hexdigest()
    assert packages["pins"]["tensorflow-cpu"] == "2.21.0"
    assert packages["pins"]["scikit-learn"] == "1.7.2"
    assert isinstance(packages["warnings"], list)

    assert manifest["indexes"] == {"index_url": None, "extra_index_urls": []}
    assert manifest["ca_cert"] == {
        "sha256": hashlib.sha256(HOST_CA.read_bytes()).hexdigest()
    }
    assert isinstance(manifest["environment"], dict)
    assert manifest["seed"] == 42
    assert manifest["determinism"]["profile"] == "default"
    assert isinstance(manifest["determinism"]["tf_op_determinism"], bool)
    assert manifest["data"] == []
    assert manifest["metrics"]["compare"] == ["test_accuracy", "test_loss"]
    assert manifest["metrics"]["tolerances"]["test_accuracy"]["abs"] == 0.005
    assert manifest["metrics"]["tolerances"]["test_loss"]["rel"] == 0.05
    assert {"cpu", "gpu", "os", "python"} <= set(manifest["host"])
    assert manifest["frameworks"]["tensorflow"]["version"] == "2.21.0"


def test_manifest_frameworks_carry_cuda_and_cudnn(digits_project):
    frameworks = manifest_of(digits_project.path)["frameworks"]
    for name, entry in frameworks.items():
        assert {"version", "cuda", "cudnn"} <= set(entry), name
    assert frameworks["tensorflow"]["cuda"] is None  # tensorflow-cpu


# --- build --------------------------------------------------------------------


def test_image_labels_carry_manifest_and_lock(digits_project, docker_client):
    image = docker_client.images.get(digits_project.tag)
    frozen = digits_project.path / ".reprobox"
    assert image.id == digits_project.image_id
    labels = image.labels
    assert manifest_text_from_labels(labels) == identity_text_of(digits_project.path)
    lock = (frozen / "requirements.lock").read_text()
    assert lock_from_labels(labels) == lock
    # In parts of 30,000 characters: one --label argument must stay < 128 KiB.
    parts = sorted(k for k in labels if k.startswith("org.reprobox.lock"))
    assert len(parts) == -(-len(lock) // 30_000)
    assert image.labels["org.reprobox.project"] == digits_project.name
    print(
        f"\n[digits] image {digits_project.tag} size "
        f"{image.attrs['Size'] / 1e9:.2f} GB, {len(image.attrs['RootFS']['Layers'])}"
        " layers"
    )


def test_second_build_is_up_to_date(cli, digits_project, docker_client):
    again = cli.run("build", str(digits_project.path))
    print(f"\n[digits] no-op build {again.seconds:.2f}s")
    assert "up to date" in again.stdout, again.describe()
    assert digits_project.image_id[7:19] in again.stdout
    assert docker_client.images.get(digits_project.tag).id == digits_project.image_id
    assert again.seconds < 5, again.describe()


def test_code_only_change_reuses_dependency_layers(
    cli, digits_project, docker_client, tmp_path
):
    changed = tmp_path / digits_project.name
    shutil.copytree(digits_project.path, changed)
    with open(changed / "train.py", "a") as fh:
        fh.write("# a code-only change\n")

    rebuilt = cli.run("build", str(changed), "--json")
    info = json.loads(rebuilt.stdout)
    print(f"\n[digits] code-only rebuild {rebuilt.seconds:.1f}s")
    assert info["built"] is True
    assert info["tag"] != digits_project.tag
    assert info["image_id"] != digits_project.image_id

    old = docker_client.images.get(digits_project.image_id).attrs["RootFS"]["Layers"]
    new = docker_client.images.get(info["image_id"]).attrs["RootFS"]["Layers"]
    base = docker_client.images.get(BASE_IMAGE).attrs["RootFS"]["Layers"]
    shared = next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new))
    )
    print(
        f"[digits] layers: {len(old)} old, {len(new)} new, {shared} shared, "
        f"{len(base)} from the base image"
    )
    assert len(new) == len(old)
    assert len(old) - shared <= 2, "more than the code layers changed"
    # base image, the one dependency step (venv, user, .pth, lock, pip install)
    # and the runtime hook: all shared
    assert shared >= len(base) + 2


def _distinctive_ca_lines(docker_client) -> tuple[list[bytes], bytes]:
    """Return host CA lines missing from the base image's bundle, and one in both."""
    container = docker_client.containers.create(BASE_IMAGE, ["true"])
    try:
        stream, _ = container.get_archive("/etc/ssl/certs/ca-certificates.crt")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            base_bundle = tar.extractfile(member).read()
    finally:
        container.remove(force=True)
    base_lines = set(base_bundle.splitlines())
    host_lines = HOST_CA.read_bytes().splitlines()
    extra = [
        line
        for line in host_lines
        if len(line) == 64 and line not in base_lines and host_lines.count(line) == 1
    ]
    common = [line for line in host_lines if len(line) == 64 and line in base_lines]
    return extra, common[len(common) // 2]


class _ChunkStream(io.RawIOBase):
    """A read-only file over an iterator of byte chunks."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _scan_saved_image(docker_client, ref: str, needles: list[bytes]):
    """Stream `docker save`; return (layer paths, files scanned, needle -> files)."""
    found: dict[bytes, set[str]] = {needle: set() for needle in needles}
    overlap = max(len(n) for n in needles)
    scanned: set[str] = set()
    layers: list[str] = []
    raw = io.BufferedReader(
        _ChunkStream(docker_client.api.get_image(ref, 1 << 20)), buffer_size=1 << 20
    )
    with tarfile.open(fileobj=raw, mode="r|") as saved:
        for member in saved:
            if not member.isfile():
                continue
            content = saved.extractfile(member)
            if member.name == "manifest.json":
                layers = [
                    path
                    for entry in json.loads(content.read())
                    for path in entry["Layers"]
                ]
                continue
            scanned.add(member.name)
            tail = b""
            while chunk := content.read(8 << 20):
                window = tail + chunk
                for needle in needles:
                    if needle in window:
                        found[needle].add(member.name)
                tail = window[-overlap:]
    return layers, scanned, found


def test_ca_bundle_is_in_no_layer_and_not_in_history(digits_project, docker_client):
    extra, common = _distinctive_ca_lines(docker_client)
    if not extra:
        pytest.skip(
            "the host CA bundle adds nothing to the base image's; "
            "no distinctive line to look for"
        )
    needles = [extra[len(extra) // 3], extra[2 * len(extra) // 3]]
    image = docker_client.images.get(digits_project.image_id)
    layers, scanned, found = _scan_saved_image(
        docker_client, digits_project.image_id, needles + [common]
    )
    assert len(layers) == len(image.attrs["RootFS"]["Layers"])
    assert set(layers) <= scanned, "some layer tar was not read"
    assert found[common], "the scan found not even the base image's own CA bundle"
    for needle in needles:
        assert not found[needle], f"proxy CA line {needle!r} in {found[needle]}"

    history = "\n".join(
        h.get("CreatedBy", "") + h.get("Comment", "") for h in image.history()
    )
    for text in [n.decode() for n in needles] + [
        "BEGIN CERTIFICATE",
        str(HOST_CA),
        "reprobox-secrets-",
    ]:
        assert text not in history, text
    env_names = {item.split("=", 1)[0] for item in image.attrs["Config"]["Env"] or []}
    assert not env_names & {
        "PIP_CERT",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "GIT_SSL_CAINFO",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
    }


def test_container_runs_as_uid_1000(digits_project, docker_client):
    image = docker_client.images.get(digits_project.image_id)
    assert image.attrs["Config"]["User"] in ("1000", "1000:1000")
    output = docker_client.containers.run(
        digits_project.image_id,
        ["id", "-u"],
        remove=True,
        labels={"org.reprobox.project": digits_project.name},
    )
    assert output.decode().strip() == "1000"


# --- run ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_run(cli, digits_project):
    """Run digits once with `reprobox run --json`; return (record, cli result)."""
    return run_json(cli, digits_project)


def test_run_succeeds_with_good_accuracy(digits_run):
    record, result = digits_run
    assert record["status"] == "succeeded", result.describe()
    assert record["exit_code"] == 0
    assert record["error"] is None
    assert record["metrics"]["test_accuracy"] >= 0.95


def test_run_records_history_and_one_evaluation(digits_run):
    record, _ = digits_run
    assert len(record["history"]) >= 1
    for fit in record["history"]:
        assert fit["epochs"], fit
        for epoch in fit["epochs"]:
            assert isinstance(epoch["loss"], float)
            assert isinstance(epoch["val_loss"], float)
    assert len(record["evaluations"]) == 1
    results = record["evaluations"][0]["results"]
    assert results["accuracy"] == pytest.approx(record["metrics"]["test_accuracy"])


def test_run_records_machine_facts(digits_run, digits_project):
    machine = digits_run[0]["machine"]
    cpu = machine["cpu"]
    assert cpu["vendor"] and cpu["model"]
    assert isinstance(cpu["flags"], list) and cpu["flags"]
    assert {"intra_op", "inter_op", "omp"} <= set(machine["threads"])
    assert machine["keras"]["version"] == "3.15.1"
    assert isinstance(machine["keras"]["jit_compile"], bool)
    pins = manifest_of(digits_project.path)["packages"]["pins"]
    for name in ("tensorflow-cpu", "scikit-learn"):
        assert machine["packages"][name] == pins[name], name


def test_run_record_points_at_image_and_manifest(digits_run, digits_project):
    record, _ = digits_run
    identity_text = identity_text_of(digits_project.path)
    assert record["image"]["id"] == digits_project.image_id
    assert record["image"]["ref"] == digits_project.tag
    assert record["manifest_sha256"] == hashlib.sha256(
        identity_text.encode("utf-8")
    ).hexdigest()
    assert record["project"] == digits_project.name
    assert record["seed"] == 42


def test_run_writes_record_and_container_log(digits_run, digits_project):
    record, _ = digits_run
    run_dir = digits_project.path / ".reprobox" / "runs" / record["run_id"]
    assert json.loads((run_dir / "record.json").read_text()) == record
    log = run_dir / record["log"]
    assert log.name == "container.log"
    assert "test accuracy" in log.read_text()


def test_run_leaves_no_container(digits_run, digits_project, docker_client):
    assert project_containers(docker_client, digits_project.name) == []


def test_second_run_repeats_accuracy_without_rebuilding(
    cli, digits_run, digits_project, docker_client
):
    first, _ = digits_run
    second, result = run_json(cli, digits_project)
    assert second["status"] == "succeeded"
    assert second["metrics"]["test_accuracy"] == first["metrics"]["test_accuracy"]
    assert second["image"]["id"] == first["image"]["id"] == digits_project.image_id
    assert f"using {digits_project.tag}" in result.stderr
    assert "built " not in result.stderr
    assert project_containers(docker_client, digits_project.name) == []


# --- cases: cpu quota, oneDNN ---------------------------------------------------


def _host_cgroup_version() -> str:
    return "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"


def test_cpu_quota_fits_threads(cli, digits_project):
    """Case run/cpu-quota: --cpus 1 on a 2-core machine."""
    host_cpus = os.cpu_count() or 1
    if host_cpus < 2:
        pytest.skip("a quota of 1 CPU needs a machine with at least 2")
    record, result = run_json(cli, digits_project, "--cpus", "1")
    assert record["status"] == "succeeded", result.describe()
    cpu = record["machine"]["cpu"]
    assert cpu["visible_cpus"] == host_cpus
    assert cpu["cpu_quota"] == 1.0
    assert cpu["cgroup_version"] == _host_cgroup_version()
    assert record["machine"]["threads"]["intra_op"] == 1
    assert record["machine"]["threads"]["inter_op"] == 1
    assert record["options"]["cpus"] == 1.0


@pytest.mark.parametrize("setting", ["1", "0"])
def test_onednn_setting_is_recorded(cli, digits_project, setting):
    """Case run/onednn-cpu-type: the oneDNN switch lands in the record."""
    record, result = run_json(
        cli, digits_project, "--env", f"TF_ENABLE_ONEDNN_OPTS={setting}"
    )
    assert record["status"] == "succeeded", result.describe()
    machine = record["machine"]
    assert machine["onednn"]["TF_ENABLE_ONEDNN_OPTS"] == setting
    assert machine["env"]["TF_ENABLE_ONEDNN_OPTS"] == setting
    assert machine["onednn"]["enabled"] is (setting == "1")
    assert machine["cpu"]["vendor"] and machine["cpu"]["flags"]
    assert machine["threads"]["intra_op"] >= 1
