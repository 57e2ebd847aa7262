"""Records carry the metrics settings they are judged by (compare_settings)."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic import make_record, record_data, write_record

from reprobox.compare import load_records
from reprobox.compare.compare_settings import (
    JudgingSettings,
    judging_settings,
    settings_for_record,
)
from reprobox.errors import InputError

ACC = {"compare": ["acc"], "tolerances": {"acc": {"abs": 0.01, "rel": None}}}
LOOSE = {"compare": [], "tolerances": {"acc": {"abs": 0.5, "rel": None}}}
A, B, C = (f"20240101T00000{i}Z-aaaaaa" for i in range(3))


def carrying(run_id: str, settings: dict | None):
    changes = {} if settings is None else {"compare_settings": settings}
    return make_record(run_id, **changes)


def test_a_record_keeps_the_manifest_metrics_section_as_it_is():
    metrics = {"compare": ["acc"], "tolerances": {"acc": {"abs": 0.01, "rel": None}}}
    assert settings_for_record(metrics) == ACC
    assert settings_for_record({}) == {"compare": [], "tolerances": {}}


def test_without_a_manifest_the_records_own_settings_judge():
    records = [carrying(A, ACC), carrying(B, ACC)]
    assert judging_settings(records, records[0], None, None) == JudgingSettings(
        compare=["acc"], tolerances={"acc": {"abs": 0.01, "rel": None}}, note=None
    )


def test_an_empty_compare_list_means_every_metric():
    records = [carrying(A, LOOSE)]
    got = judging_settings(records, records[0], None, None)
    assert got.compare is None
    assert got.tolerances == {"acc": {"abs": 0.5, "rel": None}}


def test_old_records_without_settings_keep_exact_comparison():
    records = [carrying(A, None), carrying(B, None)]
    assert judging_settings(records, records[0], None, None) == JudgingSettings(
        compare=None, tolerances={}, note=None
    )


def test_the_reference_runs_own_settings_win_over_the_manifest_beside():
    # cc 1: the manifest was refrozen with a tighter tolerance after run A; in
    # place and copied away, A's own settings must judge, or the verdicts part.
    records = [carrying(A, ACC), carrying(B, LOOSE), carrying(C, None)]
    manifest = Path("/p/.reprobox/manifest.json")
    in_place = judging_settings(records, records[0], LOOSE, manifest)
    copied = judging_settings(records, records[0], None, None)
    assert in_place.tolerances == copied.tolerances == ACC["tolerances"]
    assert in_place.compare == copied.compare == ["acc"]
    assert in_place.note == (
        f"metrics settings (metrics.compare or tolerances) differ between "
        f"reference run {A} and run {B} and the manifest "
        f"/p/.reprobox/manifest.json; run {A}'s own are used, wherever its folder "
        "lies (--tol overrides either)"
    )
    assert copied.note == (
        f"metrics settings (metrics.compare or tolerances) differ between "
        f"reference run {A} and run {B}; run {A}'s own are used, wherever its "
        "folder lies (--tol overrides either)"
    )


def test_a_manifest_that_agrees_with_the_records_says_nothing():
    records = [carrying(A, ACC), carrying(B, ACC)]
    manifest = Path("/p/.reprobox/manifest.json")
    assert judging_settings(records, records[1], ACC, manifest).note is None


def test_records_that_disagree_are_judged_by_the_reference_and_named():
    records = [carrying(A, ACC), carrying(B, LOOSE), carrying(C, LOOSE)]
    got = judging_settings(records, records[1], None, None)
    assert got.tolerances == {"acc": {"abs": 0.5, "rel": None}}
    assert got.note == (
        f"metrics settings (metrics.compare or tolerances) differ between "
        f"reference run {B} and run {A}; run {B}'s own are used, wherever its "
        "folder lies (--tol overrides either)"
    )


def test_an_old_reference_takes_the_manifest_beside_it():
    records = [carrying(A, None), carrying(B, ACC)]
    manifest = Path("/p/.reprobox/manifest.json")
    got = judging_settings(records, records[0], LOOSE, manifest)
    assert got.tolerances == LOOSE["tolerances"] and got.compare is None
    assert got.note == (
        f"metrics settings (metrics.compare or tolerances) differ between "
        f"/p/.reprobox/manifest.json and run {B}; reference run {A} records none "
        "(an older record), so the manifest's are used (--tol overrides either)"
    )


def test_an_old_reference_takes_the_first_record_that_carries_settings():
    records = [carrying(A, None), carrying(B, ACC)]
    got = judging_settings(records, records[0], None, None)
    assert got.compare == ["acc"]
    assert got.note == (
        f"reference run {A} records none (an older record), so run "
        f"{B}'s are used (--tol overrides either)"
    )


@pytest.mark.parametrize(
    "settings, words",
    [
        ("acc", "compare_settings must be an object of compare and tolerances"),
        ({"compare": []}, "must be an object of compare and tolerances"),
        ({"compare": "acc", "tolerances": {}}, "compare must be a list of metric"),
        ({"compare": [" "], "tolerances": {}}, "compare must be a list of metric"),
        ({"compare": [], "tolerances": []}, "tolerances must be an object"),
        (
            {"compare": [], "tolerances": {" ": {"abs": 1}}},
            "compare_settings.tolerances holds a blank metric name ' '",
        ),
        # Review, stop 17: an unprintable name was called "a blank metric name".
        (
            {"compare": [], "tolerances": {"acc\u200b": {"abs": 1}}},
            "compare_settings.tolerances holds an unprintable metric name 'acc\\u200b'",
        ),
        (
            {"compare": [], "tolerances": {"acc": {"abs": 1, "x": 2}}},
            "compare_settings.tolerances.acc must be an object of abs and rel",
        ),
        (
            {"compare": [], "tolerances": {"acc": {"abs": -0.1}}},
            "compare_settings.tolerances.acc.abs must be a finite number >= 0",
        ),
        (
            {"compare": [], "tolerances": {"acc": {"rel": True}}},
            "compare_settings.tolerances.acc.rel must be a finite number >= 0",
        ),
    ],
)
def test_settings_that_could_not_judge_are_refused_by_name(tmp_path, settings, words):
    path = write_record(tmp_path, record_data(A, compare_settings=settings))
    with pytest.raises(InputError) as info:
        load_records([path])
    assert str(info.value).startswith(f"{path}: ")
    assert words in str(info.value)


def test_settings_are_no_setup_difference(tmp_path):
    from reprobox.compare import compare_runs

    write_record(tmp_path, record_data(A, compare_settings=ACC))
    write_record(
        tmp_path,
        record_data(B, started_at="2024-01-01T00:00:01Z", compare_settings=LOOSE),
    )
    comparison = compare_runs(load_records([tmp_path]), reference=0)
    assert [d.field for d in comparison.differences] == []


@pytest.mark.parametrize("value", [-0.0, "-0.0"])
def test_a_bound_of_minus_zero_is_zero(value):
    # brk r43 (BH minor): --tol c=abs:-0.0 was shown "abs -0".
    from reprobox.compare.metrics import Tolerance
    from reprobox.number_options import decimal_number

    bound = decimal_number(value) if isinstance(value, str) else value
    tolerance = Tolerance(abs=bound, rel=bound)
    assert tolerance.describe() == "abs 0 or rel 0"
    assert str(tolerance.abs) == "0.0"
