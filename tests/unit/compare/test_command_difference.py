"""The command a run ran (the record's `command`) in compare.

Two manifests that differ only in the command (`--epochs 5` for `--epochs 8`)
share their layers; compare could name only "another manifest", and said
"tolerances, command or other frozen settings" might differ.
"""

import json

import pytest
from reprobox_synthetic import make_record, record_data, write_record

from reprobox.compare import compare_runs
from reprobox.compare.environment import environment_of, numerics_key
from reprobox.compare.headlines import format_value
from reprobox.compare.records import read_record
from reprobox.errors import InputError

LAYERS = "sha256:" + "7" * 64
ENV = {"TF_DETERMINISTIC_OPS": "1"}


def _run(run_id, command, **changes):
    return make_record(
        run_id, image__layers=LAYERS, environment=ENV, command=command, **changes
    )


def test_another_command_is_named_as_the_cause_with_both_values():
    ref = _run("A", ["python", "train.py", "--epochs", "5"])
    run = _run(
        "B",
        ["python", "train.py", "--epochs", "8"],
        image__id="sha256:" + "9" * 64,
        manifest_sha256="b" * 64,
        metrics={"loss": 0.3, "accuracy": 0.9},
    )
    comparison = compare_runs([ref, run])
    rows = {d.field: d for d in comparison.differences}
    assert rows["command"].category == "command"
    assert rows["command"].changes_numerics
    assert comparison.runs[1].likely_cause == "command"
    assert "--epochs 5" in comparison.runs[1].headline
    assert "--epochs 8" in comparison.runs[1].headline
    # The command explains the other manifest: it is no longer "unexplained".
    assert "no package, data file" not in rows["manifest_sha256"].explanation


def test_a_record_without_the_command_is_no_command_difference():
    # Written before the field: its command is unknown, not different.
    old = make_record("A", image__layers=LAYERS, environment=ENV)
    assert "command" not in old.data
    new = _run("B", ["python", "train.py"])
    assert [d.field for d in compare_runs([old, new]).differences] == []


def test_the_same_command_under_another_manifest_blames_other_settings():
    ref = _run("A", ["python", "train.py"])
    run = _run(
        "B", ["python", "train.py"], manifest_sha256="b" * 64, metrics={"loss": 0.3}
    )
    (lock,) = compare_runs([ref, run]).differences
    assert lock.explanation == (
        "another manifest with no package, data file, variable or command "
        "differing in the records: its tolerances or other frozen settings differ"
    )


def test_repeats_of_two_commands_are_two_setups():
    one = numerics_key(_environment(_run("A", ["python", "t.py", "--lr", "0.1"])))
    two = numerics_key(_environment(_run("B", ["python", "t.py", "--lr", "0.2"])))
    assert one != two


def _environment(record):
    return environment_of(record)


def test_words_with_spaces_read_apart_from_the_words_split():
    # Round 34 (AR 1, AS 4): ["--lr 1"] and ["--lr", "1"] both read
    # "python train.py --lr 1", so the row showed no difference.
    ref = _run("A", ["python", "train.py", "--lr 1"])
    run = _run("B", ["python", "train.py", "--lr", "1"], manifest_sha256="b" * 64)
    (row,) = [d for d in compare_runs([ref, run]).differences if d.field == "command"]
    assert format_value(row.reference_value) == "python train.py '--lr 1'"
    assert format_value(row.run_value) == "python train.py --lr 1"


def test_a_command_of_another_shape_is_a_damaged_record(tmp_path):
    # Round 34 (AR 10): a record's command as one string, or holding numbers,
    # was read and shown as a difference of two equal-looking strings.
    for bad in ("python train.py", ["python", 5, None], []):
        path = write_record(
            tmp_path / str(len(str(bad))), record_data("A", command=bad)
        )
        with pytest.raises(InputError) as info:
            read_record(path)
        assert "command must be a non-empty JSON list of strings" in info.value.message
    good = write_record(tmp_path / "g", record_data("A", command=["python", "t.py"]))
    assert json.loads(good.read_text())["command"] == ["python", "t.py"]
    assert read_record(good).data["command"] == ["python", "t.py"]
