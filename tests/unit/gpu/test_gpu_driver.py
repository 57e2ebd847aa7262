"""nvidia-smi parsing in its real layouts, and the driver check."""

import subprocess
from pathlib import Path

import pytest

from reprobox.errors import CompatibilityError, InputError
from reprobox.gpu import driver
from reprobox.gpu.driver import (
    check_driver,
    compat_library_path_allowed,
    parse_nvidia_smi,
    parse_nvidia_smi_csv,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(name):
    return (FIXTURES / name).read_text()


def test_banner_535():
    host = parse_nvidia_smi(_fixture("smi_banner_535.txt"))
    assert (host.driver, host.cuda) == ("535.104.05", "12.2")
    assert [(g.index, g.name, g.memory_total_mib) for g in host.gpus] == [
        (0, "NVIDIA A100-SXM4-40GB", 40960),
        (1, "NVIDIA A100-SXM4-40GB", 40960),
    ]


def test_banner_470():
    host = parse_nvidia_smi(_fixture("smi_banner_470.txt"))
    assert (host.driver, host.cuda) == ("470.57.02", "11.4")
    assert [(g.name, g.memory_total_mib) for g in host.gpus] == [("Tesla T4", 15109)]


def test_csv_query():
    host = parse_nvidia_smi(_fixture("smi_csv.txt"))
    assert host.driver == "550.54.15" and host.cuda is None
    assert [
        (g.index, g.name, g.memory_total_mib, g.compute_cap) for g in host.gpus
    ] == [
        (0, "NVIDIA H100 80GB HBM3", 81559, "9.0"),
        (1, "NVIDIA H100 80GB HBM3", 81559, "9.0"),
    ]


def test_csv_with_header_and_nounits():
    text = "name, driver_version, memory.total [MiB], compute_cap\nTesla T4, 470.57.02, 15360, 7.5\n"
    host = parse_nvidia_smi_csv(text)
    assert (host.gpus[0].memory_total_mib, host.gpus[0].compute_cap) == (15360, "7.5")


def test_csv_with_wrong_field_count_is_refused():
    with pytest.raises(InputError, match="has 2 fields, expected 4"):
        parse_nvidia_smi_csv("Tesla T4, 470.57.02\n")


def test_query_report():
    host = parse_nvidia_smi(_fixture("smi_q.txt"))
    assert (host.driver, host.cuda) == ("535.104.05", "12.2")
    gpu = host.gpus[0]
    assert (gpu.name, gpu.memory_total_mib) == ("Tesla T4", 15360)  # not BAR1's 256
    assert gpu.uuid == "GPU-5a4e1c2b-9f3d-4e7a-8b1c-0d2e3f4a5b6c"


@pytest.mark.parametrize(
    "name,words",
    [
        ("smi_no_driver.txt", "cannot reach the NVIDIA driver"),
        ("smi_not_found.txt", "nvidia-smi not found"),
    ],
)
def test_no_driver_outputs(name, words):
    with pytest.raises(CompatibilityError) as err:
        parse_nvidia_smi(_fixture(name))
    assert words in str(err.value)
    assert "NVIDIA Container Toolkit" in str(err.value)


def test_probe_without_nvidia_smi(monkeypatch):
    def missing(argv, **kwargs):
        raise FileNotFoundError(argv[0])

    monkeypatch.setattr(driver, "run_command", missing)
    with pytest.raises(CompatibilityError, match="nvidia-smi not found"):
        driver.probe_host_gpus()


def test_probe_with_unloaded_driver(monkeypatch):
    def failing(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 9, _fixture("smi_no_driver.txt"), "")

    monkeypatch.setattr(driver, "run_command", failing)
    with pytest.raises(CompatibilityError, match="not loaded"):
        driver.probe_host_gpus()


def test_probe_reads_the_query_report(monkeypatch):
    calls = []

    def ok(argv, **kwargs):
        calls.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, _fixture("smi_q.txt"), "")

    monkeypatch.setattr(driver, "run_command", ok)
    host = driver.probe_host_gpus()
    assert calls == [["nvidia-smi", "-q"]]
    assert host.gpus[0].name == "Tesla T4"


def test_too_old_driver_is_refused_naming_both():
    with pytest.raises(CompatibilityError) as err:
        check_driver("470.57", "11.4", "12.5", framework="TensorFlow")
    assert str(err.value) == (
        "driver 470.57 supports CUDA up to 11.4; the image needs CUDA 12.5, which "
        "needs driver ≥ 525.60.13; upgrade the driver or pin an older TensorFlow"
    )


def test_max_cuda_is_derived_from_the_driver_when_not_given():
    with pytest.raises(CompatibilityError, match="supports CUDA up to 11.4"):
        check_driver("470.57", None, "12.5")


def test_new_enough_driver_runs_natively():
    assert check_driver("535.104.05", "12.2", "12.2").mode == "native"
    assert check_driver("550.54.15", None, "11.8").mode == "native"


def test_same_major_older_driver_uses_minor_version_compatibility():
    result = check_driver("525.85.12", "12.0", "12.5")
    assert result.mode == "minor-version-compatibility"
    assert "12.0" in result.note and "12.5" in result.note


def test_cuda_11_image_on_a_460_driver_is_fine_but_cuda_12_is_not():
    assert (
        check_driver("460.32.03", "11.2", "11.8").mode == "minor-version-compatibility"
    )
    with pytest.raises(CompatibilityError, match="525.60.13"):
        check_driver("460.32.03", "11.2", "12.1")


@pytest.mark.parametrize(
    "host,image,allowed",
    [
        ("12.2", "12.5", True),
        ("11.4", "12.2", True),
        ("12.5", "12.5", False),
        ("12.6", "12.2", False),
        ("13.0", "12.8", False),
        (None, "12.2", False),
    ],
)
def test_compat_libraries_only_under_an_older_driver(host, image, allowed):
    assert compat_library_path_allowed(host, image) is allowed
