"""The summary line after a run shows each metric exactly, as compare does."""

from __future__ import annotations

import json
import math

import pytest

from reprobox import cli_run
from reprobox.atomic import dump_json
from reprobox.container_files import metrics_from, read_script_metrics


@pytest.mark.parametrize(
    "value, shown",
    [
        # brk r36 F5: six fixed decimals rounded or padded all of these.
        (2**53 + 1, "9007199254740993"),
        (10**30 + 1, "1000000000000000000000000000001"),
        (10**30, "1e+30"),
        (4.9e-07, "4.9e-07"),
        (0.1, "0.1"),
        (-(2**60) - 1, "-1152921504606846977"),
        (math.inf, "inf"),
        (math.nan, "nan"),
    ],
)
def test_the_run_summary_shows_a_metric_as_compare_does(
    monkeypatch, tmp_path, value, shown
):
    lines = []
    monkeypatch.setattr(
        cli_run.typer, "echo", lambda text, err=False, nl=True: lines.append(text)
    )
    record = {
        "run_id": "r",
        "status": "succeeded",
        "duration_s": 1.0,
        "metrics": {"m": value},
        "warnings": [],
    }
    cli_run._print_summary(record, tmp_path / "record.json")
    assert lines[1] == "  " + "m".ljust(24) + " " + shown


def test_an_integer_the_script_wrote_is_shown_whole_from_file_to_summary(
    monkeypatch, tmp_path
):
    # brk r37 6: 5, 0 and 2**53 were shown 5.0, 0.0 and 9007199254740992.0.
    metrics_file = tmp_path / "metrics.json"
    metrics_file.write_text('{"steps": 5, "zero": 0, "edge": 9007199254740992}')
    script_metrics, warnings = read_script_metrics(metrics_file)
    assert warnings == []
    capture = {"history": [{"epochs": [{"epoch": 1, "loss": 0.25}]}]}
    record = {
        "run_id": "r",
        "status": "succeeded",
        "duration_s": 1.0,
        "metrics": json.loads(dump_json(metrics_from(capture, script_metrics))),
        "warnings": [],
    }
    lines = []
    monkeypatch.setattr(
        cli_run.typer, "echo", lambda text, err=False, nl=True: lines.append(text)
    )
    cli_run._print_summary(record, tmp_path / "record.json")
    shown = dict(line.split() for line in lines[1:5])
    assert shown == {
        "edge": "9007199254740992",
        "loss": "0.25",
        "steps": "5",
        "zero": "0",
    }
