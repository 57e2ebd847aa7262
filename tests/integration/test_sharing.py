"""Share an image with another machine: by registry, by file, and verify it there.

The second engine stands in for a colleague's machine; the loopback registry
for the team's. Shipping times are printed: run with -s. The tests of this
module share one project and run in file order (push, tamper, export, import).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile

import pytest

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE1,
    ENGINE2,
    Stopwatch,
    engine1_client,
    engine2_client,
    engine_has,
    make_project,
    registry,
    remove_from,
    run_records,
    shipped_seconds,
    two_engine_cleanup,
)

from reprobox.seals import seal_manifest
from reprobox.share import lock_from_labels, lock_labels

pytestmark = [pytest.mark.integration, pytest.mark.second_engine]

LOCK_LABEL = "org.reprobox.lock"
REFERENCE_LABEL = "org.reprobox.reference-record"
SECONDS: dict[str, float] = {}


@pytest.fixture(scope="module")
def shared(cli, two_engine_cleanup, tmp_path_factory):
    """examples/digits under a unique name, built, with one reference run."""
    project = make_project(
        cli, two_engine_cleanup, tmp_path_factory.mktemp("share"), "share"
    )
    _, (reference,) = run_records(cli, project, "--host", ENGINE1)
    assert reference["image"]["id"] == project.image_id
    project.reference = reference
    return project


def _the_push_run(project) -> list[str]:
    """Return the flags that seal the run the push sealed in.

    Without them export seals the newest run of the build or its sealed
    copy: a run a test above made on engine 2, and so another sealed image.
    """
    runs = project.path / ".reprobox" / "runs"
    return ["--reference", str(runs / project.reference["run_id"])]


def _published(project) -> dict:
    (entry,) = project.manifest().get("published") or [None]
    assert entry is not None, "push wrote no `published` entry into manifest.json"
    return entry


@pytest.mark.registry
def test_push_records_the_digest_and_engine2_pulls_it(
    cli, shared, registry, engine1_client, engine2_client, tmp_path
):
    with Stopwatch() as push_time:
        pushed = json.loads(
            cli.run("push", str(shared.path), "--registry", registry, "--json").stdout
        )
    SECONDS["push"] = push_time.seconds
    entry = _published(shared)
    repo, _, digest = entry["ref"].partition("@")
    assert repo == f"{registry}/reprobox/{shared.name}"
    assert digest.startswith("sha256:") and len(digest) == 71
    assert entry["ref"] == pushed["ref"]
    assert entry["image_id"] == pushed["image_id"]
    assert entry["source_image_id"] == shared.image_id
    assert entry["reference_run"] == shared.reference["run_id"]
    sealed = engine1_client.images.get(entry["image_id"])
    assert (
        json.loads(sealed.labels[REFERENCE_LABEL])["run_id"]
        == shared.reference["run_id"]
    )
    # A run here trusts the ref only as a digest the engine lists for the image.
    assert entry["ref"] in sealed.attrs["RepoDigests"]

    rebuilt = json.loads(cli.run("build", str(shared.path), "--json").stdout)
    assert rebuilt["built"] is False
    assert (rebuilt["tag"], rebuilt["image_id"]) == (shared.tag, shared.image_id)

    remove_from(engine2_client, entry["image_id"])
    assert not engine_has(engine2_client, entry["image_id"])
    result, (record,) = run_records(cli, shared, "--host", ENGINE2)
    SECONDS["pull"] = shipped_seconds(result.stderr, "registry")
    assert "is not a digest this engine knows" not in result.stderr
    assert record["image"]["id"] == entry["image_id"]
    assert record["image"]["ref"] == entry["ref"]
    assert record["image"]["digest"] == digest
    assert record["image"]["layers"] == shared.reference["image"]["layers"]
    assert record["image"]["code_sha256"] == shared.reference["image"]["code_sha256"]
    assert len(record["image"]["code_sha256"]) == 64
    assert record["engine"]["host"] == ENGINE2

    # The sealed image differs from the reference's by labels only: compare
    # must not blame the image for anything.
    compared = cli.run(
        "compare", str(shared.path / ".reprobox" / "runs"), "--json", check=False
    )
    pairs = json.loads(compared.stdout)
    blamed = [
        d
        for d in pairs.get("differences", [])
        if d["field"].startswith("image.") and d["changes_numerics"]
    ]
    assert blamed == [], blamed
    assert (
        entry["ref"]
        in engine2_client.images.get(entry["image_id"]).attrs["RepoDigests"]
    )
    # On the engine that built and sealed it, named with --host, the run is
    # of the sealed image too: its record's id, ref and digest agree.
    _, (here,) = run_records(cli, shared, "--host", ENGINE1)
    assert (here["image"]["id"], here["image"]["ref"]) == (
        entry["image_id"],
        entry["ref"],
    )
    assert engine1_client.images.get(shared.tag).id == shared.image_id
    print(
        f"\n[registry] push {SECONDS['push']:.1f}s, pull on engine 2 "
        f"{SECONDS['pull']:.1f}s"
    )

    verified = cli.run(
        "verify",
        entry["ref"],
        "--host",
        ENGINE2,
        "--runs-dir",
        str(tmp_path / "verify"),
        check=False,
    )
    assert verified.returncode == 0, verified.describe()
    assert "verified: matches its reference" in verified.stdout
    assert len(list((tmp_path / "verify").glob("*/record.json"))) == 1


@pytest.mark.registry
def test_engine2_holding_the_unsealed_build_records_what_ran(
    cli, shared, registry, engine1_client, engine2_client
):
    """cc 2: engine 2 got the build at its tag before the push; a later run
    there runs the published image, pulled beside that copy (brk AK 1: it ran
    the copy), and its record names the published digest and sealed id."""
    entry = _published(shared)
    remove_from(engine2_client, entry["image_id"])
    remove_from(engine2_client, shared.image_id)
    loaded = engine2_client.images.load(
        engine1_client.images.get(shared.image_id).save()
    )
    assert [image.id for image in loaded] == [shared.image_id]
    repo, _, tag = shared.tag.rpartition(":")
    engine2_client.images.get(shared.image_id).tag(repo, tag)
    before = set(shared.runs.iterdir())
    try:
        result, (record,) = run_records(cli, shared, "--host", ENGINE2)
        assert record["status"] == "succeeded", result.describe()
        assert record["image"]["id"] == entry["image_id"]
        assert record["image"]["ref"] == entry["ref"]
        assert record["image"]["digest"] == entry["ref"].split("@", 1)[1]
        assert f"{ENGINE2}: image registry" in result.stderr, result.describe()
        assert "running its own copy" not in result.stderr
        # The sealed image came beside the build: the tag still names the build.
        assert engine2_client.images.get(shared.tag).id == shared.image_id
        assert engine_has(engine2_client, entry["image_id"])
    finally:
        remove_from(engine2_client, entry["image_id"])
        remove_from(engine2_client, shared.image_id)
        # Its run is the newest of the build: export would seal it, not the
        # module's reference run.
        for made in set(shared.runs.iterdir()) - before:
            shutil.rmtree(made)


@pytest.mark.registry
def test_a_tampered_lock_fails_verify_before_training(
    cli, shared, registry, engine1_client, two_engine_cleanup, tmp_path
):
    """Edit the lock label of the pushed (sealed) image; verify must refuse it."""
    sealed = engine1_client.images.get(_published(shared)["image_id"])
    lock = lock_from_labels(sealed.labels)
    old = next(
        line for line in lock.splitlines() if line.startswith("tensorflow-cpu==")
    )
    tampered_lock = lock.replace(old, "tensorflow-cpu==2.20.0", 1)
    assert tampered_lock != lock
    tag = f"reprobox/{shared.name}:tampered"
    tampered, _ = engine1_client.images.build(
        fileobj=io.BytesIO(f"FROM {sealed.id}\n".encode()),
        tag=tag,
        rm=True,
        labels=lock_labels(tampered_lock),
    )
    two_engine_cleanup.image_ids.append(tampered.id)
    assert lock_from_labels(tampered.labels) == tampered_lock
    assert tampered.labels[REFERENCE_LABEL] == sealed.labels[REFERENCE_LABEL]

    runs = tmp_path / "verify"
    result = cli.run(
        "verify", tag, "--host", ENGINE1, "--runs-dir", str(runs), check=False
    )
    assert result.returncode == 1, result.describe()
    assert "lock" in result.stdout and "does not match" in result.stdout
    assert "NOT verified" in result.stdout
    assert list(runs.glob("*/record.json")) == []
    assert (
        engine1_client.containers.list(all=True, filters={"ancestor": tampered.id})
        == []
    )


MANIFEST_LABEL = "org.reprobox.manifest"
MANIFEST_SHA_LABEL = "org.reprobox.manifest-sha256"


def _relabelled(client, cleanup, source_id: str, tag: str, labels: dict):
    """Return the id of an image FROM source_id with labels replaced, tagged tag."""
    image, _ = client.images.build(
        fileobj=io.BytesIO(f"FROM {source_id}\n".encode()),
        tag=tag,
        rm=True,
        labels=labels,
    )
    cleanup.image_ids.append(image.id)
    return image


def test_a_damaged_manifest_label_is_refused_before_any_container(
    cli, shared, engine1_client, two_engine_cleanup, tmp_path
):
    """brkc F19/F19b: the rerun trained first, then compared letters or stopped."""
    built = engine1_client.images.get(shared.image_id)
    manifest = json.loads(built.labels[MANIFEST_LABEL])
    reference = (
        shared.path / ".reprobox" / "runs" / shared.reference["run_id"] / "record.json"
    )

    def relabel(name: str, metrics: dict, keep_sha: bool = False, reseal=True):
        edited = {**manifest, "metrics": metrics}
        # Resealed, the label reaches the field checks behind the section digests.
        text = json.dumps(seal_manifest(edited) if reseal else edited, sort_keys=True)
        sha = built.labels[MANIFEST_SHA_LABEL] if keep_sha else sha256_text(text)
        tag = f"reprobox/{shared.name}:{name}"
        labels = {MANIFEST_LABEL: text, MANIFEST_SHA_LABEL: sha}
        return tag, _relabelled(
            engine1_client, two_engine_cleanup, built.id, tag, labels
        )

    cases = [
        (relabel("cmpstr", {"compare": "test_accuracy"}), "'metrics.compare'"),
        (
            relabel("negtol", {"tolerances": {"test_loss": {"abs": -1}}}),
            "metrics.tolerances.test_loss.abs is -1",
        ),
        (
            relabel("edited", {"compare": ["test_loss"]}, keep_sha=True),
            f"does not match label {MANIFEST_SHA_LABEL}",
        ),
        (
            relabel("unsealed", {"compare": ["test_loss"]}, reseal=False),
            "manifest section 'metrics' was edited after freeze",
        ),
    ]
    for (tag, image), words in cases:
        runs = tmp_path / tag.rsplit(":", 1)[1]
        result = cli.run(
            "verify",
            tag,
            "--reference",
            str(reference),
            "--host",
            ENGINE1,
            "--runs-dir",
            str(runs),
            check=False,
        )
        assert result.returncode == 2, result.describe()
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert f"image {tag}: label {MANIFEST_LABEL}" in line, line
        assert words in line, line
        assert not runs.exists()
        assert (
            engine1_client.containers.list(all=True, filters={"ancestor": image.id})
            == []
        )


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def bundle(cli, shared, tmp_path_factory):
    """Export the project once: (bundle path, its index)."""
    out = tmp_path_factory.mktemp("bundle") / "bundle.tar"
    with Stopwatch() as export_time:
        result = cli.run(
            "export", str(shared.path), "-o", str(out), *_the_push_run(shared)
        )
    SECONDS["export"] = export_time.seconds
    assert result.stdout.startswith(f"exported {shared.tag} ")
    with tarfile.open(out) as tar:
        index = json.loads(tar.extractfile("reprobox-bundle.json").read())
        reference = json.loads(tar.extractfile("reference-record.json").read())
    assert reference["run_id"] == shared.reference["run_id"]
    assert index["tag"] == shared.tag
    return out, index


def test_export_import_round_trip_without_a_registry(
    cli, shared, bundle, engine2_client, tmp_path
):
    path, index = bundle
    remove_from(engine2_client, index["image_id"])
    assert not engine_has(engine2_client, index["image_id"])

    with Stopwatch() as import_time:
        result = cli.run("import", str(path), "--host", ENGINE2, "--json")
    SECONDS["import"] = import_time.seconds
    imported = json.loads(result.stdout)
    assert imported == {
        "tag": shared.tag,
        "image_id": index["image_id"],
        "files": [
            "Dockerfile",
            "manifest.json",
            "reference-record.json",
            "requirements.lock",
        ],
    }
    assert engine2_client.images.get(shared.tag).id == index["image_id"]

    verified = cli.run(
        "verify",
        shared.tag,
        "--host",
        ENGINE2,
        "--runs-dir",
        str(tmp_path / "verify"),
        check=False,
    )
    assert verified.returncode == 0, verified.describe()
    assert "verified: matches its reference" in verified.stdout

    # A run there uses the imported (sealed) image of this build: no second
    # stream, and the tag keeps naming the image that carries the record.
    ran = cli.run("run", str(shared.path), "--host", ENGINE2, check=False)
    assert ran.returncode == 0, ran.describe()
    assert f"{ENGINE2}: image present" in ran.stderr, ran.describe()
    assert engine2_client.images.get(shared.tag).id == index["image_id"]
    # On the exporting engine the build's tag verifies too (its -sealed copy).
    # bv 1: with -q, the rerun's training output stayed on stderr.
    local = cli.run(
        "-q", "verify", shared.tag, "--runs-dir", str(tmp_path / "local"), check=False
    )
    assert local.returncode == 0, local.describe()
    assert "verified: matches its reference" in local.stdout
    assert local.stderr == "", local.describe()

    by_file = SECONDS["export"] + SECONDS["import"]
    line = (
        f"\n[ship] by file: export {SECONDS['export']:.1f}s + import "
        f"{SECONDS['import']:.1f}s = {by_file:.1f}s "
        f"({path.stat().st_size / 1e6:.0f} MB)"
    )
    if "push" in SECONDS and "pull" in SECONDS:
        line += (
            f"; by registry: push {SECONDS['push']:.1f}s + pull "
            f"{SECONDS['pull']:.1f}s = {SECONDS['push'] + SECONDS['pull']:.1f}s"
        )
    print(line)


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.describe()
    assert lines[0].startswith("reprobox: error: "), result.describe()
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_damaged_bundle_member_is_refused(cli, bundle, engine2_client):
    path, _ = bundle
    with tarfile.open(path) as tar:
        offset = tar.getmember("manifest.json").offset_data
    with open(path, "r+b") as fh:
        fh.seek(offset + 10)
        original = fh.read(1)
        fh.seek(offset + 10)
        fh.write(bytes([original[0] ^ 0x20]))
    try:
        result = cli.run("import", str(path), "--host", ENGINE2, check=False)
    finally:
        with open(path, "r+b") as fh:
            fh.seek(offset + 10)
            fh.write(original)
    assert result.returncode == 2, result.describe()
    line = _one_line_error(result)
    assert "manifest.json" in line and "damaged" in line


def test_a_truncated_bundle_is_refused_with_one_line(cli, bundle, tmp_path):
    path, _ = bundle
    truncated = tmp_path / "truncated.tar"
    with open(path, "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read(50_000_000))
    result = cli.run("import", str(truncated), "--host", ENGINE2, check=False)
    assert result.returncode == 2, result.describe()
    assert "truncated.tar" in _one_line_error(result)


def test_export_replaces_only_its_own_bundle_and_sweeps_dead_partials(
    cli, shared, bundle, tmp_path
):
    # brk: a user tar starting with reprobox-bundle.json was replaced (its
    # thesis.tex lost), and a kill -9'd export's partial stayed for good.
    path, index = bundle
    user = tmp_path / "backup2.tar"
    with tarfile.open(user, "w") as tar:
        for name in ("reprobox-bundle.json", "thesis.tex"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"mine"))
    before = user.read_bytes()
    refused = cli.run("export", str(shared.path), "-o", str(user), check=False)
    assert refused.returncode == 2, refused.describe()
    assert f"--output {user} exists and is not a reprobox bundle" in (
        _one_line_error(refused)
    )
    assert user.read_bytes() == before

    dead = path.parent / ".other.tar.reprobox-partial"
    with open(path, "rb") as fh:  # what an export killed outright leaves
        dead.write_bytes(fh.read(1 << 20))
    again = cli.run("export", str(shared.path), "-o", str(path), *_the_push_run(shared))
    assert again.stdout.startswith(f"exported {shared.tag} ({index['image_id'][7:19]})")
    assert sorted(p.name for p in path.parent.iterdir()) == ["bundle.tar"]
    with tarfile.open(path) as tar:
        assert json.loads(tar.extractfile("reprobox-bundle.json").read()) == index
