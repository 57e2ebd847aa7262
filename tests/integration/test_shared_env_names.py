"""A variable name shaped like a vendor's token (a prefix, then a random run)
is refused by `run --env` as [env] refuses it, and a record holding one in
options.env, written by an older reprobox or edited, is never sealed by export.
"""

from __future__ import annotations

import json

import pytest

from reprobox.seals import seal_record

pytestmark = pytest.mark.integration

PROJECT_LABEL = "org.reprobox.project"
# Made up: no published format, the shape the breaker used (brk r46).
VENDOR = "acme_live_" + "Zx8Cv7Bn6Mq1Wr5Ty3Ui9Op2"
SHOWN = f"acme*** ({len(VENDOR)} characters)"


def test_run_refuses_a_vendor_shaped_env_name_before_anything_runs(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    done = cli.run("run", str(project), "--env", f"{VENDOR}=1", check=False)
    assert done.returncode == 2, done.describe()
    assert done.stderr.strip().splitlines() == [
        f"reprobox: error: --env {SHOWN}: the variable name is a credential by "
        "its shape (a token of a published format, or a vendor's prefix and a "
        "random run), which the run record would keep; nothing was run (give "
        "the variable a plain name (e.g. GITHUB_TOKEN) and the token as its "
        "value)"
    ]
    assert VENDOR not in done.stdout + done.stderr
    assert not list((project / ".reprobox" / "runs").glob("*/record.json"))
    left = docker_client.containers.list(
        all=True, filters={"label": f"{PROJECT_LABEL}={name}"}
    )
    assert left == []


def test_export_refuses_an_old_record_with_a_vendor_shaped_env_name(
    cli, engine_cleanup, docker_client, tmp_path
):
    project, _, tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0")
    (path,) = (project / ".reprobox" / "runs").glob("*/record.json")
    # As an older reprobox wrote it: the name kept in options.env as given.
    record = json.loads(path.read_text())
    record["options"]["env"] = {VENDOR: "1"}
    path.write_text(json.dumps(seal_record(record)))

    bundle = tmp_path / "bundle.tar"
    done = cli.run(
        "export", str(project), "--reference", str(path), "-o", str(bundle),
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.describe()
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        f"reprobox: error: {path}: the record's field options.env.{SHOWN} names a "
        "variable that is a credential by its shape (a token of a published "
        "format, or a vendor's prefix and a random run), which sealing "
        "would write into the image label and the bundle; refused, nothing was "
        "shared"
    ), done.describe()
    assert VENDOR not in done.stdout + done.stderr
    assert not bundle.exists()
    assert not docker_client.images.list(name=f"{tag}-sealed")
