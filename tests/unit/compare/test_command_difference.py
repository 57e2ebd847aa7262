"""The command a run ran (the record's `command`) in compare.

Two manifests that differ only in the command (`--epochs 5` for `--epochs 8`)
share their layers; compare could name only "another manifest", and said
"tolerances, command or other frozen settings" might differ.
"""

from reprobox_synthetic import make_record

from reprobox.compare import compare_runs
from reprobox.compare.environment import numerics_key

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
    from reprobox.compare.environment import environment_of

    return environment_of(record)
