"""Files the training container writes are read on the host with suspicion."""

from __future__ import annotations

import json
import os
import threading

import pytest

from reprobox.atomic import dump_json
from reprobox.container_files import (
    UntrustedFileError,
    metrics_from,
    read_container_json,
    read_json,
    read_script_metrics,
    usable_curves,
)
from reprobox.run_folders import write_record
from reprobox.seals import seal_record


def test_a_planted_link_to_a_host_file_is_not_followed(tmp_path):
    host_secret = tmp_path / "hostsecret.json"
    host_secret.write_text('{"hostsecret": 4242}')
    metrics = tmp_path / "run" / "metrics.json"
    metrics.parent.mkdir()
    metrics.symlink_to(host_secret)
    kept, warnings = read_script_metrics(metrics)
    assert kept == {}
    assert warnings == [
        "the metrics file ($REPROBOX_METRICS) is a symbolic link; not followed; its "
        "metrics were ignored"
    ]
    (tmp_path / "run" / "capture.json").symlink_to(host_secret)
    assert read_json(tmp_path / "run" / "capture.json") == {}


def test_a_fifo_does_not_hang_the_host(tmp_path):
    fifo = tmp_path / "metrics.json"
    os.mkfifo(fifo)
    result = {}
    reader = threading.Thread(
        target=lambda: result.update(out=read_script_metrics(fifo)), daemon=True
    )
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert result["out"] == (
        {},
        [
            "the metrics file ($REPROBOX_METRICS) is not a regular file; its "
            "metrics were ignored"
        ],
    )


def test_deep_nesting_and_huge_integers_are_refused_not_raised(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(UntrustedFileError, match="nested too deeply"):
        read_container_json(deep)
    huge = tmp_path / "metrics.json"
    huge.write_text('{"test_accuracy": 1' + "0" * 400 + ', "loss": 0.5}')
    kept, warnings = read_script_metrics(huge)
    assert kept == {"loss": 0.5}
    assert warnings == [
        "metric 'test_accuracy' in the metrics file ($REPROBOX_METRICS) is too large; "
        "ignored"
    ]


def test_a_number_past_pythons_reach_drops_only_its_own_metric(tmp_path):
    # brk r42 (BE 7): a 5000-digit integer made the whole file "not valid JSON"
    # (Python reads 4300 digits at most) and every metric in it was ignored;
    # 1e-999999999 was kept as 0.0 without a word.
    path = tmp_path / "metrics.json"
    path.write_text(
        '{"big": 1' + "0" * 4999 + ', "tiny": 1e-999999999, "loss": 0.5, '
        '"zero": 0.0e5, "small": 5e-324, "neg": -0.000}'
    )
    kept, warnings = read_script_metrics(path)
    assert kept == {"loss": 0.5, "zero": 0.0, "small": 5e-324, "neg": -0.0}
    where = "in the metrics file ($REPROBOX_METRICS)"
    assert warnings == [
        f"metric 'big' {where} is 100000000000... (an integer of 5000 digits: too "
        "large); ignored",
        f"metric 'tiny' {where} is 1e-999999999 (too small for a float: it reads "
        "as 0.0); ignored",
    ]


def test_a_damaged_capture_keeps_the_scripts_metrics():
    capture = {"history": [42], "evaluations": "x"}
    assert metrics_from(capture, {"acc": 0.9}) == {"acc": 0.9}
    capture = {"history": [{"epochs": [{"epoch": 1, "loss": 10**400, "acc": 1}]}]}
    assert metrics_from(capture, {}) == {"acc": 1.0}


@pytest.mark.parametrize("planted", ["folder", "link"])
def test_the_record_name_is_taken_back_from_the_container(tmp_path, planted):
    outside = tmp_path / "outside.txt"
    outside.write_text("host file")
    record_path = tmp_path / "run" / "record.json"
    record_path.parent.mkdir()
    if planted == "folder":
        (record_path / "inner").mkdir(parents=True)
    else:
        record_path.symlink_to(outside)
    write_record(record_path, {"run_id": "r1", "status": "succeeded"})
    assert not record_path.is_symlink()
    assert json.loads(record_path.read_text()) == seal_record(
        {"run_id": "r1", "status": "succeeded"}
    )
    assert outside.read_text() == "host file"


def test_a_plain_record_is_simply_replaced(tmp_path):
    record_path = tmp_path / "record.json"
    record_path.write_text(dump_json({"status": "running"}))
    write_record(record_path, {"status": "failed"})
    # sealed anew: a reader refuses a record whose digest no longer matches
    assert json.loads(record_path.read_text()) == seal_record({"status": "failed"})


def test_a_capture_of_the_wrong_shape_is_left_out_with_a_warning():
    from reprobox.container_files import machine_from_capture, sane_capture

    capture = {
        "keras": 5,
        "frameworks": [1],
        "env": {"A": 1},
        "history": [{"call": 0, "epochs": []}],
        "packages": {"six": "1.17.0"},
    }
    kept, damaged = sane_capture(capture)
    assert damaged == ["env", "frameworks", "keras"]
    assert kept == {
        "history": [{"call": 0, "epochs": []}],
        "packages": {"six": "1.17.0"},
    }
    machine = machine_from_capture(kept)
    assert machine["packages"] == {"six": "1.17.0"} and machine["keras"] is None


def test_data_changed_on_the_host_during_the_run_is_a_warning(tmp_path):
    import hashlib

    from reprobox.run_ending import data_changed_during
    from reprobox.run_options import RunTarget

    data = tmp_path / "small.csv"
    data.write_text("1,2\n")
    frozen = hashlib.sha256(b"1,2\n").hexdigest()
    target = RunTarget(project="p", runs_dir=tmp_path, data=((data, "small.csv"),))
    manifest = {"data": [{"path": "small.csv", "sha256": frozen}]}
    assert data_changed_during(target, manifest) == []
    data.write_text("tampered\n")
    [warning] = data_changed_during(target, manifest)
    assert warning.startswith("data file small.csv changed during the run")


def test_a_users_hash_in_requirements_is_said_to_be_replaced(tmp_path):
    from reprobox.lock.requirements_file import read_requirements_file

    path = tmp_path / "requirements.txt"
    path.write_text("six>=1.0 --hash=sha256:deadbeef\n")
    entries, warnings = read_requirements_file(path)
    assert [str(e.requirement) for e in entries] == ["six>=1.0"]
    assert warnings == [
        f"{path}:1: its --hash is not kept; the lock pins the "
        "hashes the index serves for the resolved version"
    ]


def test_nan_and_infinities_from_the_script_are_kept_as_strings_compare_reads(
    tmp_path,
):
    from reprobox.compare.records import as_number

    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"a": NaN, "b": -Infinity, "c": "NaN", "d": 1}')
    kept, warnings = read_script_metrics(metrics)
    where = "the metrics file ($REPROBOX_METRICS)"
    assert warnings == [
        f"metric 'a' in {where} is nan; kept",
        f"metric 'b' in {where} is -inf; kept",
        f"metric 'c' in {where} is not a number; ignored",
    ]
    written = json.loads(dump_json(kept))
    assert written == {"a": "NaN", "b": "-Infinity", "d": 1}
    assert [as_number(written[k]) for k in ("b", "d")] == [float("-inf"), 1.0]
    assert as_number(written["a"]) != as_number(written["a"])  # NaN


def test_an_integer_metric_is_kept_as_the_integer_it_is():
    # brk r35: float() rounded it, 2**53 + 1 was written 9007199254740992.0;
    # brk r37 6: and 3 was written 3.0, 0 was 0.0.
    got = metrics_from({}, {"tokens": 2**53 + 1, "steps": 3, "none": 0, "acc": 0.5})
    assert got == {"acc": 0.5, "none": 0, "steps": 3, "tokens": 2**53 + 1}
    assert [type(got[k]) for k in ("acc", "none", "steps", "tokens")] == [
        float,
        int,
        int,
        int,
    ]
    text = dump_json(got)
    assert '"tokens": 9007199254740993' in text and '"steps": 3,' in text


def test_an_integer_past_2_53_stays_one_where_a_float_holds_it_too():
    # brk r36 F2: -(2**60) is a float exactly, so it was stored as
    # -1.152921504606847e+18 (24 off as written) beside -(2**60) - 1 kept whole.
    capture = {
        "history": [{"epochs": [{"epoch": 1, "seen": 2**60, "loss": 0.5}]}],
        "evaluations": [{"results": {"count": -(2**60)}}],
    }
    got = metrics_from(capture, {"neg": -(2**60), "small": 2**53})
    assert got == {
        "eval_count": -(2**60),
        "loss": 0.5,
        "neg": -(2**60),
        "seen": 2**60,
        "small": 2**53,
    }
    assert [type(got[k]) for k in ("eval_count", "neg", "seen", "small")] == [
        int,
        int,
        int,
        int,
    ]
    assert '"neg": -1152921504606846976' in dump_json(got)


@pytest.mark.parametrize("name", ["", " ", "\t"])
def test_a_metric_with_a_blank_name_is_left_out_with_a_warning(tmp_path, name):
    # brk r36 F6: it was recorded and judged, but --metric and --tol refuse it.
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({name: 1.0, "acc": 0.5}))
    kept, warnings = read_script_metrics(path)
    assert kept == {"acc": 0.5}
    assert warnings == [
        f"metric {name!r} in the metrics file ($REPROBOX_METRICS) has a blank "
        "name, which --metric and --tol cannot name; left out"
    ]
    capture = {"history": [{"epochs": [{"epoch": 1, name: 2.0, "loss": 0.1}]}]}
    assert metrics_from(capture, {name: 3.0}) == {"loss": 0.1}
    assert usable_curves(capture) == (
        {"history": [{"epochs": [{"epoch": 1, "loss": 0.1}]}]},
        [
            f"metric {name!r} in capture.json has a blank name, which --metric "
            "and --tol cannot name; left out"
        ],
    )
