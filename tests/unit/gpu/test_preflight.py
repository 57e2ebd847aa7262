"""The --gpus preflight: driver probe, CUDA check and remote engines, before a run."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from reprobox.errors import CompatibilityError, InputError
from reprobox.gpu import driver
from reprobox.gpu.devices import parse_gpus_option
from reprobox.gpu.driver import parse_nvidia_smi, probe_host_gpus
from reprobox.gpu.preflight import check_engine_gpus, gpu_preflight, remote_engine

FIXTURES = Path(__file__).parent / "fixtures"
NO_DRIVER = (
    "--gpus all: no NVIDIA driver on this machine (nvidia-smi not found); "
    "run without --gpus or on a GPU host"
)


def manifest(
    cuda: str | None, *, enabled: bool = True, package="tensorflow", version="2.21.0"
) -> dict:
    framework = "torch" if package == "torch" else "tensorflow"
    return {
        "frameworks": {
            framework: {
                "cuda": cuda,
                "cudnn": None,
                "min_driver": None,
                "package": package,
                "version": version,
            },
        },
        "gpu": {
            "base": "python:3.11-slim-bookworm",
            "cuda": cuda,
            "cudnn": None,
            "enabled": enabled,
            "min_driver": None,
        },
    }


def host_from(name: str):
    """Return a probe answering with an nvidia-smi fixture; count its calls."""
    calls = []

    def probe():
        calls.append(name)
        return parse_nvidia_smi((FIXTURES / name).read_text())

    probe.calls = calls
    return probe


def never_probe():
    raise AssertionError("the host was probed")


@pytest.fixture(autouse=True)
def local_engine(monkeypatch):
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("option", [None, "none", "0"])
def test_no_gpus_asked_gives_none_without_probing(option):
    assert gpu_preflight(manifest("12.5"), option, probe=never_probe) is None


def test_machine_without_nvidia_smi_is_refused_with_one_clear_line(monkeypatch):
    def missing(argv, **kwargs):
        assert argv[0] == "nvidia-smi"
        raise FileNotFoundError(2, "No such file or directory", "nvidia-smi")

    monkeypatch.setattr(driver, "run_command", missing)
    with pytest.raises(CompatibilityError) as caught:
        gpu_preflight(manifest("12.5"), "all", probe=probe_host_gpus)
    assert str(caught.value) == NO_DRIVER


def test_driver_not_loaded_is_refused(monkeypatch):
    text = (FIXTURES / "smi_no_driver.txt").read_text()
    monkeypatch.setattr(
        driver,
        "run_command",
        lambda argv, **kw: subprocess.CompletedProcess(argv, 9, text, ""),
    )
    with pytest.raises(CompatibilityError) as caught:
        gpu_preflight(manifest("12.5"), "2", probe=probe_host_gpus)
    message = str(caught.value)
    assert message.startswith("--gpus 2: nvidia-smi cannot reach the NVIDIA driver")
    assert message.endswith("run without --gpus or on a GPU host")


def test_bad_option_is_refused_before_probing():
    with pytest.raises(InputError, match="not a GPU selection"):
        gpu_preflight(manifest("12.5"), "every", probe=never_probe)


def test_native_driver_returns_the_requests():
    probe = host_from("smi_banner_535.txt")  # driver 535.104.05, CUDA 12.2
    result = gpu_preflight(manifest("12.2"), "all", probe=probe)
    assert result == parse_gpus_option("all")
    assert (result.checked, result.mode, result.driver) == (
        True,
        "native",
        "535.104.05",
    )
    assert result.warnings == ()
    assert probe.calls == ["smi_banner_535.txt"]


def test_newer_cuda_runs_through_minor_version_compatibility():
    result = gpu_preflight(
        manifest("12.5"), "all", probe=host_from("smi_banner_535.txt")
    )
    assert result.mode == "minor-version-compatibility"
    assert len(result.warnings) == 1
    assert "driver 535.104.05 supports CUDA up to 12.2" in result.warnings[0]


def test_driver_too_old_for_the_image_is_refused():
    probe = host_from("smi_banner_470.txt")  # driver 470.57.02, CUDA 11.4
    with pytest.raises(CompatibilityError) as caught:
        gpu_preflight(manifest("12.5"), "all", probe=probe)
    message = str(caught.value)
    assert message.startswith("--gpus all: driver 470.57.02 supports CUDA up to 11.4")
    assert "driver ≥ 525.60.13" in message
    assert "an older tensorflow" in message


def test_old_tensorflow_image_runs_on_an_older_driver():
    old = manifest("11.2", version="2.5.2")
    result = gpu_preflight(old, "all", probe=host_from("smi_banner_470.txt"))
    assert result.mode == "native"


@pytest.mark.parametrize(
    "option, problem",
    [("3", "this machine has 2 GPUs"), ("device=0,2", "this machine has no GPU 2")],
)
def test_selection_beyond_the_host_is_refused(option, problem):
    with pytest.raises(CompatibilityError, match=problem):
        gpu_preflight(manifest("12.2"), option, probe=host_from("smi_banner_535.txt"))


def test_unknown_uuid_is_refused_and_known_one_accepted():
    probe = host_from("smi_q.txt")
    known = "device=GPU-5a4e1c2b-9f3d-4e7a-8b1c-0d2e3f4a5b6c"
    assert gpu_preflight(manifest("12.2"), known, probe=probe).checked
    with pytest.raises(CompatibilityError, match="no GPU GPU-0000"):
        gpu_preflight(manifest("12.2"), "device=GPU-00000000-0000", probe=probe)


@pytest.mark.parametrize(
    "package, fix",
    [
        ("tensorflow", "run `reprobox freeze --gpu` first"),
        ("tensorflow-cpu", "pin tensorflow==2.21.0 instead of tensorflow-cpu"),
    ],
)
def test_tensorflow_image_frozen_for_cpu_is_refused(package, fix):
    cpu = manifest(None, enabled=False, package=package)
    with pytest.raises(CompatibilityError) as caught:
        gpu_preflight(cpu, "all", probe=never_probe)
    assert "frozen without GPU support" in str(caught.value)
    assert fix in str(caught.value)


def test_torch_image_frozen_without_gpu_warns_and_still_probes():
    torch = manifest(None, enabled=False, package="torch", version="2.8.0")
    probe = host_from("smi_banner_535.txt")
    result = gpu_preflight(torch, "1", probe=probe)
    assert result.checked and probe.calls
    expected = (
        "--gpus 1: the image was frozen without --gpu, so its CUDA is not checked "
        "against the driver"
    )
    assert result.warnings == (expected,)


@pytest.mark.parametrize(
    "kwargs, shown",
    [
        ({"remote": True}, "given with --host or --context"),
        (
            {"environ": {"DOCKER_HOST": "ssh://me:pw@gpu-box"}},
            "DOCKER_HOST=ssh://***@gpu-box",
        ),
        (
            {"environ": {"DOCKER_HOST": "tcp://10.1.2.3:2376"}},
            "DOCKER_HOST=tcp://10.1.2.3:2376",
        ),
        ({"environ": {"DOCKER_CONTEXT": "gpu-box"}}, "DOCKER_CONTEXT=gpu-box"),
    ],
)
def test_remote_engine_skips_the_probe_and_says_so(kwargs, shown):
    result = gpu_preflight(manifest("12.5"), "all", probe=never_probe, **kwargs)
    assert result == parse_gpus_option("all")
    assert result.checked is False and result.mode is None
    expected = (
        f"--gpus all: the Docker engine ({shown}) may be another machine, so its "
        "NVIDIA driver is not checked before the run"
    )
    assert result.warnings == (expected,)
    assert "pw" not in result.warnings[0]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"DOCKER_CONTEXT": "default"},
        {"DOCKER_HOST": "unix:///run/user/1000/docker.sock"},
    ],
)
def test_local_engines_are_probed(environ):
    assert remote_engine(False, environ) is None
    probe = host_from("smi_csv.txt")
    result = gpu_preflight(manifest("12.4"), "all", probe=probe, environ=environ)
    assert result.checked and probe.calls == ["smi_csv.txt"]


# --- the engine: can it hand GPUs to a container at all? --------------------

RUNC_ONLY = {"io.containerd.runc.v2": "runc", "runc": "runc"}
NO_RUNTIME = (
    "--gpus all: the Docker engine at unix:///run/other/docker.sock has no NVIDIA "
    "container runtime (run without --gpus, or on an engine with the NVIDIA "
    "container runtime: `nvidia-ctk runtime configure --runtime=docker`, then "
    "restart dockerd)"
)
OTHER = SimpleNamespace(host="unix:///run/other/docker.sock")


def no_hook(name, path=None):
    return None


def hook_found(name, path=None):
    assert name == "nvidia-container-runtime-hook"
    assert "/usr/bin" in path.split(":")
    return "/usr/bin/nvidia-container-runtime-hook"


@pytest.mark.parametrize(
    "runtimes",
    [
        {**RUNC_ONLY, "nvidia": "nvidia-container-runtime"},
        {**RUNC_ONLY, "cdi": "/usr/bin/nvidia-container-runtime.cdi"},
    ],
)
def test_an_engine_with_the_nvidia_runtime_serves_gpus(runtimes):
    check_engine_gpus(
        OTHER, "all", local=False, runtimes=lambda e: runtimes, find=no_hook
    )


@pytest.mark.parametrize("local", [False, True])
def test_an_engine_without_the_nvidia_runtime_is_refused_in_one_line(local):
    with pytest.raises(CompatibilityError) as caught:
        check_engine_gpus(
            OTHER, " all ", local=local, runtimes=lambda e: RUNC_ONLY, find=no_hook
        )
    assert str(caught.value) == NO_RUNTIME
    assert caught.value.exit_code == 2


def test_a_local_engine_with_only_the_hook_on_disk_serves_gpus():
    check_engine_gpus(
        OTHER, "all", local=True, runtimes=lambda e: RUNC_ONLY, find=hook_found
    )


def test_a_remote_engine_is_not_judged_by_this_machines_disk():
    with pytest.raises(CompatibilityError):
        check_engine_gpus(
            OTHER, "all", local=False, runtimes=lambda e: RUNC_ONLY, find=hook_found
        )


def test_the_engine_address_is_shown_without_its_password():
    engine = SimpleNamespace(host="ssh://me:pw@gpu-box")
    with pytest.raises(CompatibilityError) as caught:
        check_engine_gpus(engine, "1", local=False, runtimes=lambda e: {}, find=no_hook)
    assert "the Docker engine at ssh://***@gpu-box has no NVIDIA" in str(caught.value)


def test_run_refuses_gpus_on_such_an_engine_before_building(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from reprobox import build, cli_run, engine, manifest
    from reprobox.cli import app

    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    frozen = {"data": [], "gpu": {}, "determinism": {"profile": "default"}}
    monkeypatch.setattr(
        build, "check_frozen_inputs", lambda cfg: SimpleNamespace(manifest=frozen)
    )
    monkeypatch.setattr(manifest, "check_data_unchanged", lambda cfg, m: None)
    monkeypatch.setattr(
        cli_run, "_device_requests", lambda *a, **k: parse_gpus_option("all")
    )
    info = {"Runtimes": {"runc": {"path": "runc"}}}
    other = SimpleNamespace(
        host="unix:///run/other/docker.sock",
        client=SimpleNamespace(info=lambda: info),
    )
    monkeypatch.setattr(engine, "connect", lambda host=None, context=None: other)
    monkeypatch.setattr(cli_run, "_build", lambda *a, **k: pytest.fail("built"))
    monkeypatch.setattr(cli_run, "tidy_killed_runs", lambda *a: pytest.fail("tidied"))

    result = CliRunner().invoke(
        app, ["run", str(tmp_path), "--gpus", "all", "--host", other.host]
    )
    assert isinstance(result.exception, CompatibilityError), result.output
    assert str(result.exception) == NO_RUNTIME
    assert result.exception.exit_code == 2
    assert not (tmp_path / ".reprobox" / "runs").exists()


def test_a_gpu_start_refused_by_the_engine_after_all_is_the_users_to_fix():
    import docker.errors

    from reprobox.engine import ContainerSpec, start_container

    removed = []
    response = SimpleNamespace(status_code=500, reason="", url="http://x")

    class Created:
        id = "c" * 64

        def start(self):
            raise docker.errors.APIError(
                "500",
                response=response,
                explanation='could not select device driver "" with '
                "capabilities: [[gpu]]",
            )

        def remove(self, force):
            removed.append(force)

    client = SimpleNamespace(containers=SimpleNamespace(create=lambda **k: Created()))
    spec = ContainerSpec(
        image="sha256:" + "1" * 64,
        command=["true"],
        env={},
        labels={},
        user="1000",
        mounts=[],
        device_requests=parse_gpus_option("all"),
    )
    with pytest.raises(InputError) as caught:
        start_container(SimpleNamespace(client=client, host=OTHER.host), spec)
    assert caught.value.message == (
        "the Docker engine at unix:///run/other/docker.sock cannot give containers "
        'GPUs: could not select device driver "" with capabilities: [[gpu]]'
    )
    assert caught.value.exit_code == 2
    assert removed == [True]
