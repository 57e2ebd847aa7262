"""Two addresses that reach one daemon are one engine to `run -H A -H B`.

A hard link to the second engine's socket is another path, so the address
check cannot see it; the daemon's own ID (docker info) can.
"""

from __future__ import annotations

import os

import pytest
from conftest import labelled_containers

# Fixtures come from conftest_cross by import; tests take them by name.
# ruff: noqa: F811
from conftest_cross import (  # noqa: F401
    ENGINE2,
    engine1_client,
    engine2_client,
    make_project,
    two_engine_cleanup,
)

pytestmark = [pytest.mark.integration, pytest.mark.second_engine]


def test_a_hard_link_to_an_engines_socket_is_refused_as_the_same_engine(
    cli, two_engine_cleanup, engine2_client, tmp_path
):
    project = make_project(cli, two_engine_cleanup, tmp_path, "samedaemon")
    link = tmp_path / "links" / "e2.sock"
    link.parent.mkdir()
    os.link(ENGINE2.removeprefix("unix://"), link)
    alias = f"unix://{link}"

    result = cli.run("run", str(project.path), "-H", alias, "-H", ENGINE2, check=False)

    engine_id = engine2_client.info()["ID"]
    assert result.returncode == 2, result.describe()
    assert result.stderr == (
        f"reprobox: error: --host {alias!r} and --host {ENGINE2!r} reach one "
        f"Docker engine (engine ID {engine_id}) (name each engine once; "
        "--repeat N runs N times on each)\n"
    )
    assert labelled_containers(engine2_client, project.name) == []
    assert not project.runs.exists() or list(project.runs.iterdir()) == []


def test_build_and_export_take_an_upper_case_scheme(cli, engine_cleanup, tmp_path):
    # brk r41 (BD 2): build and export --host UNIX://... failed in the docker
    # CLI ("invalid bind address format") while run, push and verify took it.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=False)
    host = "UNIX:///var/run/docker.sock"
    built = cli.run("-q", "build", str(project), "--host", host, check=False)
    assert built.returncode == 0, built.describe()
    bundle = tmp_path / "out" / "b.tar"
    bundle.parent.mkdir()
    ran = cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", check=False)
    assert ran.returncode == 0, ran.describe()
    done = cli.run(
        "-q", "export", str(project), "-o", str(bundle), "--host", host, check=False
    )
    assert done.returncode == 0, done.describe()
    assert bundle.stat().st_size > 0


@pytest.mark.parametrize("host", ["UNIX://", "Unix://"])
def test_an_upper_case_unix_scheme_with_no_path_is_the_default_socket(
    cli, engine_cleanup, tmp_path, host
):
    # brk r42 (BE 6, BF 2): `unix://` reached the default engine, `UNIX://`
    # said "no Docker engine answers at UNIX://" (exit 3) in every command.
    project, name, _ = cli.frozen_sleeper(tmp_path, engine_cleanup, build=False)
    built = cli.run("-q", "build", str(project), "--host", host, check=False)
    assert built.returncode == 0, built.describe()
    ran = cli.run(
        "-q",
        "run",
        str(project),
        "--host",
        host,
        "--env",
        "SLEEPER_SECONDS=0",
        check=False,
    )
    assert ran.returncode == 0, ran.describe()
    [record] = (project / ".reprobox" / "runs").glob("*/record.json")
    assert '"status": "succeeded"' in record.read_text()
