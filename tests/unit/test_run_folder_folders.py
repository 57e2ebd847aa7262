"""A folder where the run folder should hold a file is named, not a descriptor."""

from __future__ import annotations

import pytest

from reprobox.compare import load_records
from reprobox.container_files import log_tail, read_script_metrics
from reprobox.errors import InputError


def test_metrics_that_are_a_folder_are_ignored_with_a_warning(tmp_path):
    (tmp_path / "metrics.json").mkdir()
    (tmp_path / "metrics.json" / "x").write_text("1")

    metrics, warnings = read_script_metrics(tmp_path / "metrics.json")

    assert metrics == {}
    assert warnings == [
        "the file $REPROBOX_METRICS names is not a regular file; its metrics were "
        "ignored"
    ]


def test_a_log_that_is_a_folder_has_an_empty_tail(tmp_path):
    (tmp_path / "container.log").mkdir()
    assert log_tail(tmp_path / "container.log") == ""


def test_a_record_that_is_a_folder_is_one_input_error(tmp_path):
    (tmp_path / "runs" / "run1" / "record.json").mkdir(parents=True)
    with pytest.raises(InputError) as caught:
        load_records([tmp_path / "runs"])
    assert str(tmp_path / "runs") in caught.value.message
    assert "Is a directory" not in str(caught.value)
