import json

import pytest
from reprobox_synthetic import record_data, write_record

from reprobox.compare import load_records
from reprobox.errors import EXIT_USAGE, InputError


def test_reads_file_run_folder_runs_folder_and_project(tmp_path):
    runs = tmp_path / "proj" / ".reprobox" / "runs"
    a = write_record(runs, record_data("A", started_at="2024-01-02T00:00:00Z"))
    write_record(runs, record_data("B", started_at="2024-01-01T00:00:00Z"))

    assert [r.run_id for r in load_records([a])] == ["A"]
    assert [r.run_id for r in load_records([a.parent])] == ["A"]
    assert [r.run_id for r in load_records([runs])] == ["B", "A"]
    assert [r.run_id for r in load_records([tmp_path / "proj"])] == ["B", "A"]


def test_sorts_by_start_then_run_id_and_reads_each_file_once(tmp_path):
    same = "2024-01-01T00:00:00Z"
    c = write_record(tmp_path, record_data("C", started_at=same))
    write_record(tmp_path, record_data("A", started_at=same))
    write_record(tmp_path, record_data("B", started_at="2023-12-31T00:00:00Z"))

    records = load_records([c, tmp_path, c.parent])

    assert [r.run_id for r in records] == ["B", "A", "C"]


def test_refuses_one_run_in_two_files(tmp_path):
    write_record(tmp_path / "x", record_data("A"))
    write_record(tmp_path / "y", record_data("A"))

    with pytest.raises(InputError, match="run A is given twice"):
        load_records([tmp_path / "x", tmp_path / "y"])


def _error_for(tmp_path, text: str) -> InputError:
    path = tmp_path / "record.json"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_records([path])
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    assert caught.value.exit_code == EXIT_USAGE
    return caught.value


def test_refuses_corrupt_json_naming_line_and_fix(tmp_path):
    error = _error_for(tmp_path, '{"run_id": "A", ')
    assert "not valid JSON (line 1" in error.message
    assert "re-run" in error.hint


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"schema_version": 1},
        {"run_id": "A"},
        {"run_id": "A", "schema_version": "1"},
        {"run_id": "A", "schema_version": True},
    ],
)
def test_refuses_what_is_not_a_record(tmp_path, payload):
    error = _error_for(tmp_path, json.dumps(payload))
    assert "not a reprobox run record" in error.message


def test_refuses_record_from_newer_reprobox(tmp_path):
    error = _error_for(tmp_path, json.dumps(record_data("A", schema_version=2)))
    assert "written by a newer reprobox" in error.message
    assert "schema_version 2" in error.message
    assert error.hint == "upgrade reprobox"


def test_refuses_damaged_fields(tmp_path):
    error = _error_for(tmp_path, json.dumps(record_data("A", metrics=[0.1])))
    assert "metrics must be a JSON object" in error.message


def test_refuses_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load_records([tmp_path / "nope"])
    with pytest.raises(InputError, match="holds no run record"):
        load_records([tmp_path])


def test_refuses_unreadable_bytes(tmp_path):
    path = tmp_path / "record.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="cannot read run record"):
        load_records([path])


def test_runs_in_one_second_sort_by_microseconds_not_by_run_id(tmp_path):
    # A sweep's seed 0 and seed 1 often start in the same second; their run ids
    # then differ only in the random suffix, which must not decide the order.
    write_record(
        tmp_path,
        record_data(
            "20240101T000000Z-ffffff", started_at="2024-01-01T00:00:00.100000+00:00"
        ),
    )
    write_record(
        tmp_path,
        record_data(
            "20240101T000000Z-000000", started_at="2024-01-01T00:00:00.900000+00:00"
        ),
    )
    # An older record written with whole seconds, and one with a "Z" suffix.
    write_record(tmp_path, record_data("old", started_at="2024-01-01T00:00:00+00:00"))
    write_record(tmp_path, record_data("zulu", started_at="2023-12-31T23:59:59.5Z"))

    assert [r.run_id for r in load_records([tmp_path])] == [
        "zulu",
        "old",
        "20240101T000000Z-ffffff",
        "20240101T000000Z-000000",
    ]
