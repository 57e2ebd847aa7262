"""What a run records as options.gpus: no GPU asked for is recorded as none."""

import pytest

from reprobox.gpu.devices import recorded_gpus


@pytest.mark.parametrize("value", [None, "none", "0", "00", " 0 ", "'0'"])
def test_no_gpu_is_recorded_as_if_gpus_were_not_given(value):
    # `run --gpus 0` recorded "0", and compare listed "options.gpus unset → 0"
    # as a setup difference against a run without --gpus: both ran on no GPU.
    assert recorded_gpus(value) is None


@pytest.mark.parametrize(
    ("value", "recorded"),
    [
        ("all", "all"),
        ("ALL", "all"),
        ("2", "2"),
        ("02", "2"),
        ("device=0, 2", "device=0,2"),
        ('"device=1"', "device=1"),
    ],
)
def test_a_gpu_selection_is_recorded_in_one_spelling(value, recorded):
    # Two spellings of one selection are no setup difference either.
    assert recorded_gpus(value) == recorded
