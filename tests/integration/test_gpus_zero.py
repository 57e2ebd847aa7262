"""`run --gpus 0` asks for no GPU: recorded as a run without --gpus."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_gpus_zero_is_recorded_as_no_gpu_and_compares_equal(
    cli, engine_cleanup, tmp_path
):
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    quick = ("--env", "SLEEPER_SECONDS=0", "--json")
    plain = json.loads(cli.run("run", str(project), *quick, timeout=300).stdout)
    zero = json.loads(
        cli.run("run", str(project), "--gpus", "00", *quick, timeout=300).stdout
    )
    runs = project / ".reprobox" / "runs"
    written = json.loads((runs / zero["run_id"] / "record.json").read_text())
    assert [plain["options"]["gpus"], zero["options"]["gpus"]] == [None, None]
    assert written["options"]["gpus"] is None
    assert [plain["status"], zero["status"]] == ["succeeded", "succeeded"]

    folders = [str(runs / r["run_id"]) for r in (plain, zero)]
    compared = cli.run("compare", *folders, timeout=120, check=False)
    assert "options.gpus" not in compared.stdout + compared.stderr, compared.describe()


def test_gpus_given_empty_is_refused_before_any_container(
    cli, engine_cleanup, docker_client, tmp_path
):
    # brk r40 (BC 5): --gpus '' ran, and its record's options.gpus '' was a
    # setup difference to compare; every other flag refuses an empty value.
    project, _, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    image = docker_client.images.get(tag).id

    def ours() -> set[str]:
        # Containers of this project's image (runs name it by id).
        return {
            c.id
            for c in docker_client.containers.list(all=True)
            if c.attrs["Image"] == image
        }

    before = ours()
    done = cli.run("run", str(project), "--gpus", "", timeout=300, check=False)
    assert done.returncode == 2, done.describe()
    assert done.stderr.strip().splitlines() == [
        "reprobox: error: --gpus '' gives no GPU selection (use --gpus all, --gpus 2 "
        "(a count), --gpus device=0,2 (indexes) or --gpus device=GPU-<uuid>; or "
        "leave --gpus out (or --gpus 0) for none)"
    ]
    assert ours() == before
    assert not list((project / ".reprobox" / "runs").glob("*/record.json"))
