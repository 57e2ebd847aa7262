"""A `reprobox freeze` that ends while a run or export is under way.

A breaker ran `reprobox freeze & (sleep 0.1; reprobox run)` after editing the
seed: the run built the new freeze's image but recorded the old seed and
manifest digest. Here the second freeze is made to end at a fixed moment (as
the command reaches its build, or just after it) by a wrapper that runs the
real CLI with that one step wrapped, so the race is hit every time.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from reprobox.manifest import core_manifest_text
from reprobox.share import MANIFEST_SHA_LABEL, manifest_text_from_labels

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TEST_PROJECTS = Path(__file__).resolve().parent / "projects"
REPO = Path(__file__).resolve().parents[2]

# argv: module whose _build to wrap, "before" or "after" it, project, then
# reprobox's own arguments. The second freeze gets SLEEPER_SECONDS from
# REFREEZE_SLEEPER_SECONDS, so it freezes another value of that variable.
FREEZE_AT_BUILD = """
import os, subprocess, sys
import importlib

module = importlib.import_module(sys.argv.pop(1))
when = sys.argv.pop(1)
project = sys.argv.pop(1)
build = module._build


def freeze_again():
    env = dict(os.environ, SLEEPER_SECONDS=os.environ["REFREEZE_SLEEPER_SECONDS"])
    subprocess.run(
        [sys.executable, "-m", "reprobox", "-q", "freeze", project],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )


def build_with_a_freeze_beside(*args, **kwargs):
    if when == "before":
        freeze_again()
    built = build(*args, **kwargs)
    if when == "after":
        freeze_again()
    return built


module._build = build_with_a_freeze_beside
from reprobox.__main__ import main

main()
"""
# What the container saw: the seed reprobox applied and the frozen variable.
TRAIN = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as out:
    seen = {"seed": os.environ["REPROBOX_SEED"], "sleep": os.environ["SLEEPER_SECONDS"]}
    json.dump({name: float(value) for name, value in seen.items()}, out)
"""


def new_project(cli, engine_cleanup, tmp_path: Path) -> tuple[Path, str]:
    """Copy the sleeper with SLEEPER_SECONDS passed from the freezing shell."""
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (path / "train.py").write_text(TRAIN)
    config = path / "reprobox.toml"
    text = config.read_text()
    passed = 'seed = 1\npass_env = ["SLEEPER_SECONDS"]\n'
    config.write_text(text.replace("seed = 1\n", passed))
    froze = freeze(cli, path, "0")
    assert froze.returncode == 0, shown(froze)
    return path, name


def freeze(cli, path: Path, seconds: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reprobox", "-q", "freeze", str(path)],
        env={**cli.env(), "SLEEPER_SECONDS": seconds},
        capture_output=True, text=True, timeout=300, cwd=REPO, check=False,
    )  # fmt: skip


def with_freeze_at_build(
    cli, tmp_path: Path, module: str, when: str, path: Path, *args: str
) -> subprocess.CompletedProcess:
    """Run reprobox with args; a second freeze ends when it builds."""
    script = tmp_path / "freeze_at_build.py"
    script.write_text(FREEZE_AT_BUILD)
    return subprocess.run(
        [sys.executable, str(script), module, when, str(path), *args],
        env={**cli.env(), "REFREEZE_SLEEPER_SECONDS": "0.5"},
        capture_output=True, text=True, timeout=300, cwd=REPO, check=False,
    )  # fmt: skip


def shown(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def manifest_sha256(path: Path) -> str:
    """Return the digest a record and an image label give the frozen manifest."""
    manifest = json.loads((path / ".reprobox" / "manifest.json").read_text())
    return hashlib.sha256(core_manifest_text(manifest).encode()).hexdigest()


def image_manifest(docker_client, image: str) -> tuple[str, dict]:
    """Return an image's manifest-sha256 label and the manifest it carries."""
    labels = docker_client.images.get(image).labels
    return labels[MANIFEST_SHA_LABEL], json.loads(manifest_text_from_labels(labels))


@pytest.mark.parametrize("flags", [(), ("--repeat", "2")])
def test_a_run_keeps_the_manifest_it_loaded_when_frozen_again_before_its_build(
    cli, engine_cleanup, docker_client, tmp_path, flags
):
    path, _ = new_project(cli, engine_cleanup, tmp_path)
    loaded = manifest_sha256(path)

    done = with_freeze_at_build(
        cli, tmp_path, "reprobox.cli_run", "before", path, "run", str(path),
        "--json", *flags,
    )  # fmt: skip
    assert done.returncode == 0, shown(done)
    assert manifest_sha256(path) != loaded, "the second freeze changed nothing"
    payload = json.loads(done.stdout)
    records = payload["records"] if flags else [payload]
    assert len(records) == (2 if flags else 1)
    for record in records:
        label, carried = image_manifest(docker_client, record["image"]["id"])
        assert record["manifest_sha256"] == label == loaded
        assert record["seed"] == carried["seed"] == 1
        assert carried["environment"]["SLEEPER_SECONDS"] == "0"
        assert record["metrics"] == {"seed": 1.0, "sleep": 0.0}


def test_a_run_refuses_a_config_edited_while_freeze_ran_before_building(
    cli, engine_cleanup, docker_client, tmp_path
):
    # The breaker's case: seed edited, then `freeze & run`; the run read the
    # new config and the old manifest, and the freeze ended before its build.
    path, _ = new_project(cli, engine_cleanup, tmp_path)
    config = path / "reprobox.toml"
    config.write_text(config.read_text().replace("seed = 1\n", "seed = 51\n"))

    done = with_freeze_at_build(
        cli, tmp_path, "reprobox.cli_run", "before", path, "run", str(path),
        "--json",
    )  # fmt: skip
    if done.returncode == 0:  # what it ran must then be one manifest throughout
        record = json.loads(done.stdout)
        label, carried = image_manifest(docker_client, record["image"]["id"])
        assert (record["manifest_sha256"], record["seed"]) == (label, carried["seed"])
    assert done.returncode == 2, shown(done)
    assert done.stderr.splitlines() == [
        f"reprobox: error: {config} changed since freeze; the build would mix old "
        f"and new settings (run `reprobox freeze {path}` again)"
    ]


def test_an_export_bundles_the_manifest_its_image_was_built_from(
    cli, engine_cleanup, docker_client, tmp_path
):
    path, _ = new_project(cli, engine_cleanup, tmp_path)
    out = tmp_path / "bundle.tar"

    done = with_freeze_at_build(
        cli, tmp_path, "reprobox.cli_share", "after", path, "export", str(path),
        "-o", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, shown(done)
    with tarfile.open(out) as tar:
        texts = {
            name: tar.extractfile(name).read().decode()
            for name in ("manifest.json", "Dockerfile")
        }
    tag = json.loads(done.stdout)["tag"]
    labels = docker_client.images.get(tag).labels
    assert texts["manifest.json"] == manifest_text_from_labels(labels)
    bundled = json.loads(texts["manifest.json"])
    assert bundled["environment"]["SLEEPER_SECONDS"] == "0"
    assert 'SLEEPER_SECONDS="0"' in texts["Dockerfile"], texts["Dockerfile"]
    assert (
        manifest_sha256(path)
        != hashlib.sha256(texts["manifest.json"].encode()).hexdigest()
    ), "the second freeze changed nothing"
