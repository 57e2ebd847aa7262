"""Faults a second README-only tester found; each expected value is pinned here."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from mine_runs import succeeded_record, write_run

from reprobox.atomic import atomic_write_text
from reprobox.build import build_project
from reprobox.config import load_config
from reprobox.container_files import read_script_metrics
from reprobox.envvars import looks_secret
from reprobox.errors import ConfigError, InputError, LockError
from reprobox.freeze import freeze_project, write_frozen
from reprobox.image_files import project_files
from reprobox.lock.indexes import redact_text
from reprobox.share import check_registry


def project(tmp_path: Path, extra: str = "", command: str = "python train.py") -> Path:
    (tmp_path / "reprobox.toml").write_text(
        f'command = "{command}"\nbase_image = "reprobox-base:bookworm-py3.11"\n' + extra
    )
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "train.py").write_text("print(1)\n")
    return tmp_path


def test_writing_never_replaces_a_device_or_a_folder(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(InputError, match="is not a regular file"):
            atomic_write_text(target, "x")
    assert fifo.exists() and not fifo.is_file()


@pytest.mark.parametrize(
    "value",
    [
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ],
)
def test_more_token_shapes(value):
    assert looks_secret("MY_SETTING", value)


def test_a_sha1_is_not_a_secret():
    assert not looks_secret("MY_SETTING", "da39a3ee5e6b4b0d3255bfef95601890afd80709")


def test_query_string_tokens_are_redacted_in_messages():
    text = "ignored --index-url=https://x.example/simple?access_token=ghp_abc123&v=1"
    assert redact_text(text) == (
        "ignored --index-url=https://x.example/simple?access_token=***&v=1"
    )


@pytest.mark.parametrize("name", ["a..b", "a_", "-x", "a--", "x__"])
def test_names_docker_refuses_are_refused_at_freeze(tmp_path, name):
    with pytest.raises(ConfigError, match="name"):
        load_config(project(tmp_path, f'name = "{name}"\n'))


@pytest.mark.parametrize(
    "registry",
    [
        "127.0.0.1:5000/a..b",
        "127.0.0.1:5000/-x",
        "127.0.0.1:5000/x_",
        "127.0.0.1:99999/x",
    ],
)
def test_registry_paths_docker_refuses(registry):
    with pytest.raises(InputError, match="--registry"):
        check_registry(registry)


def test_plain_http_index_only_on_loopback(tmp_path):
    with pytest.raises(ConfigError, match="plain http"):
        load_config(
            project(tmp_path, '[packages]\nindex_url = "http://10.1.2.3/simple/"\n')
        )
    cfg = load_config(
        project(tmp_path, '[packages]\nindex_url = "http://127.0.0.1:8/simple/"\n')
    )
    assert cfg.index_url == "http://127.0.0.1:8/simple/"


def test_keys_and_credential_files_stay_out_of_the_image(tmp_path):
    project(tmp_path, '[build]\nca_cert = "certs/corp.pem"\n')
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "corp.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "notes.txt").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    for name in (
        "credentials.json",
        "service-account-prod.json",
        ".pgpass",
        "server.key",
    ):
        (tmp_path / name).write_text("x")
    assert project_files(load_config(tmp_path)) == ["requirements.txt", "train.py"]


def test_a_token_in_the_command_is_refused(tmp_path, fake_lock):
    cfg = load_config(
        project(tmp_path, command="python train.py --token ghp_" + "a" * 36)
    )
    with pytest.raises(ConfigError, match="command"):
        freeze_project(cfg, environ={})


def test_freezing_again_unchanged_keeps_the_pushed_digest(tmp_path, fake_lock):
    cfg = load_config(project(tmp_path))
    write_frozen(cfg, freeze_project(cfg, environ={}))
    manifest_path = cfg.state_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    # A whole entry, as push writes it: freeze checks what it carries over.
    published = [
        {
            "ref": "127.0.0.1:5000/reprobox/x@sha256:" + "1" * 64,
            "image_id": "sha256:" + "2" * 64,
            "source_image_id": "sha256:" + "3" * 64,
            "reference_run": None,
        }
    ]
    manifest_path.write_text(json.dumps({**manifest, "published": published}))
    write_frozen(cfg, freeze_project(cfg, environ={}))
    assert json.loads(manifest_path.read_text())["published"] == published

    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    cfg = load_config(tmp_path)
    write_frozen(cfg, freeze_project(cfg, environ={"TF_DETERMINISTIC_OPS": "1"}))
    assert "published" not in json.loads(manifest_path.read_text())


def test_requirements_edited_after_freeze_are_refused_before_building(
    tmp_path, fake_lock
):
    cfg = load_config(project(tmp_path))
    write_frozen(cfg, freeze_project(cfg, environ={}))
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    with pytest.raises(InputError, match="requirements.txt changed since freeze"):
        build_project(cfg, engine=None, secrets=lambda: None)


def test_an_included_file_edited_after_freeze_is_named(tmp_path, fake_lock):
    # The error named requirements.txt alone after other.txt, which it
    # includes with -r, was edited; requirements.txt was never touched.
    (project(tmp_path) / "requirements.txt").write_text("-r other.txt\n")
    (tmp_path / "other.txt").write_text("")
    cfg = load_config(tmp_path)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    (tmp_path / "other.txt").write_text("# edited\n")
    with pytest.raises(InputError) as info:
        build_project(cfg, engine=None, secrets=lambda: None)
    assert info.value.message == (
        f"{tmp_path / 'requirements.txt'} or a file it includes (other.txt) "
        "changed since freeze; the lock would not match it"
    )
    assert info.value.hint == f"run `reprobox freeze {tmp_path}` to lock again"


def test_non_finite_metrics_are_kept_with_a_warning(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"acc": NaN, "loss": 0.5}')
    metrics, warnings = read_script_metrics(path)
    assert metrics["loss"] == 0.5 and metrics["acc"] != metrics["acc"]
    assert warnings == [
        "metric 'acc' in the metrics file ($REPROBOX_METRICS) is nan; kept"
    ]


def test_credential_files_stay_out_whatever_their_case(tmp_path):
    project(tmp_path)
    for name in (".ENV", ".Env.production", "CREDENTIALS.json", ".NETRC", "Server.KEY"):
        (tmp_path / name).write_text("TOKEN=x")
    (tmp_path / ".DS_STORE").write_text("x")
    assert project_files(load_config(tmp_path)) == ["requirements.txt", "train.py"]


def test_user_ignore_globs_keep_their_case(tmp_path):
    project(tmp_path)
    (tmp_path / ".reproboxignore").write_text("*.log\n")
    (tmp_path / "run.log").write_text("x")
    (tmp_path / "RUN.LOG").write_text("x")
    assert project_files(load_config(tmp_path)) == [
        "RUN.LOG",
        "requirements.txt",
        "train.py",
    ]


@pytest.mark.parametrize(
    "include", ["../outside/outside.txt", "/ABS/outside.txt", "link/outside.txt"]
)
def test_requirements_include_outside_the_project_is_refused(
    tmp_path, fake_lock, include
):
    (tmp_path / "proj").mkdir()
    root = project(tmp_path / "proj")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "outside.txt").write_text("six==1.17.0\n")
    (root / "link").symlink_to(outside)
    include = include.replace("/ABS", str(outside))
    (root / "requirements.txt").write_text(f"-r {include}\n")
    cfg = load_config(root)
    with pytest.raises(LockError, match="outside the project folder") as err:
        freeze_project(cfg, environ={})
    assert f"requirements.txt:1: -r {include} is outside" in err.value.message
    assert "copy the file into the project" in err.value.hint


def test_requirements_include_inside_the_project_is_read(tmp_path, fake_lock):
    root = project(tmp_path)
    (root / "reqs").mkdir()
    (root / "reqs" / "base.txt").write_text("six==1.17.0\n")
    (root / "requirements.txt").write_text("-r reqs/base.txt\n")
    freeze_project(load_config(root), environ={})
    assert fake_lock == [["six==1.17.0"]]


def test_a_pass_env_value_with_a_line_break_names_the_variable(tmp_path, fake_lock):
    cfg = load_config(project(tmp_path, 'pass_env = ["MYV"]\n'))
    with pytest.raises(ConfigError) as info:
        freeze_project(cfg, environ={"MYV": "a\nRUN rm -rf /"})
    assert "pass_env" in str(info.value)
    assert "MYV's value in this shell holds a line break" in str(info.value)


def test_a_data_folder_is_named_as_a_folder(tmp_path):
    project(tmp_path, 'data = ["sub"]\n')
    (tmp_path / "sub").mkdir()
    with pytest.raises(ConfigError, match="'sub' is a folder; name files"):
        load_config(tmp_path)


def test_outputs_never_replace_inputs_or_reprobox_files(tmp_path):
    from reprobox.atomic import check_output_target

    record = tmp_path / "runs" / "r1" / "record.json"
    record.parent.mkdir(parents=True)
    record.write_text("{}")
    with pytest.raises(InputError, match="is one of the inputs"):
        check_output_target(record, "--output", [record])
    manifest = tmp_path / ".reprobox" / "manifest.json"
    manifest.parent.mkdir()
    with pytest.raises(InputError, match="reprobox keeps in .reprobox/"):
        check_output_target(manifest, "--output")
    check_output_target(tmp_path / "report.html", "--output", [record])  # fine


def test_a_reference_from_another_project_or_image_is_refused(tmp_path):
    from types import SimpleNamespace

    from reprobox.atomic import dump_json
    from reprobox.cli_share import _reference_record
    from reprobox.seals import seal_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    base = succeeded_record()

    def write(**changes):
        path = tmp_path / base["run_id"] / "record.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(dump_json(seal_record({**base, **changes})))
        return path

    this_build = "sha256:" + "a" * 64
    assert _reference_record(cfg, this_build, write())["run_id"] == base["run_id"]
    sealed = write(image={"id": "sha256:" + "b" * 64, "layers": "sha256:L"})
    assert _reference_record(cfg, this_build, sealed, "sha256:L") is not None
    with pytest.raises(InputError, match="a run of project 'theirs', not 'mine'"):
        _reference_record(cfg, this_build, write(project="theirs"))
    other = write(image={"id": "sha256:" + "c" * 64, "layers": "sha256:M"})
    with pytest.raises(InputError, match="that run used another image"):
        _reference_record(cfg, this_build, other, "sha256:L")
    with pytest.raises(InputError, match="that run failed"):
        _reference_record(cfg, this_build, write(status="failed", exit_code=1))


def test_push_and_export_take_one_reference_record_as_verify_does(tmp_path):
    # brk: push --reference .reprobox/runs (13 records) took the newest silently.
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    runs = cfg.state_dir / "runs"
    image = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    for second in range(3):
        run_id = _write_run(cfg.state_dir, second, image).name
    with pytest.raises(InputError) as info:
        _reference_record(cfg, image["id"], runs)
    assert info.value.message == (
        f"--reference {runs} holds 3 run records; push and export seal one in"
    )
    assert info.value.hint == (
        f"name one record, e.g. --reference {runs / run_id / 'record.json'} "
        "(the newest succeeded run of this build there with every checked "
        "metric present and finite)"
    )
    one = _reference_record(cfg, image["id"], runs / run_id)  # its run folder
    assert one["run_id"] == run_id


def test_the_hint_for_a_folder_offers_a_run_of_this_build_not_the_newest(tmp_path):
    # AN 3: the hint named the newest record, a run of another build (or a
    # failed one), which push then refused.
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    runs = cfg.state_dir / "runs"
    ours = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    theirs = {"id": "sha256:" + "c" * 64, "layers": "sha256:M"}
    meant = _write_run(cfg.state_dir, 1, ours).name
    _write_run(cfg.state_dir, 2, ours, status="failed", exit_code=1)
    _write_run(cfg.state_dir, 3, theirs)
    # BQ (r48): nor a run whose metric is NaN, which push would not seal.
    _write_run(cfg.state_dir, 4, ours, metrics={"acc": "NaN"})
    with pytest.raises(InputError) as info:
        _reference_record(cfg, ours["id"], runs, "sha256:L")
    assert info.value.hint == (
        f"name one record, e.g. --reference {runs / meant / 'record.json'} "
        "(the newest succeeded run of this build there with every checked "
        "metric present and finite)"
    )
    with pytest.raises(InputError) as none:
        _reference_record(cfg, "sha256:" + "d" * 64, runs, "sha256:N")
    assert none.value.hint == (
        "name one run's record.json (none there is a succeeded run of this build)"
    )


def test_export_refuses_a_reference_folder_before_the_engine(
    tmp_path, monkeypatch, fake_lock
):
    from typer.testing import CliRunner

    from reprobox import engine as engine_module
    from reprobox.atomic import dump_json
    from reprobox.cli import app
    from reprobox.compare import RECORD_SCHEMA_VERSION
    from reprobox.seals import seal_record

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine was reached (a build would start)")

    monkeypatch.setattr(engine_module, "connect", no_engine)
    (tmp_path / "proj").mkdir()
    root = project(tmp_path / "proj")
    cfg = load_config(root)
    write_frozen(cfg, freeze_project(cfg, environ={}))
    runs = root / ".reprobox" / "runs"
    for second, run_id in enumerate(
        ("20260101T000000Z-aaaaaa", "20260101T000001Z-bbbbbb")
    ):
        (runs / run_id).mkdir(parents=True)
        (runs / run_id / "record.json").write_text(
            dump_json(
                seal_record(
                    {
                        "schema_version": RECORD_SCHEMA_VERSION,
                        "run_id": run_id,
                        "status": "succeeded",
                        "exit_code": 0,
                        "started_at": f"2026-01-01T00:00:0{second}+00:00",
                    }
                )
            )
        )
    out = tmp_path / "b.tar"
    result = CliRunner().invoke(
        app, ["export", str(root), "-o", str(out), "--reference", str(runs)]
    )
    assert isinstance(result.exception, InputError), result.output
    assert result.exception.message == (
        f"--reference {runs} holds 2 run records; push and export seal one in"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["x=abs:1,abs:2"], "gives abs twice"),
        (["x=abs:1", "x=rel:0.1"], "--tol x is given twice"),
        # bw 8: float() read "1_0" as 10 and took " 1".
        (["acc=abs:1_0"], "'1_0' is not a number"),
        (["acc=abs: 1"], "' 1' is not a number"),
        (["acc=rel:0x1"], "'0x1' is not a number"),
        # brk 37 #16: float() reads other scripts' digits; TOML reads ASCII only.
        (["acc=abs:\uff11"], "'\uff11' is not a number"),
        (["acc=abs:0.\u0665"], "'0.\u0665' is not a number"),
        (["acc=rel:1e\uff12"], "'1e\uff12' is not a number"),
        (["acc=rel:\u0131nf"], "'\u0131nf' is not a number"),
    ],
)
def test_a_tolerance_given_twice_is_refused(flags, message):
    from reprobox.cli_compare import _parse_tolerances

    with pytest.raises(InputError, match=message):
        _parse_tolerances(flags)


def test_errors_never_pass_terminal_escapes_through():
    from reprobox.cli import _printable

    assert _printable("loss\x1b[2J\x1b]0;pwned\x07 nan") == (
        "loss\\x1b[2J\\x1b]0;pwned\\x07 nan"
    )
    assert _printable("tail:\nline\tok") == "tail:\nline\tok"


@pytest.mark.parametrize("memory", ["1b", "5m", "99999999999g"])
def test_memory_docker_would_refuse_is_refused_first(memory):
    from reprobox.cli_run import check_memory

    with pytest.raises(InputError, match="outside what Docker accepts"):
        check_memory(memory)


def test_a_reprobox_path_that_is_a_file_is_named(tmp_path, fake_lock):
    from typer.testing import CliRunner

    from reprobox.cli import app

    project(tmp_path)
    (tmp_path / ".reprobox").write_text("not a folder")
    result = CliRunner().invoke(app, ["freeze", str(tmp_path)])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    assert "is not a folder; reprobox keeps the frozen files there" in str(
        result.exception
    )


def test_a_config_with_a_byte_order_mark_reads(tmp_path):
    (tmp_path / "reprobox.toml").write_bytes(
        '\ufeffcommand = "python train.py"\n'.encode()
    )
    assert load_config(tmp_path).command == ("python", "train.py")


def test_a_ca_cert_that_is_a_device_is_named(tmp_path):
    from reprobox.freeze import resolve_ca_cert

    cfg = load_config(project(tmp_path))
    with pytest.raises(InputError, match="is not a regular file"):
        resolve_ca_cert("/dev/zero", cfg, {})


def test_only_the_checks_own_message_means_a_python_mismatch():
    """BuildKit echoes the RUN line, which holds the same words: a pip failure
    in that step must not be blamed on the Python version."""
    from reprobox.engine import _PYTHON_MISMATCH

    echoed = (
        '#7 [2/4] RUN --mount=type=cache ... sys.exit(None if v == "3.11" else '
        '"the base image has Python " + v + ", the project is frozen for 3.11: '
        "change python or base_image\")'; python3 -m venv /opt/venv; ..."
    )
    printed = (
        "#7 0.412 the base image has Python 3.12, the project is frozen for "
        "3.11: change python or base_image"
    )
    assert _PYTHON_MISMATCH.search(echoed) is None
    found = _PYTHON_MISMATCH.search(printed)
    assert (found[1], found[2]) == ("3.12", "3.11")


@pytest.mark.parametrize(
    ("memory", "size"),
    [
        ("4g", 4 << 30),
        ("4G", 4 << 30),
        ("1.5g", 3 << 29),
        ("512m", 512 << 20),
        ("512MiB", 512 << 20),
        ("2 GB", 2 << 30),
        ("10t", 10 << 40),
        ("1024t", 1 << 50),
        ("6291456", 6 << 20),
    ],
)
def test_memory_is_read_as_the_docker_cli_reads_it(memory, size):
    from reprobox.cli_run import check_memory

    assert check_memory(memory) == size


@pytest.mark.parametrize("memory", ["lots", "4x", "-1g", "1e3m", "", "1.g"])
def test_memory_that_is_no_size_is_refused(memory):
    from reprobox.cli_run import check_memory

    with pytest.raises(InputError, match="is not a size"):
        check_memory(memory)


def _write_run(state_dir: Path, second: int, image: dict, **changes) -> Path:
    """Write a succeeded run of project "mine" at second; return its folder."""
    data = succeeded_record(
        run_id=f"20260101T00000{second}Z-aaaaa{second}",
        started_at=f"2026-01-01T00:00:0{second}+00:00",
        image=image,
        **changes,
    )
    return write_run(state_dir, data).parent


def test_the_default_reference_is_the_newest_run_of_the_build_or_its_sealed_copy(
    tmp_path,
):
    # AK 2: runs made on the pushed sealed copy (same layers, another id) were
    # never chosen while any run of the unsealed build existed.
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    build = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    sealed = {"id": "sha256:" + "b" * 64, "layers": "sha256:L"}
    other = {"id": "sha256:" + "c" * 64, "layers": "sha256:M"}

    def write(second: int, image: dict, status: str = "succeeded") -> str:
        failed = {"status": status, "exit_code": 1} if status != "succeeded" else {}
        return _write_run(cfg.state_dir, second, image, **failed).name

    write(1, build)
    on_sealed = write(2, sealed)
    write(3, other)  # newer, but another build
    write(4, sealed, status="failed")  # newer, but failed
    chosen = _reference_record(cfg, build["id"], None, build["layers"])
    assert chosen["run_id"] == on_sealed
    # Without the layers known only the build's own id counts.
    assert _reference_record(cfg, build["id"], None)["run_id"] == (
        "20260101T000001Z-aaaaa1"
    )


def test_a_run_under_another_manifest_of_the_same_layers_is_not_this_build(
    tmp_path,
):
    # AM 1: a refreeze that changed only tolerances reuses the layers; push
    # sealed the newer run made under the other manifest, so verify judged by
    # one tolerance and compare of the same records by another.
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    build = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    other_tag = {"id": "sha256:" + "d" * 64, "layers": "sha256:L"}

    def write(second: int, image: dict, manifest: str) -> Path:
        return _write_run(cfg.state_dir, second, image, manifest_sha256=manifest)

    ours = write(1, build, "m" * 64)
    theirs = write(2, other_tag, "n" * 64)  # newer, same layers, other manifest
    chosen = _reference_record(cfg, build["id"], None, "sha256:L", "m" * 64)
    assert chosen["run_id"] == ours.name
    with pytest.raises(InputError) as caught:
        _reference_record(cfg, build["id"], theirs, "sha256:L", "m" * 64)
    assert caught.value.message == (
        f"--reference {theirs}: that run had another manifest (nnnnnnnnnnnn, not "
        "this build's mmmmmmmmmmmm): the same layers, but frozen with other "
        "tolerances, command or settings"
    )
    # With only the other manifest's run there is no run of this build.
    (ours / "record.json").unlink()
    ours.rmdir()
    assert _reference_record(cfg, build["id"], None, "sha256:L", "m" * 64) is None


def test_push_seals_the_newest_run_that_recorded_metrics(tmp_path, capsys):
    # AL 2: the newest run wrote no metric; sealed in, every verify failed.
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    image = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}

    def write(second: int, metrics: dict) -> str:
        return _write_run(cfg.state_dir, second, image, metrics=metrics).name

    measured = write(1, {"acc": 0.9})
    write(2, {})
    assert _reference_record(cfg, image["id"], None)["run_id"] == measured
    assert capsys.readouterr().err == ""
    only = tmp_path / "only"
    cfg = SimpleNamespace(name="mine", state_dir=only, compare_metrics=())
    bare = write(3, {})
    assert _reference_record(cfg, image["id"], None)["run_id"] == bare
    assert (
        f"run {bare}, the newest succeeded run of this build, recorded no metric"
        in (capsys.readouterr().err)
    )


def test_push_seals_the_newest_run_that_has_every_checked_metric(tmp_path, capsys):
    # brk r45 (BL F2): the newest run had its acc left out (the value held a
    # token); push and export sealed it without a word, and every verify of
    # the image failed on "acc in neither this run nor the reference".
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=("acc", "loss")
    )
    image = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}

    def write(second: int, metrics: dict) -> str:
        return _write_run(cfg.state_dir, second, image, metrics=metrics).name

    whole = write(1, {"acc": 0.9, "loss": 0.5})
    lacking = write(2, {"loss": 0.5})
    assert _reference_record(cfg, image["id"], None)["run_id"] == whole
    assert capsys.readouterr().err == ""
    # With no whole run at all, the newest with metrics, and a warning.
    shutil.rmtree(cfg.state_dir / "runs" / whole)
    assert _reference_record(cfg, image["id"], None)["run_id"] == lacking
    assert capsys.readouterr().err == (
        f"reprobox: warning: run {lacking}, the newest succeeded run of this build "
        "with metrics, lacks acc, which metrics.compare checks: every verify of "
        "this image would fail on it (run again, or give --reference)\n"
    )
    # Given as --reference, it is sealed, and said (brk r46, BM F3).
    given = cfg.state_dir / "runs" / lacking
    assert _reference_record(cfg, image["id"], given)["run_id"] == lacking
    said = capsys.readouterr().err
    assert "given as --reference of this build with metrics, lacks acc" in said
    assert said.endswith("(run again, or give another --reference)\n")


def test_without_a_compare_list_a_run_with_other_metrics_is_no_problem(
    tmp_path, capsys
):
    # brk r46 (BN 4, BM F2): with no metrics.compare, every metric any run
    # recorded was "checked": a newest run of other settings (other metrics)
    # was warned of as failing verify, which passed: verify reruns with the
    # reference's settings, which write the same metrics.
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    image = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    _write_run(cfg.state_dir, 1, image, metrics={"acc": 0.9, "extra": 1.0})
    newest = _write_run(cfg.state_dir, 2, image, metrics={"acc": 0.9, "loss": 0.5})
    assert _reference_record(cfg, image["id"], None)["run_id"] == newest.name
    assert capsys.readouterr().err == ""


def test_push_passes_over_a_run_whose_checked_metric_is_not_finite(tmp_path, capsys):
    # brk r46 (BN 7): run 2's loss was NaN; push sealed it over the healthy
    # run 1, and verify then passed "NaN in both".
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    image = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    healthy = _write_run(cfg.state_dir, 1, image, metrics={"acc": 0.9, "loss": 0.5})
    sick = _write_run(
        cfg.state_dir, 2, image, metrics={"acc": 0.9, "loss": float("nan")}
    )
    assert _reference_record(cfg, image["id"], None)["run_id"] == healthy.name
    assert capsys.readouterr().err == ""
    shutil.rmtree(healthy)
    assert _reference_record(cfg, image["id"], None)["run_id"] == sick.name
    assert capsys.readouterr().err == (
        f"reprobox: warning: run {sick.name}, the newest succeeded run of this "
        "build with metrics, has loss = NaN: every verify of this image would "
        "hold its rerun to that (run again, or give --reference)\n"
    )


def test_export_to_a_dash_is_refused_not_a_file_named_dash(tmp_path, monkeypatch):
    # Round 34 (AR 9): `export -o -` wrote a 299 MB file named "-" in the
    # working folder, where report's -o - means stdout.
    from typer.testing import CliRunner

    from reprobox import engine as engine_module
    from reprobox.cli import app

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine was reached")

    monkeypatch.setattr(engine_module, "connect", no_engine)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "proj").mkdir()
    root = project(tmp_path / "proj")
    result = CliRunner().invoke(app, ["export", str(root), "-o", "-"])
    assert isinstance(result.exception, InputError), result.output
    assert result.exception.message == (
        "--output -: export writes the bundle as a file, not to stdout"
    )
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    ("make", "said", "fix"),
    [
        (
            lambda p: p.mkdir(),
            "'requirements.txt' is a folder; a requirements file is one file",
            'set packages.requirements = "<its file>", or rename it',
        ),
        (
            lambda p: os.mkfifo(p),
            "'requirements.txt' is not a regular file (a FIFO, socket or device)",
            "name a regular file",
        ),
    ],
)
def test_a_default_requirements_txt_that_is_no_file_is_named(tmp_path, make, said, fix):
    # brk r38 (AZ 5): a requirements.txt folder or FIFO read as "no requirements
    # file and no from_env", whose fix set packages.requirements to that path.
    project(tmp_path, "")
    (tmp_path / "requirements.txt").unlink()
    make(tmp_path / "requirements.txt")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.key == "packages (requirements.txt, taken by default)"
    assert str(info.value.message).endswith(said)
    assert info.value.hint == fix


def test_a_requirements_folder_named_in_the_config_is_not_told_to_list_files(
    tmp_path,
):
    project(tmp_path, '[packages]\nrequirements = "reqs"\n')
    (tmp_path / "reqs").mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.key == "packages.requirements"
    assert info.value.hint == "name the file itself"


def test_the_folder_hint_says_when_no_run_of_the_build_is_healthy(tmp_path):
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=("acc",)
    )
    ours = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    _write_run(cfg.state_dir, 1, ours, metrics={"loss": 0.1})  # lacks acc
    newest = _write_run(cfg.state_dir, 2, ours, metrics={"acc": "Infinity"}).name
    runs = cfg.state_dir / "runs"
    with pytest.raises(InputError) as info:
        _reference_record(cfg, ours["id"], runs, "sha256:L")
    assert info.value.hint == (
        f"name one record, e.g. --reference {runs / newest / 'record.json'} (the "
        "newest succeeded run of this build there; none there has every checked "
        "metric present and finite)"
    )


def test_a_refused_reference_offers_the_run_the_default_would_seal(tmp_path):
    # brk r49 (BR 2): "give a succeeded run", with a healthy run of the build
    # at hand in the runs folder.
    from types import SimpleNamespace

    from reprobox.cli_share import _reference_record

    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=("acc",)
    )
    ours = {"id": "sha256:" + "a" * 64, "layers": "sha256:L"}
    healthy = _write_run(cfg.state_dir, 1, ours).name
    failed = _write_run(cfg.state_dir, 2, ours, status="failed", exit_code=3).name
    runs = cfg.state_dir / "runs"
    with pytest.raises(InputError) as info:
        _reference_record(cfg, ours["id"], runs / failed, "sha256:L")
    assert info.value.message.startswith(f"--reference {runs / failed}: that run ")
    assert info.value.hint == (
        f"give --reference {runs / healthy / 'record.json'}, the newest healthy "
        "run of this build, or leave --reference out to seal it"
    )
    other = {"id": "sha256:" + "c" * 64, "layers": "sha256:M"}
    theirs = _write_run(tmp_path / "elsewhere", 3, other).name
    with pytest.raises(InputError) as info:
        _reference_record(
            cfg, ours["id"], tmp_path / "elsewhere" / "runs" / theirs, "sha256:L"
        )
    assert "that run used another image" in info.value.message
    assert info.value.hint.startswith(f"give --reference {runs / healthy}")
    # With no healthy run at hand, the refusal's own fix.
    (runs / healthy / "record.json").unlink()
    (runs / healthy).rmdir()
    with pytest.raises(InputError) as info:
        _reference_record(cfg, ours["id"], runs / failed, "sha256:L")
    assert info.value.hint == "give a succeeded run"
