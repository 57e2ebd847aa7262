"""Choosing CUDA/cuDNN for the image and refusing mismatches before building."""

import pytest

from reprobox.errors import CompatibilityError
from reprobox.gpu.plan import cuda_of_image, cudnn_fits, plan_gpu_image

OLD_BASE = "nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04"
FIT_BASE = "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04"


def test_cudnn_mismatch_case_is_refused_naming_both_versions_and_the_fitting_base():
    # /work/shared/cases/run/cudnn-mismatch.md
    with pytest.raises(CompatibilityError) as err:
        plan_gpu_image({"tensorflow": "2.5.2"}, OLD_BASE, None, "3.8")
    message = str(err.value)
    assert "8.1" in message and "8.0.5" in message
    assert FIT_BASE in message


def test_given_cudnn_overrides_the_table_and_is_checked():
    with pytest.raises(CompatibilityError, match="cuDNN 8.0.5"):
        plan_gpu_image({"tensorflow": "2.5.2"}, "my/cuda:custom", "8.0.5", "3.8")
    plan = plan_gpu_image({"tensorflow": "2.5.2"}, "my/cuda:custom", "8.1.1", "3.8")
    assert plan.base_image == "my/cuda:custom" and plan.base_cudnn == "8.1.1"


@pytest.mark.parametrize(
    "have,need,fits",
    [
        ("8.0.5", "8.1", False),
        ("8.1.1.33", "8.1", True),
        ("8.9.6.50", "8.6", True),
        ("9.3.0", "8.9", False),
        ("8.9", "9.3", False),
        ("9.2.1.18", "9.3", False),
    ],
)
def test_cudnn_rule_same_major_equal_or_newer_minor(have, need, fits):
    assert cudnn_fits(have, need) is fits


@pytest.mark.parametrize(
    "tf,base,cudnn",
    [
        ("2.4.1", "nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04", "8.0.5.39"),
        ("2.5.2", FIT_BASE, "8.1.1.33"),
        ("2.11.0", FIT_BASE, "8.1.1.33"),
        ("2.13.1", "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", "8.9.6.50"),
    ],
)
def test_old_tensorflow_gets_a_cuda_base_from_the_table(tf, base, cudnn):
    plan = plan_gpu_image({"tensorflow": tf}, None, None, "3.8")
    assert plan.base_image == base and plan.base_cudnn == cudnn
    assert plan.requirements == (f"tensorflow=={tf}",)
    assert plan.install_python is True
    assert plan.frameworks[0].cuda_source == "base-image"


def test_tensorflow_without_any_fitting_base_is_refused():
    with pytest.raises(CompatibilityError, match="CUDA 10.1 with cuDNN 7.6"):
        plan_gpu_image({"tensorflow": "2.3.0"}, None, None, "3.8")


def test_old_tensorflow_on_a_base_with_unknown_cudnn_is_refused():
    with pytest.raises(CompatibilityError, match="cuDNN of ubuntu:22.04 is unknown"):
        plan_gpu_image({"tensorflow": "2.5.2"}, "ubuntu:22.04", None, "3.8")


def test_tensorflow_2_14_and_later_take_cuda_as_wheels():
    plan = plan_gpu_image({"TensorFlow": "2.15.1"}, None, None, "3.11")
    assert plan.requirements == ("tensorflow[and-cuda]==2.15.1",)
    assert plan.replaces == ("tensorflow",)
    assert plan.base_image is None and plan.install_python is False
    assert plan.nvidia_pins_required is False
    assert (plan.cuda, plan.min_driver) == ("12.2", "525.60.13")
    assert plan.manifest_frameworks() == {
        "tensorflow": {"version": "2.15.1", "cuda": "12.2", "cudnn": "8.9"}
    }


def test_tensorflow_2_20_needs_nvidia_wheels_pinned_in_the_lock():
    plan = plan_gpu_image({"tensorflow": "2.20.0"}, None, None, "3.12")
    assert plan.nvidia_pins_required is True
    assert plan.requirements == ("tensorflow[and-cuda]==2.20.0",)


def test_wheel_tensorflow_on_a_base_with_older_cudnn_is_refused():
    base = "nvidia/cuda:12.5.1-cudnn-runtime-ubuntu22.04"  # carries cuDNN 9.2
    with pytest.raises(CompatibilityError) as err:
        plan_gpu_image({"tensorflow": "2.18.0"}, base, None, "3.11")
    assert "9.2.1.18" in str(err.value) and "9.3" in str(err.value)
    assert "nvidia/cuda:12.6.1-cudnn-runtime-ubuntu24.04" in str(err.value)


def test_python_outside_the_tensorflow_range_is_refused():
    with pytest.raises(CompatibilityError) as err:
        plan_gpu_image({"tensorflow": "2.15.0"}, None, None, "3.12")
    assert "3.9-3.11" in str(err.value) and "3.12" in str(err.value)


def test_python_outside_the_torch_range_is_refused():
    with pytest.raises(CompatibilityError, match="3.10-3.14"):
        plan_gpu_image({"torch": "2.9.0"}, None, None, "3.9")


def test_cpu_only_packages_are_refused():
    with pytest.raises(CompatibilityError, match="quietly"):
        plan_gpu_image({"tensorflow-cpu": "2.15.0"}, None, None, "3.11")
    with pytest.raises(CompatibilityError, match="quietly"):
        plan_gpu_image({"torch": "2.4.1+cpu"}, None, None, "3.11")
    with pytest.raises(CompatibilityError, match="stopped at 2.11"):
        plan_gpu_image({"tensorflow-gpu": "2.12.0"}, None, None, "3.11")


def test_torch_default_build_needs_no_extra_index():
    plan = plan_gpu_image({"torch": "2.5.1"}, None, None, "3.11")
    assert plan.requirements == ("torch==2.5.1",)
    assert plan.extra_index_urls == ()
    assert plan.manifest_frameworks()["torch"] == {
        "version": "2.5.1",
        "cuda": "12.4",
        "cudnn": "9.1.0.70",
    }


def test_torch_cuda_build_label_adds_pytorch_index():
    plan = plan_gpu_image({"torch": "2.4.1+cu118"}, None, None, "3.10")
    assert plan.extra_index_urls == ("https://download.pytorch.org/whl/cu118",)
    assert plan.cuda == "11.8" and plan.min_driver == "450.80.02"


def test_both_frameworks_need_the_newest_cuda_of_the_two():
    plan = plan_gpu_image(
        {"tensorflow": "2.16.1", "torch": "2.4.1+cu118"}, None, None, "3.11"
    )
    assert plan.cuda == "12.3"
    assert plan.requirements == ("tensorflow[and-cuda]==2.16.1", "torch==2.4.1+cu118")


def test_plan_without_known_framework_warns():
    plan = plan_gpu_image({"jax": "0.4.30"}, None, None, "3.11")
    assert plan.cuda is None and plan.min_driver is None
    assert "not checked" in plan.warnings[0]


def test_plan_dict_is_stable():
    one = plan_gpu_image({"torch": "2.6.0", "tensorflow": "2.17.0"}, None, None, "3.11")
    two = plan_gpu_image({"tensorflow": "2.17.0", "torch": "2.6.0"}, None, None, "3.11")
    assert one.as_dict() == two.as_dict()
    assert list(one.as_dict()) == sorted(one.as_dict())


@pytest.mark.parametrize(
    "image,cuda",
    [
        ("nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04", "11.2.2"),
        ("nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04", "12.4.1"),
        ("python:3.11-slim", None),
    ],
)
def test_cuda_of_image(image, cuda):
    assert cuda_of_image(image) == cuda
