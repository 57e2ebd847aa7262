"""The summary line after a run shows each metric exactly, as compare does."""

from __future__ import annotations

import math

import pytest

from reprobox import cli_run


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
        cli_run.typer, "echo", lambda text, err=False: lines.append(text)
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
