"""A folder where the run folder should hold a file is named, not a descriptor."""

from __future__ import annotations

import errno
import os

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
        "the metrics file ($REPROBOX_METRICS) is not a regular file; its metrics were "
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


@pytest.mark.parametrize(
    "code, fix",
    [
        (
            errno.EROFS,
            "it is on a read-only file system: make it writable",
        ),
        (errno.ENOENT, "a folder above it is missing or cannot be made there"),
        (errno.ENOSPC, "free space there"),
    ],
)
def test_a_runs_folder_that_cannot_be_made_says_why_and_closes_nothing(
    tmp_path, monkeypatch, code, fix
):
    # bo F5: a read-only or missing runs folder was told to free space, and
    # that a later command would close a record never begun.
    from reprobox.run_options import RunOptions, RunTarget
    from reprobox.runner import run_in_container

    runs = tmp_path / "runs"
    manifest = {"project": {"command": ["python", "t.py"]}, "environment": {}}

    def refuse(path):
        raise OSError(code, os.strerror(code), str(path))

    import reprobox.runner as runner

    monkeypatch.setattr(runner, "make_run_dir", refuse)

    def refusal(target: RunTarget) -> InputError:
        with pytest.raises(InputError) as caught:
            run_in_container(
                target,
                None,
                image_ref="r",
                image_id="i",
                manifest=manifest,
                manifest_sha256="0",
                opts=RunOptions(),
            )
        return caught.value

    error = refusal(RunTarget(project="p", runs_dir=runs))
    assert error.message == f"{runs}: cannot write the run's files: {os.strerror(code)}"
    # br F5: `run` was told that verify can take another --runs-dir.
    assert error.hint == f"{fix}, then run again"
    error = refusal(RunTarget(project="p", runs_dir=runs, elsewhere=" (or elsewhere)"))
    assert error.hint == f"{fix}, then run again (or elsewhere)"
