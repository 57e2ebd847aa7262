"""The packaged CUDA table is consistent and answers look-ups."""

import pytest

from reprobox.errors import CompatibilityError
from reprobox.gpu import table
from reprobox.gpu.table import (
    base_images,
    is_numeric_version,
    load_table,
    lookup_tensorflow,
    lookup_torch,
    major_minor,
    max_cuda_for_driver,
    min_driver_for_cuda,
    tensorflow_rows,
    torch_rows,
    version_tuple,
)
from reprobox.gpu.tf_page import expand_series, merge_series


def _check_series(rows):
    previous = None
    for row in rows:
        first, last = major_minor(row.first), major_minor(row.last)
        assert first <= last, row
        assert first[0] == last[0], row
        if previous is not None:
            assert first > previous, f"{row} overlaps or is out of order"
        previous = last


def _check_python(rows):
    for row in rows:
        lo, hi = major_minor(row.python_min), major_minor(row.python_max)
        assert lo[0] == hi[0] == 3 and lo <= hi, row


def test_tensorflow_rows_do_not_overlap_and_are_ordered():
    _check_series(tensorflow_rows())


def test_torch_rows_do_not_overlap_and_are_ordered():
    _check_series(torch_rows())


def test_python_ranges_are_sane():
    _check_python(tensorflow_rows())
    _check_python(torch_rows())


def test_every_cuda_and_cudnn_parses():
    versions = [(r.cuda, r.cudnn) for r in tensorflow_rows()]
    versions += [(b.cuda, b.cudnn) for r in torch_rows() for b in r.builds]
    versions += [(b.cuda, b.cudnn) for b in base_images()]
    for cuda, cudnn in versions:
        assert is_numeric_version(cuda) and is_numeric_version(cudnn)
        assert len(version_tuple(cuda)) >= 2 and len(version_tuple(cudnn)) >= 2


def test_driver_table_covers_every_cuda_major_used():
    majors = {version_tuple(r.cuda)[0] for r in tensorflow_rows()}
    majors |= {version_tuple(b.cuda)[0] for r in torch_rows() for b in r.builds}
    majors |= {version_tuple(b.cuda)[0] for b in base_images()}
    drivers = load_table()["cuda_min_driver"]
    for major in majors - {10}:
        assert str(major) in drivers, major
    for row in tensorflow_rows():
        assert min_driver_for_cuda(row.cuda), row


def test_every_cuda_used_has_a_toolkit_driver():
    cudas = {r.cuda for r in tensorflow_rows()}
    cudas |= {b.cuda for r in torch_rows() for b in r.builds}
    for cuda in cudas:
        assert table.toolkit_driver(cuda), cuda


def test_pip_cuda_exactly_from_tensorflow_2_14():
    for row in tensorflow_rows():
        new = major_minor(row.first) >= (2, 14)
        assert row.pip_cuda is new, row
        assert (row.nvidia_wheels is not None) is new, row
        if new:
            expected = "ranges" if major_minor(row.first) >= (2, 20) else "pinned"
            assert row.nvidia_wheels == expected, row


def test_torch_default_build_is_one_of_its_builds():
    for row in torch_rows():
        assert row.default_build in {b.tag for b in row.builds}
        for build in row.builds:
            major, minor = major_minor(build.cuda)
            assert build.tag == f"cu{major}{minor}", build


def test_tensorflow_rows_are_in_the_form_the_refresh_script_writes():
    raw = load_table()["tensorflow"]
    assert merge_series(expand_series(raw)) == raw


def test_table_carries_schema_version_and_sources():
    data = load_table()
    assert data["schema_version"] == 1
    assert set(data["sources"]) >= {"tensorflow", "pytorch", "cuda_min_driver"}


@pytest.mark.parametrize(
    "version,cuda,cudnn",
    [
        ("2.21.0", "12.5", "9.3"),
        ("2.18.1", "12.5", "9.3"),
        ("2.17.0", "12.3", "8.9"),
        ("2.16.0rc0", "12.3", "8.9"),
        ("2.15.1", "12.2", "8.9"),
        ("2.14.0", "11.8", "8.7"),
        ("2.13.1", "11.8", "8.6"),
        ("2.10.0", "11.2", "8.1"),
        ("2.5.2", "11.2", "8.1"),
        ("2.4.4", "11.0", "8.0"),
    ],
)
def test_lookup_tensorflow(version, cuda, cudnn):
    row = lookup_tensorflow(version)
    assert (row.cuda, row.cudnn) == (cuda, cudnn)


def test_lookup_tensorflow_python_range_of_2_21():
    row = lookup_tensorflow("2.21.0")
    assert (row.python_min, row.python_max) == ("3.10", "3.13")


def test_unknown_tensorflow_is_refused_with_the_covered_span():
    with pytest.raises(CompatibilityError) as err:
        lookup_tensorflow("1.15.5")
    assert "2.0-2.21" in str(err.value)
    assert "refresh-cuda-table" in str(err.value)


@pytest.mark.parametrize(
    "version,tags",
    [
        ("2.1.2", {"cu118", "cu121"}),
        ("2.3.1", {"cu118", "cu121"}),
        ("2.4.1", {"cu118", "cu121", "cu124"}),
        ("2.6.0", {"cu118", "cu124", "cu126"}),
        ("2.7.1", {"cu118", "cu126", "cu128"}),
        ("2.8.0", {"cu126", "cu128", "cu129"}),
    ],
)
def test_lookup_torch_builds(version, tags):
    assert {b.tag for b in lookup_torch(version).builds} == tags


def test_torch_default_build_and_cudnn():
    row = lookup_torch("2.5.1")
    assert row.build().tag == "cu124"
    assert row.build().cudnn == "9.1.0.70"
    with pytest.raises(CompatibilityError, match="cu130"):
        row.build("cu130")


@pytest.mark.parametrize(
    "cuda,driver",
    [
        ("11.2", "450.80.02"),
        ("11.8.0", "450.80.02"),
        ("12.5", "525.60.13"),
        ("13.0", "580"),
        ("10.1", "418.39"),
    ],
)
def test_min_driver_for_cuda(cuda, driver):
    assert min_driver_for_cuda(cuda) == driver


def test_min_driver_for_unknown_cuda_major():
    with pytest.raises(CompatibilityError, match="CUDA 9.0"):
        min_driver_for_cuda("9.0")


@pytest.mark.parametrize(
    "driver,cuda",
    [
        ("470.57", "11.4"),
        ("470.57.02", "11.4"),
        ("535.104.05", "12.2"),
        ("525.60.13", "12.0"),
        ("450.80.02", "11.0"),
        ("580.65.06", "13.0"),
    ],
)
def test_max_cuda_for_driver(driver, cuda):
    assert max_cuda_for_driver(driver) == cuda


def test_base_images_are_sorted_by_cuda():
    cudas = [version_tuple(b.cuda) for b in base_images()]
    assert cudas == sorted(cudas)
    assert all(b.image.startswith("nvidia/cuda:" + b.cuda + "-") for b in base_images())
