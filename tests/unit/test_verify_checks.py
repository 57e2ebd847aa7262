"""What verify checks before any container starts: labels, reference, settings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from reprobox import verify
from reprobox.cli import app
from reprobox.compare import RECORD_SCHEMA_VERSION
from reprobox.errors import CompatibilityError, InputError
from reprobox.gpu.preflight import GpuRequests
from reprobox.manifest import SCHEMA_VERSION, check_manifest
from reprobox.seals import seal_manifest, seal_record
from reprobox.share import MANIFEST_LABEL, REFERENCE_LABEL

IMAGE = "reprobox/digits:0123456789abcdef"
LAYERS = "sha256:" + "1" * 64


def manifest(**changes) -> dict:
    data = {
        "schema_version": SCHEMA_VERSION,
        "project": {"name": "digits", "command": ["python", "train.py"]},
        "packages": {"lock_sha256": hashlib.sha256(b"").hexdigest()},
        "python": "3.11",
        "base_image": {"ref": "reprobox-base:bookworm-py3.11"},
        "environment": {},
        "data": [],
        "determinism": {"profile": "default"},
        "metrics": {"compare": ["test_accuracy"], "tolerances": {}},
    }
    data.update(changes)
    return data


def labels_for(data: dict, reference: dict | None = None, sha: str | None = None):
    text = json.dumps(seal_manifest(data), sort_keys=True)
    labels = {
        MANIFEST_LABEL: text,
        "org.reprobox.manifest-sha256": sha
        or hashlib.sha256(text.encode()).hexdigest(),
        "org.reprobox.lock": "",
    }
    if reference is not None:
        labels[REFERENCE_LABEL] = json.dumps(seal_record(reference))
    return labels


def reference_record(**changes) -> dict:
    data = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "run_id": "20240101T000000Z-abcdef",
        "status": "succeeded",
        "exit_code": 0,
        "started_at": "2024-01-01T00:00:00+00:00",
        "project": "digits",
        "seed": 42,
        "metrics": {"test_accuracy": 0.97},
        "image": {"id": "sha256:" + "1" * 64, "layers": LAYERS},
        "options": {},
    }
    data.update(changes)
    return data


@pytest.fixture
def image(monkeypatch, tmp_path):
    """An image on a fake engine; a rerun is recorded, never started."""
    state = {"labels": labels_for(manifest(), reference_record()), "runs": []}
    monkeypatch.setattr(verify, "image_id", lambda engine, ref: "sha256:" + "1" * 64)
    monkeypatch.setattr(verify, "labels_of", lambda *a, **k: state["labels"])
    monkeypatch.setattr(verify, "image_layers_digest", lambda engine, ref: LAYERS)

    def fake_run(target, engine, **kwargs):
        state["runs"].append(kwargs["opts"])
        return {"status": "failed", "error": {"message": "stopped by the test"}}

    monkeypatch.setattr(verify, "run_in_container", fake_run)
    return state


def verify_error(state, tmp_path, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        verify.verify_image(object(), IMAGE, runs_dir=tmp_path / "v", **kwargs)
    assert state["runs"] == [], "a container started before the refusal"
    assert "\n" not in str(info.value)
    return info.value


# --- F19: the manifest label is checked like a manifest on disk -------------


def test_a_sane_image_reaches_the_rerun(image, tmp_path):
    result = verify.verify_image(object(), IMAGE, runs_dir=tmp_path / "v")
    assert result.problems == ["the rerun failed: stopped by the test"]
    assert len(image["runs"]) == 1


def test_metrics_compare_as_a_string_is_refused_before_the_rerun(image, tmp_path):
    # brkc F19: "test_accuracy" was compared as metrics t, e, s, _, a, ...
    bad = manifest(metrics={"compare": "test_accuracy"})
    image["labels"] = labels_for(bad, reference_record())
    error = verify_error(image, tmp_path)
    assert error.message == (
        f"image {IMAGE}: label {MANIFEST_LABEL}: manifest field 'metrics.compare' "
        "is damaged (not a list of strings)"
    )


def test_a_negative_tolerance_is_refused_before_the_rerun(image, tmp_path):
    # brkc F19b: it trained the whole rerun, then named neither image nor metric.
    bad = manifest(
        metrics={"compare": [], "tolerances": {"test_accuracy": {"abs": -1}}}
    )
    image["labels"] = labels_for(bad, reference_record())
    error = verify_error(image, tmp_path)
    assert error.message.startswith(f"image {IMAGE}: label {MANIFEST_LABEL}: ")
    assert "metrics.tolerances.test_accuracy.abs is -1" in error.message
    assert not (tmp_path / "v").exists()  # no record left without a verdict


def test_a_manifest_label_edited_after_the_build_is_refused(image, tmp_path):
    labels = labels_for(manifest(), reference_record())
    edited = manifest(python="3.12")
    labels[MANIFEST_LABEL] = json.dumps(seal_manifest(edited), sort_keys=True)
    image["labels"] = labels
    error = verify_error(image, tmp_path)
    assert error.message.startswith(
        f"image {IMAGE}: label {MANIFEST_LABEL} does not match label "
        "org.reprobox.manifest-sha256"
    )


def test_a_manifest_label_without_its_sha256_label_is_refused(image, tmp_path):
    del image["labels"]["org.reprobox.manifest-sha256"]
    error = verify_error(image, tmp_path)
    assert "org.reprobox.manifest-sha256 is missing" in error.message


def test_build_refuses_damaged_metrics_in_a_manifest_too():
    with pytest.raises(InputError, match="'metrics.compare' is damaged"):
        check_manifest(Path("manifest.json"), manifest(metrics={"compare": "x"}))
    with pytest.raises(InputError, match=r"metrics.tolerances.x.rel is 'NaN'"):
        check_manifest(
            Path("manifest.json"),
            manifest(metrics={"tolerances": {"x": {"rel": "NaN"}}}),
        )


# --- F2: the reference record's shape is checked before it is read ----------


@pytest.mark.parametrize(
    "change, words",
    [
        ({"image": "weird"}, "image must be a JSON object"),
        ({"options": ["x"]}, "options must be a JSON object"),
        (
            {"status": "failed", "exit_code": 1},
            "that run failed, so its numbers are no reference",
        ),
    ],
)
def test_a_damaged_reference_label_is_one_error_naming_it(
    image, tmp_path, change, words
):
    image["labels"] = labels_for(manifest(), reference_record(**change))
    error = verify_error(image, tmp_path)
    assert error.message.startswith(f"image {IMAGE}: label {REFERENCE_LABEL}: ")
    assert words in error.message


def test_an_edited_reference_label_says_fetch_the_image_again(image, tmp_path):
    # bt 3: the fix said "rerun it, or move the record out of the runs folder".
    labels = labels_for(manifest(), reference_record())
    sealed = json.loads(labels[REFERENCE_LABEL])
    sealed["metrics"]["test_accuracy"] = 0.99
    labels[REFERENCE_LABEL] = json.dumps(sealed)
    image["labels"] = labels
    error = verify_error(image, tmp_path)
    assert error.message.startswith(
        f"image {IMAGE}: label {REFERENCE_LABEL}: run record was edited after "
        "reprobox wrote it"
    )
    assert error.hint == (
        "pull or import the image again from whoever shared it, or pass "
        "--reference with the record of its reference run"
    )


def test_a_given_reference_is_named_as_given(image, tmp_path):
    error = verify_error(
        image,
        tmp_path,
        reference=seal_record(reference_record(status="interrupted")),
        reference_name="--reference r.json",
    )
    assert error.message.startswith("--reference r.json: that run was interrupted")


def test_a_reference_of_another_project_is_refused_as_push_does(image, tmp_path):
    # brk: it reran and failed as "layers differ" (exit 1); push said exit 2.
    error = verify_error(
        image,
        tmp_path,
        reference=seal_record(
            reference_record(project="other", image={"layers": "sha256:9"})
        ),
        reference_name="--reference r.json",
    )
    assert error.exit_code == 2
    assert error.message == "--reference r.json: a run of project 'other', not 'digits'"
    assert error.hint == (
        f"give a record of a run of {IMAGE}'s project, or leave --reference out "
        "to use the one it carries"
    )


def test_a_reference_under_another_manifest_is_refused_as_push_does(image, tmp_path):
    # AN 3: a record of a seed-8 refreeze (the same layers) was taken for the
    # seed-7 image: the rerun took seed 8 and said "verified".
    frozen = image["labels"]["org.reprobox.manifest-sha256"]
    other = "f" * 64
    error = verify_error(
        image,
        tmp_path,
        reference=seal_record(reference_record(manifest_sha256=other, seed=8)),
        reference_name="--reference r.json",
    )
    assert error.exit_code == 2
    assert error.message == (
        f"--reference r.json: a run under another manifest (ffffffffffff, not "
        f"{IMAGE}'s {frozen[:12]}): frozen with another seed, tolerances or "
        "settings on the same layers"
    )
    # A run under the image's own manifest reaches the rerun.
    result = verify.verify_image(
        object(),
        IMAGE,
        runs_dir=tmp_path / "v",
        reference=seal_record(reference_record(manifest_sha256=frozen)),
        reference_name="--reference r.json",
    )
    assert image["runs"] and result.image == IMAGE


# --- the reference's resources: --memory and GPUs are reapplied -------------


def test_the_reference_memory_limit_and_gpu_count_are_reapplied():
    opts = verify.reference_options(
        {"options": {"memory": "4g", "gpus": "device=0,3", "cpus": 2}}, "img:1"
    )
    assert (opts.memory, opts.gpus, opts.cpus) == ("4g", "2", 2.0)
    assert verify.reference_options({"options": {"gpus": "all"}}, "i").gpus == "all"
    assert verify.reference_options({"options": {"gpus": None}}, "i").gpus is None


@pytest.mark.parametrize(
    "options, field",
    [
        ({"memory": "lots"}, "options.memory"),
        ({"memory": 4}, "options.memory"),
        ({"memory": "1k"}, "options.memory"),  # below what Docker accepts
        ({"gpus": "device=0;rm"}, "options.gpus"),
        ({"gpus": 2}, "options.gpus"),
    ],
)
def test_odd_resource_settings_in_a_reference_are_refused(options, field):
    with pytest.raises(InputError) as info:
        verify.reference_options({"options": options}, "img:1")
    assert f"reference record field {field} is" in info.value.message


def test_a_gpu_reference_reruns_on_as_many_gpus(image, tmp_path, monkeypatch):
    asked = []

    def preflight(manifest, gpus, *, remote=False, **kw):
        asked.append((gpus, remote))
        return GpuRequests(["req"], checked=True, warnings=["driver note"])

    monkeypatch.setattr("reprobox.gpu.preflight.gpu_preflight", preflight)
    gpu_engine = SimpleNamespace(
        host="tcp://gpu-box:2376",
        client=SimpleNamespace(
            info=lambda: {"Runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}}
        ),
    )
    ref = reference_record(options={"gpus": "device=GPU-0123456789ab"})
    image["labels"] = labels_for(manifest(), ref)
    logged = []
    verify.verify_image(
        gpu_engine,
        IMAGE,
        runs_dir=tmp_path / "v",
        remote=True,
        on_warning=logged.append,
    )
    assert asked == [("1", True)]
    assert image["runs"][0].device_requests == ["req"]
    assert image["runs"][0].gpus == "1"
    assert logged == ["driver note"]


def test_a_gpu_reference_on_a_machine_without_gpus_is_refused_first(
    image, tmp_path, monkeypatch
):
    def preflight(manifest, gpus, **kw):
        raise CompatibilityError(
            "--gpus all: no NVIDIA driver on this machine (nvidia-smi not found); "
            "run without --gpus or on a GPU host"
        )

    monkeypatch.setattr("reprobox.gpu.preflight.gpu_preflight", preflight)
    image["labels"] = labels_for(manifest(), reference_record(options={"gpus": "all"}))
    with pytest.raises(CompatibilityError) as info:
        verify.verify_image(object(), IMAGE, runs_dir=tmp_path / "v")
    assert image["runs"] == []
    assert info.value.message.startswith(
        f"image {IMAGE}: its reference run used GPUs and the rerun asks for as many"
    )
    assert "run without --gpus" not in info.value.message


def test_a_gpu_reference_on_an_engine_without_the_nvidia_runtime_is_refused(
    image, tmp_path, monkeypatch
):
    monkeypatch.setattr(
        "reprobox.gpu.preflight.gpu_preflight",
        lambda manifest, gpus, **kw: GpuRequests(["req"], checked=False),
    )
    runc_only = SimpleNamespace(
        host="tcp://cpu-box:2376",
        client=SimpleNamespace(info=lambda: {"Runtimes": {"runc": {"path": "runc"}}}),
    )
    image["labels"] = labels_for(manifest(), reference_record(options={"gpus": "all"}))
    with pytest.raises(CompatibilityError) as info:
        verify.verify_image(runc_only, IMAGE, runs_dir=tmp_path / "v", remote=True)
    assert image["runs"] == []
    assert info.value.message == (
        f"image {IMAGE}: its reference run used GPUs and the rerun asks for as many "
        "(--gpus all: the Docker engine at tcp://cpu-box:2376 has no NVIDIA "
        "container runtime)"
    )
    assert info.value.hint == "verify it on an engine with the NVIDIA container runtime"


# --- the command: --reference and the default runs folder -------------------


def write_run(folder: Path, run_id: str, seed: int, **changes) -> Path:
    path = folder / run_id / "record.json"
    path.parent.mkdir(parents=True)
    record = reference_record(run_id=run_id, seed=seed, **changes)
    path.write_text(json.dumps(seal_record(record)))
    return path


LABELS = labels_for(manifest())
MANIFEST_SHA = LABELS["org.reprobox.manifest-sha256"]


def several_runs(runs: Path) -> tuple[Path, Path, Path]:
    """Write a healthy run of IMAGE's build, then one of it whose checked
    metric is NaN, then a newer one of another build."""
    of_image = write_run(
        runs, "20240101T000000Z-aaaaaa", 0, manifest_sha256=MANIFEST_SHA
    )
    nan = write_run(
        runs,
        "20240101T000001Z-cccccc",
        1,
        manifest_sha256=MANIFEST_SHA,
        metrics={"test_accuracy": "NaN"},
    )
    other = write_run(
        runs,
        "20240101T000002Z-bbbbbb",
        2,
        manifest_sha256=MANIFEST_SHA,
        image={"id": "sha256:" + "2" * 64, "layers": "sha256:" + "2" * 64},
    )
    return of_image, nan, other


def refused_folder(runs: Path) -> InputError:
    result = CliRunner().invoke(app, ["verify", IMAGE, "--reference", str(runs)])
    assert isinstance(result.exception, InputError), result.output
    assert result.exception.message == (
        f"--reference {runs} holds 3 run records; verify compares with one"
    )
    return result.exception


def test_a_reference_folder_of_several_runs_asks_for_one_of_the_image(
    tmp_path, monkeypatch
):
    # brkc F18: the newest record (a sweep's seed 2) was taken silently.
    # BO (r47): the hint then named the newest succeeded run there, which was
    # a run of another build, that verify refuses as --reference.
    # BQ (r48): it then named a run of the image whose checked metric was NaN.
    runs = tmp_path / "runs"
    of_image, nan, other = several_runs(runs)
    asked = []
    engine = SimpleNamespace(host="unix:///fake.sock")
    monkeypatch.setattr("reprobox.engine.connect", lambda *a: asked.append(a) or engine)
    monkeypatch.setattr("reprobox.engine.image_id", lambda e, ref: "sha256:" + "1" * 64)
    monkeypatch.setattr("reprobox.engine.image_layers_digest", lambda e, ref: LAYERS)
    monkeypatch.setattr(
        "reprobox.share.labels_of",
        lambda e, ref, shown=None: LABELS,
    )
    error = refused_folder(runs)
    assert error.hint == (
        f"name one record, e.g. --reference {of_image} (the newest succeeded "
        f"run of {IMAGE} there with every checked metric present and finite)"
    )
    assert str(other) not in error.hint and str(nan) not in error.hint
    assert len(asked) == 1


def test_a_reference_folder_hint_names_no_run_the_engine_cannot_judge(
    tmp_path, monkeypatch
):
    from reprobox.errors import EngineError

    runs = tmp_path / "runs"
    several_runs(runs)

    def unreachable(*args):
        raise EngineError("cannot reach the Docker engine")

    monkeypatch.setattr("reprobox.engine.connect", unreachable)
    error = refused_folder(runs)
    assert error.hint == f"name one run's record.json of a run of {IMAGE}"


def test_a_reference_run_folder_is_its_one_record(tmp_path, monkeypatch):
    from reprobox.cli_share import _verify_reference

    path = write_run(tmp_path / "runs", "20240101T000000Z-aaaaaa", 0)
    # One record needs no engine to pick it.
    monkeypatch.setattr("reprobox.engine.connect", lambda *a: pytest.fail("asked"))
    found = _verify_reference(path.parent, IMAGE, None, None)
    assert found["run_id"] == "20240101T000000Z-aaaaaa"


def test_the_default_runs_folder_stays_out_of_a_project_image(tmp_path, monkeypatch):
    # newu: ./reprobox-verify inside a project went into its image.
    from reprobox.cli_share import _verify_runs_dir

    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "reprobox.toml").write_text('command = "python t.py"\n')
    monkeypatch.chdir(project / "src")
    assert _verify_runs_dir() == Path("../.reprobox/verify")
    monkeypatch.chdir(tmp_path)
    assert _verify_runs_dir() == Path("reprobox-verify")


def test_verify_help_names_the_default_runs_folder():
    result = CliRunner().invoke(app, ["verify", "--help"], terminal_width=200)
    assert ".reprobox/verify/" in result.output
    assert "reprobox-verify" in result.output


# --- values the reference's record hides (***) are given again with --env ----


def hiding_reference(image_state, **env):
    image_state["labels"] = labels_for(
        manifest(), reference_record(options={"env": {"SEEN": "1", **env}})
    )


def test_a_hidden_value_given_again_reaches_the_rerun(image, tmp_path):
    hiding_reference(image, WANDB_API_KEY="***")
    verify.verify_image(
        object(),
        IMAGE,
        runs_dir=tmp_path / "v",
        hidden_env={"WANDB_API_KEY": "k-123"},
    )
    [opts] = image["runs"]
    assert opts.extra_env == {"SEEN": "1", "WANDB_API_KEY": "k-123"}


def test_a_hidden_value_not_given_is_warned_of(image, tmp_path):
    hiding_reference(image, WANDB_API_KEY="***")
    said = []
    verify.verify_image(
        object(), IMAGE, runs_dir=tmp_path / "v", on_warning=said.append
    )
    [opts] = image["runs"]
    assert opts.extra_env == {"SEEN": "1"}
    assert said == [
        "the reference ran with WANDB_API_KEY set, its value hidden in the "
        "record; this rerun runs without it (give it with --env WANDB_API_KEY)"
    ]


def test_each_hidden_value_not_given_is_named_in_the_flags_to_give(image, tmp_path):
    # Breaker: three hidden values, and the warning said to give the first only.
    hiding_reference(image, DB_URL="***", API_TOKEN="***", X="***", HF_TOKEN="***")
    said = []
    verify.verify_image(
        object(),
        IMAGE,
        runs_dir=tmp_path / "v",
        hidden_env={"HF_TOKEN": "h-1"},
        on_warning=said.append,
    )
    [opts] = image["runs"]
    assert opts.extra_env == {"SEEN": "1", "HF_TOKEN": "h-1"}
    assert said == [
        "the reference ran with API_TOKEN, DB_URL, X set, their values hidden in "
        "the record; this rerun runs without them (give them with --env "
        "API_TOKEN --env DB_URL --env X)"
    ]


@pytest.mark.parametrize("name", ["SEEN", "OTHER"])
def test_env_for_a_value_the_reference_does_not_hide_is_refused(image, tmp_path, name):
    hiding_reference(image, WANDB_API_KEY="***")
    error = verify_error(image, tmp_path, hidden_env={name: "x"})
    assert error.message.startswith(f"--env {name}: the reference run of {IMAGE}")
    assert error.hint.endswith(": WANDB_API_KEY")


def test_an_image_never_sealed_is_told_to_run_first(image, tmp_path, monkeypatch):
    # bs F2: push of a build with no succeeded run seals nothing, and verify
    # then said "`reprobox push` or `reprobox export` seal one in".
    image["labels"] = labels_for(manifest())
    monkeypatch.setattr(verify, "sealed_copy", lambda *a: None)
    error = verify_error(image, tmp_path)
    assert error.message == f"image {IMAGE} carries no reference run record"
    assert error.hint == (
        "run it with `reprobox run` first: `reprobox push` or `reprobox export` "
        "then seal that run in; one sealed on another engine is verified by "
        "the published ref its manifest lists (`...@sha256:...`) or after "
        "importing its bundle; or pass --reference"
    )


@pytest.mark.parametrize(
    ("status", "exit_code", "said"),
    [
        ("failed", 1, "that run failed, so"),
        ("interrupted", None, "that run was interrupted, so"),
        (
            "running",
            None,
            "that run never finished (its record still says running), so",
        ),
    ],
)
def test_a_reference_that_did_not_succeed_is_said_in_words(status, exit_code, said):
    # AP: "that run interrupted (give a succeeded run)" read as broken English.
    from reprobox.verify import check_reference

    record = reference_record(status=status, exit_code=exit_code)
    with pytest.raises(InputError) as info:
        check_reference(seal_record(record), "r.json")
    assert said in info.value.message


def test_a_reference_of_another_build_is_refused_before_any_rerun(image, tmp_path):
    # AZ 8: a run of the project's previous build (other layers) was taken,
    # then verify said "problem: the image's layers differ", NOT verified,
    # exit 1, where no container had run: a wrong file, as push says.
    other = "sha256:" + "9" * 64
    error = verify_error(
        image,
        tmp_path,
        reference=seal_record(
            reference_record(image={"id": "sha256:" + "8" * 64, "layers": other})
        ),
        reference_name="--reference r.json",
    )
    assert error.exit_code == 2
    assert error.message == (
        f"--reference r.json: a run of another build (layers 999999999999, not "
        f"{IMAGE}'s 111111111111)"
    )
    assert error.hint == (
        f"give a record of a run of {IMAGE}, or leave --reference out to use the "
        "one it carries"
    )
    assert image["runs"] == []


def test_an_image_carrying_no_reference_is_not_told_to_use_its_own(
    image, tmp_path, monkeypatch
):
    # BQ (r48): the refusal said "or leave --reference out to use the one it
    # carries" of an unsealed image; leaving it out then asked for one.
    image["labels"] = labels_for(manifest())
    monkeypatch.setattr(verify, "sealed_copy", lambda engine, image, found: None)
    error = verify_error(
        image,
        tmp_path,
        reference=seal_record(reference_record(image={"layers": "sha256:" + "9" * 64})),
        reference_name="--reference r.json",
    )
    assert error.hint == (
        f"give a record of a run of {IMAGE} (it carries none of its own: "
        "`reprobox run` it, then `reprobox push` or `export` seals that run in)"
    )
    assert image["runs"] == []


def test_another_builds_reference_is_named_before_its_manifest(image, tmp_path):
    # The manifest's refusal says "on the same layers": with other layers too,
    # the build is what differs.
    error = verify_error(
        image,
        tmp_path,
        reference=seal_record(
            reference_record(
                image={"layers": "sha256:" + "9" * 64}, manifest_sha256="f" * 64
            )
        ),
        reference_name="--reference r.json",
    )
    assert "a run of another build" in error.message


def test_the_sealed_reference_on_other_layers_is_a_failed_check(image, tmp_path):
    # The image's own reference says which layers were shared: other layers
    # are an image changed since, which verify reports, NOT verified.
    image["labels"] = labels_for(
        manifest(), reference_record(image={"layers": "sha256:" + "9" * 64})
    )
    result = verify.verify_image(object(), IMAGE, runs_dir=tmp_path / "v")
    assert result.problems == [
        f"the image's layers differ from the reference run's ({LAYERS} vs "
        f"sha256:{'9' * 64})"
    ]
    assert not result.passed and image["runs"] == []


def test_a_given_reference_with_a_nan_metric_is_warned_of(tmp_path, capsys):
    # brk r48 (BP 2): verify took it without a word, where push and export
    # warn that every verify would hold its rerun to that.
    from reprobox.cli_share import _verify_reference

    path = write_run(
        tmp_path / "runs",
        "20240101T000000Z-aaaaaa",
        0,
        metrics={"test_accuracy": "NaN", "loss": 0.5},
    )
    assert _verify_reference(path, IMAGE, None, None)["seed"] == 0
    assert capsys.readouterr().err == (
        f"reprobox: warning: --reference {path}: run 20240101T000000Z-aaaaaa has "
        "test_accuracy = NaN: this rerun is held to that (give another "
        "--reference)\n"
    )
    healthy = write_run(tmp_path / "ok", "20240101T000001Z-bbbbbb", 1)
    _verify_reference(healthy, IMAGE, None, None)
    assert capsys.readouterr().err == ""


def test_verify_takes_e_for_env_as_run_does():
    # brk r49 (BS 5): `verify -e NAME` was "no such option", while run's -e
    # works; both are described as --env.
    from typer.main import get_command

    verify_command = get_command(app).commands["verify"]
    [env] = [p for p in verify_command.params if p.name == "env"]
    [run_env] = [p for p in get_command(app).commands["run"].params if p.name == "env"]
    assert sorted(env.opts) == sorted(run_env.opts) == ["--env", "-e"]


def test_an_unsealed_image_is_offered_a_run_of_it_in_the_project(
    image, tmp_path, monkeypatch
):
    # brk r49 (BR 2): "carries no reference run record (run it with
    # `reprobox run` first ...)", with a healthy run of it at hand.
    image["labels"] = LABELS
    monkeypatch.setattr(verify, "sealed_copy", lambda engine, image, found: None)
    runs = tmp_path / "proj" / ".reprobox" / "runs"
    healthy = write_run(
        runs, "20240101T000000Z-aaaaaa", 0, manifest_sha256=MANIFEST_SHA
    )
    write_run(  # newer, but NaN: not offered
        runs,
        "20240101T000001Z-bbbbbb",
        1,
        manifest_sha256=MANIFEST_SHA,
        metrics={"test_accuracy": "NaN"},
    )
    error = verify_error(image, tmp_path, project_runs=runs)
    assert error.message == f"image {IMAGE} carries no reference run record"
    assert error.hint == (
        f"give --reference {healthy}, a run of it in this project (`reprobox "
        "push` or `export` seals one in)"
    )
    # Outside a project, or with no run of it: the general fix.
    assert verify_error(image, tmp_path).hint.startswith("run it with `reprobox run`")


def test_a_failed_reference_of_another_project_is_refused_for_its_project(
    image, tmp_path
):
    # brk r50 (BT 4): it was told to be a run that succeeded; given one, it
    # was refused again for its project. Push names the project first.
    error = verify_error(
        image,
        tmp_path,
        reference=seal_record(
            reference_record(project="other", status="failed", exit_code=3)
        ),
        reference_name="--reference r.json",
    )
    assert error.message == "--reference r.json: a run of project 'other', not 'digits'"
