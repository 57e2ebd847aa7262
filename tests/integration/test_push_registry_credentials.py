"""push refuses a --registry holding a token or a login, before anything is pushed.

Round 42, BE 1: a token in the registry path named the pushed repository,
which the manifest, the engine's RepoDigests and every later run record then
held. The loopback registry's catalog shows whether anything reached it.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import registry  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.registry]

TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def catalog(registry: str) -> set[str]:
    """Return every repository the registry lists, a page at a time."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    found: set[str] = set()
    last = ""
    while True:
        url = f"http://{registry}/v2/_catalog?n=500&last={last}"
        with opener.open(url, timeout=30) as reply:
            page = json.load(reply)["repositories"] or []
        found.update(page)
        if len(page) < 500:
            return found
        last = page[-1]


@pytest.mark.parametrize(
    ("given", "secret"),
    [
        ("{registry}/" + TOKEN, TOKEN),
        ("someone:s3cretpass@{registry}", "s3cretpass"),
    ],
    ids=["token in the path", "login before the host"],
)
def test_push_to_a_registry_name_with_a_credential_is_refused(
    cli, engine_cleanup, registry, tmp_path, given, secret
):
    path, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    listed = catalog(registry)
    manifest = path / ".reprobox" / "manifest.json"
    before = manifest.read_bytes()
    result = cli.run(
        "-q",
        "push",
        str(path),
        "--registry",
        given.format(registry=registry),
        check=False,
        timeout=300,
    )
    assert result.returncode == 2, result.describe()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.describe()
    assert lines[0].startswith("reprobox: error: --registry "), result.describe()
    assert "nothing was pushed" in lines[0]
    assert secret not in result.stdout + result.stderr
    assert manifest.read_bytes() == before
    # The registry may hold others' repositories; none of this project's came.
    came = catalog(registry) - listed
    assert not came, came
    assert not [repo for repo in catalog(registry) if repo.endswith(f"/{name}")]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("command", ["run", "export", "freeze"])
def test_a_published_ref_holding_a_token_is_refused_by_run_not_recorded(
    cli, engine_cleanup, tmp_path, command
):
    # An older reprobox pushed so, or the manifest was edited: run refused
    # nothing and copied the ref into record.json, which export then refused.
    # brk r43 (BG 2): export wrote its bundle and freeze kept the token in the
    # manifest it wrote, while the README says both refuse it.
    path, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    manifest_path = path / ".reprobox" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    image = "sha256:" + "1" * 64
    manifest["published"] = [
        {
            "ref": f"127.0.0.1:5000/{TOKEN}/reprobox/p@sha256:{'d' * 64}",
            "image_id": image,
            "source_image_id": image,
            "reference_run": None,
        }
    ]
    edited = json.dumps(manifest, indent=2) + "\n"
    manifest_path.write_text(edited)
    extra = ("-o", str(tmp_path / "b.tar")) if command == "export" else ()
    result = cli.run("-q", command, str(path), *extra, check=False, timeout=600)
    assert result.returncode == 2, result.describe()
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"reprobox: error: {manifest_path}: published[0].ref ")
    assert "holds a token of a published format" in line
    assert "remove that entry" in line and "push` again" in line
    assert TOKEN not in result.stdout + result.stderr
    assert not list(path.glob(".reprobox/runs/*/record.json"))
    assert not (tmp_path / "b.tar").exists()
    assert manifest_path.read_text() == edited  # freeze wrote nothing


def test_a_percent_escaped_token_in_the_registry_is_not_shown(
    cli, engine_cleanup, registry, tmp_path
):
    # brk r44 (BI 2): refused, but shown whole in the error (x%67hp_...).
    path, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    escaped = "%67hp_" + TOKEN[4:]
    result = cli.run(
        "-q", "push", str(path), "--registry", f"{registry}/x{escaped}",
        check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.describe()
    assert TOKEN[4:] not in result.stdout + result.stderr, result.describe()
    assert "ghp_***" in result.stderr, result.describe()
