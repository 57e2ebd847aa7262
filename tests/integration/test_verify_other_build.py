"""verify refuses a --reference run of another build before any container."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PROJECT_LABEL = "org.reprobox.project"


def quick_run(cli, project) -> str:
    """Run the sleeper project without its sleep; return the run's id."""
    done = cli.run("-q", "run", str(project), "--env", "SLEEPER_SECONDS=0", "--json")
    record = json.loads(done.stdout)
    assert record["status"] == "succeeded", done.describe()
    return record["run_id"]


def verify_with(cli, tag: str, record, runs_dir):
    """Verify tag quietly against the record given, its rerun kept in runs_dir."""
    return cli.run(
        "-q",
        "verify",
        tag,
        "--reference",
        str(record),
        "--runs-dir",
        str(runs_dir),
        check=False,
    )


def one_error_line(done) -> str:
    assert done.returncode == 2, done.describe()
    assert "Traceback" not in done.stderr, done.describe()
    [line] = done.stderr.splitlines()
    return line


def test_verify_refuses_a_reference_of_another_build_before_any_container(
    cli, engine_cleanup, docker_client, tmp_path
):
    # AZ 8: it said "problem: the image's layers differ", NOT verified, exit 1.
    project, name, first_tag = cli.frozen_sleeper(tmp_path, engine_cleanup, build=True)
    run_id = quick_run(cli, project)
    train = project / "train.py"
    train.write_text(train.read_text() + "# another build\n")
    built = json.loads(cli.run("build", str(project), "--json").stdout)
    assert built["tag"] != first_tag

    record = project / ".reprobox" / "runs" / run_id / "record.json"
    before = docker_client.containers.list(
        all=True, filters={"label": f"{PROJECT_LABEL}={name}"}
    )
    verify_runs = tmp_path / "v"
    done = verify_with(cli, built["tag"], record, verify_runs)
    line = one_error_line(done)
    assert line.startswith(
        f"reprobox: error: --reference {record}: a run of another build (layers "
    )
    # The build was never pushed or exported: it carries no reference, so
    # leaving --reference out would only be refused (BQ r48).
    assert line.endswith(
        f"(give a record of a run of {built['tag']} (it carries none of its own: "
        "`reprobox run` it, then `reprobox push` or `export` seals that run in))"
    )
    after = docker_client.containers.list(
        all=True, filters={"label": f"{PROJECT_LABEL}={name}"}
    )
    assert [c.id for c in after] == [c.id for c in before]
    assert not verify_runs.exists() or not any(verify_runs.iterdir())


WRITES_NAN = """import json, os
with open(os.environ["REPROBOX_METRICS"], "w") as fh:
    fh.write('{"acc": NaN}')
"""


def test_verify_warns_of_a_given_reference_with_a_nan_metric(
    cli, engine_cleanup, tmp_path
):
    # brk r48 (BP 2): taken without a word, where push and export warn.
    project, _, _ = cli.frozen_sleeper(tmp_path, engine_cleanup)
    (project / "train.py").write_text(WRITES_NAN)
    cli.run("-q", "freeze", str(project))
    built = json.loads(cli.run("build", str(project), "--json").stdout)
    run_id = quick_run(cli, project)
    record = project / ".reprobox" / "runs" / run_id / "record.json"
    done = verify_with(cli, built["tag"], record, tmp_path / "v")
    assert (
        f"reprobox: warning: --reference {record}: run {run_id} has acc = NaN: "
        "this rerun is held to that (give another --reference)"
    ) in done.stderr.splitlines(), done.describe()
