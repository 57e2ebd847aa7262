"""Bundle checks and registry names: everything refused before the engine is used."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from reprobox.bundles import BUNDLE_INDEX, import_bundle
from reprobox.errors import InputError
from reprobox.manifest import SCHEMA_VERSION
from reprobox.seals import seal_manifest
from reprobox.share import check_registry


class NoEngine:
    """An engine that fails the test if anything reaches it."""

    def __getattr__(self, name):
        raise AssertionError(
            f"the engine was used ({name}) before the bundle checked out"
        )


def write_bundle(
    path: Path, members: dict[str, bytes], index: dict | None = None
) -> dict:
    index = (
        index
        if index is not None
        else {
            "schema_version": 1,
            "image_id": "sha256:" + "1" * 64,
            "tag": "reprobox/x:0123456789abcdef",
            "files": {
                name: hashlib.sha256(data).hexdigest() for name, data in members.items()
            },
        }
    )
    with tarfile.open(path, "w") as tar:
        for name, data in [
            (BUNDLE_INDEX, json.dumps(index).encode()),
            *members.items(),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return index


MEMBERS = {"image.tar": bytes(range(256)) * 4096, "manifest.json": b"{}\n"}


@pytest.mark.parametrize("keep", [600, 4096, 300_000, 1_000_000])
def test_truncated_bundle_is_one_input_error(tmp_path, keep):
    whole = tmp_path / "b.tar"
    write_bundle(whole, MEMBERS)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[:keep])
    with pytest.raises(InputError) as info:
        import_bundle(NoEngine(), cut)
    assert str(info.value).startswith(f"{cut}: ")
    assert "\n" not in str(info.value)


def test_damaged_member_is_named(tmp_path):
    path = tmp_path / "b.tar"
    index = write_bundle(path, MEMBERS)
    write_bundle(path, {**MEMBERS, "manifest.json": b'{"x": 1}\n'}, index)
    with pytest.raises(InputError, match="manifest.json is damaged") as info:
        import_bundle(NoEngine(), path)
    # The line said what was wrong but not what to do about it.
    assert info.value.hint == (
        "copy the file again, or export it anew from where it was made"
    )


@pytest.mark.parametrize(
    "index",
    [
        {"schema_version": 1},
        {"schema_version": 1, "image_id": 5, "tag": "a:b", "files": {"image.tar": "x"}},
        {"schema_version": "1", "image_id": "i", "tag": "a:b", "files": {}},
        [],
    ],
)
def test_malformed_index_is_refused(tmp_path, index):
    path = tmp_path / "b.tar"
    write_bundle(path, MEMBERS, index)
    with pytest.raises(InputError, match="damaged or not reprobox's"):
        import_bundle(NoEngine(), path)


def test_newer_bundle_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "b.tar"
    index = write_bundle(path, MEMBERS)
    write_bundle(path, MEMBERS, {**index, "schema_version": 2})
    with pytest.raises(InputError, match="newer reprobox"):
        import_bundle(NoEngine(), path)


def test_tar_without_index_is_not_a_bundle(tmp_path):
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(InputError, match="not a reprobox bundle"):
        import_bundle(NoEngine(), path)


def test_member_names_cannot_leave_the_bundle(tmp_path):
    path = tmp_path / "b.tar"
    members = {**MEMBERS, "../evil": b"x"}
    write_bundle(path, members)
    with pytest.raises(InputError, match="is not allowed"):
        import_bundle(NoEngine(), path)


@pytest.mark.parametrize(
    "good", ["127.0.0.1:5000", "reg.example/team", "host:5000/a/b/"]
)
def test_registry_names_accepted(good):
    assert check_registry(good) == good.rstrip("/")


@pytest.mark.parametrize(
    "bad", ["http://127.0.0.1:5000", "a b", "", "x:port", "UP/Case"]
)
def test_registry_names_refused(bad):
    with pytest.raises(InputError, match="HOST"):
        check_registry(bad)


def image_archive(labels: dict, repo_tags=None, repositories=None) -> tuple[bytes, str]:
    """Return a `docker save`-shaped archive of one image, and its image id."""
    config = json.dumps({"config": {"Labels": labels}, "rootfs": {}}).encode()
    config_id = hashlib.sha256(config).hexdigest()
    manifest = [{"Config": f"{config_id}.json", "RepoTags": repo_tags, "Layers": []}]
    members = {
        "manifest.json": json.dumps(manifest).encode(),
        f"{config_id}.json": config,
    }
    if repositories is not None:
        members["repositories"] = json.dumps(repositories).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), "sha256:" + config_id


GOOD_MANIFEST = (
    json.dumps(
        seal_manifest(
            {"schema_version": SCHEMA_VERSION, "packages": {"lock_sha256": "0"}}
        )
    )
    + "\n"
)
GOOD_LABELS = {
    "org.reprobox.project": "digits",
    "org.reprobox.context-digest": "0123456789abcdef" + "0" * 48,
    "org.reprobox.manifest": GOOD_MANIFEST,
    "org.reprobox.manifest-sha256": hashlib.sha256(GOOD_MANIFEST.encode()).hexdigest(),
}
GOOD_TAG = "reprobox/digits:0123456789abcdef"


def bundle_with(tmp_path, archive: bytes, image: str, tag: str = GOOD_TAG) -> Path:
    members = {"image.tar": archive, "manifest.json": GOOD_MANIFEST.encode()}
    index = {
        "schema_version": 1,
        "image_id": image,
        "tag": tag,
        "files": {n: hashlib.sha256(d).hexdigest() for n, d in members.items()},
    }
    path = tmp_path / "b.tar"
    write_bundle(path, members, index)
    return path


def test_a_well_formed_bundle_reaches_the_engine(tmp_path):
    archive, image = image_archive(GOOD_LABELS)
    with pytest.raises(AssertionError, match="the engine was used"):
        import_bundle(NoEngine(), bundle_with(tmp_path, archive, image))


@pytest.mark.parametrize(
    ("archive_args", "tag", "why"),
    [
        (
            {"repo_tags": ["reprobox-base:bookworm-py3.11"]},
            GOOD_TAG,
            "names tags",
        ),
        # Even its own tag: export saves by id (no tag), and import alone tags.
        ({"repo_tags": [GOOD_TAG]}, GOOD_TAG, "names tags"),
        (
            {"repositories": {"reprobox-base": {"bookworm-py3.11": "x"}}},
            GOOD_TAG,
            "names tags",
        ),
        ({}, "reprobox-base:bookworm-py3.11", "damaged or not reprobox's"),
        ({}, "reprobox/other:0123456789abcdef", "is not the one its labels give"),
        ({}, "reprobox/digits:ffffffffffffffff", "is not the one its labels give"),
    ],
)
def test_a_bundle_cannot_repoint_another_tag(tmp_path, archive_args, tag, why):
    archive, image = image_archive(GOOD_LABELS, **archive_args)
    with pytest.raises(InputError) as info:
        import_bundle(NoEngine(), bundle_with(tmp_path, archive, image, tag))
    assert why in info.value.message
    assert info.value.hint in (
        "import only bundles made by `reprobox export`",
        "export the bundle again",
    )


def test_an_image_config_that_is_not_the_indexed_image_is_refused(tmp_path):
    archive, _ = image_archive(GOOD_LABELS)
    with pytest.raises(InputError, match="its image is not sha256:2222"):
        import_bundle(NoEngine(), bundle_with(tmp_path, archive, "sha256:" + "2" * 64))


@pytest.mark.parametrize("size", [0, 10, 30_000, 30_001, 95_000])
def test_lock_labels_round_trip_in_parts_small_enough_for_argv(size):
    from reprobox.share import LOCK_LABEL, lock_from_labels, lock_labels

    lock = ("é" + "x" * 99) * (size // 100) + "y" * (size % 100)
    labels = lock_labels(lock)
    assert lock_from_labels(labels) == lock
    assert all(len(v.encode()) <= 128 * 1024 - 64 for v in labels.values())
    assert LOCK_LABEL in labels
    assert len(labels) == max(1, -(-len(lock) // 30_000))


def test_a_lock_too_large_for_labels_is_left_out():
    from reprobox.share import MAX_LOCK_PARTS, lock_from_labels, lock_labels

    labels = lock_labels("x" * (30_000 * MAX_LOCK_PARTS + 1))
    assert labels == {} and lock_from_labels(labels) is None


def archive_with_manifest(manifest_text: str, config: bytes) -> tuple[bytes, str]:
    config_id = hashlib.sha256(config).hexdigest()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in [
            ("manifest.json", manifest_text.replace("CFG", config_id).encode()),
            (f"{config_id}.json", config),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), "sha256:" + config_id


@pytest.mark.parametrize(
    ("manifest_text", "why"),
    [
        (
            '[{"Config": "CFG.json", "RepoTags": null, '
            '"repotags": ["reprobox-base:bookworm-py3.11"], "Layers": []}]',
            "has keys 'RepoTags' and 'repotags', which docker reads as one",
        ),
        (
            '[{"Config": "CFG.json", "config": "other.json", "Layers": []}]',
            "has keys 'Config' and 'config', which docker reads as one",
        ),
        (
            '[{"Config": "CFG.json", "Layers": [], "REPOTAGS": ["x:1"]}]',
            "its image archive's manifest names 'REPOTAGS'",
        ),
    ],
)
def test_keys_docker_reads_whatever_their_case_cannot_smuggle_tags(
    tmp_path, manifest_text, why
):
    config = json.dumps({"config": {"Labels": GOOD_LABELS}, "rootfs": {}}).encode()
    archive, image = archive_with_manifest(manifest_text, config)
    with pytest.raises(InputError) as info:
        import_bundle(NoEngine(), bundle_with(tmp_path, archive, image))
    assert why in info.value.message


def test_an_image_config_with_keys_of_two_cases_is_refused(tmp_path):
    config = (
        b'{"config": {"Labels": {}}, "Config": {"Labels": '
        + json.dumps(GOOD_LABELS).encode()
        + b'}, "rootfs": {}}'
    )
    archive, image = archive_with_manifest(
        '[{"Config": "CFG.json", "RepoTags": null, "Layers": []}]', config
    )
    with pytest.raises(InputError, match="its image config has keys 'config' and"):
        import_bundle(NoEngine(), bundle_with(tmp_path, archive, image))


def test_a_member_the_index_does_not_name_is_refused(tmp_path):
    path = tmp_path / "b.tar"
    write_bundle(path, MEMBERS)
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo("evil.sh")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"rm\n"))
    with pytest.raises(InputError, match="bundle member 'evil.sh' is not in its index"):
        import_bundle(NoEngine(), path)


@pytest.mark.parametrize("repeated", ["manifest.json", BUNDLE_INDEX])
def test_a_member_written_twice_is_refused_whichever_copy_is_good(tmp_path, repeated):
    path = tmp_path / "b.tar"
    write_bundle(path, MEMBERS)
    # The second copy matches the index: a reader of the first gets other bytes.
    with tarfile.open(path, "r") as tar:
        good = tar.extractfile(repeated).read()
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo(repeated)
        info.size = len(good)
        tar.addfile(info, io.BytesIO(good))
    with pytest.raises(InputError) as caught:
        import_bundle(NoEngine(), path)
    assert caught.value.message == (
        f"{path}: bundle member {repeated!r} is in it more than once"
    )


def test_a_huge_member_name_is_shown_cut_short(tmp_path):
    path = tmp_path / "b.tar"
    write_bundle(path, MEMBERS)
    name = "a/" * 2000 + "x"
    with tarfile.open(path, "a", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"rm\n"))
    with pytest.raises(InputError) as caught:
        import_bundle(NoEngine(), path)
    message = caught.value.message
    assert "bundle member 'a/a/a/" in message and "…" in message
    assert len(message) < len(str(path)) + 200


def test_a_huge_tag_in_the_index_is_shown_cut_short(tmp_path):
    archive, image = image_archive(GOOD_LABELS)
    tag = "reprobox/" + "x" * 5000 + ":0123456789abcdef"
    with pytest.raises(InputError) as info:
        import_bundle(NoEngine(), bundle_with(tmp_path, archive, image, tag))
    assert "…" in info.value.message
    assert len(info.value.message) < len(str(tmp_path)) + 400


def test_an_ipv6_registry_host_is_refused_as_unsupported():
    # cb: `--registry [::1]:5000/ns` read as a malformed name, not as IPv6.
    with pytest.raises(InputError) as refused:
        check_registry("[::1]:5000/ns")
    assert str(refused.value) == (
        "--registry '[::1]:5000/ns': an IPv6 address as the registry host is not "
        "supported (older Docker engines' image names cannot hold one) (give a "
        "host name or an IPv4 address, e.g. --registry localhost:5000/team)"
    )


@pytest.mark.parametrize(
    ("registry", "why"),
    [
        (
            "http://127.0.0.1:5000",
            ": give it without http:// (Docker chooses https, or http for a "
            "registry it trusts)",
        ),
        (
            "127.0.0.1:5000/Team",
            ": its path has capital letters, which Docker's repository names "
            "never hold",
        ),
        ("127.0.0.1:70000/team", ": port 70000 is out of range 1-65535"),
        # brk r50 (BU 6): the same registry as :5000, listed twice.
        ("localhost:05000", ": port 05000 has a leading zero (write 5000)"),
        ("127.0.0.1:5000/a b", ""),  # no one thing to name
    ],
)
def test_a_registry_that_is_not_host_port_path_says_why(registry, why):
    # brk r49 (BS 5): a scheme or capitals got the bare "is not HOST[:PORT][/PATH]".
    from reprobox.share import check_registry

    with pytest.raises(InputError) as info:
        check_registry(registry)
    assert info.value.message == (
        f"--registry {registry!r} is not HOST[:PORT][/PATH]{why}"
    )
