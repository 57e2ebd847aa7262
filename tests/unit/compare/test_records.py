import json
import os
import signal

import pytest
from reprobox_synthetic import record_data, sealed_json, write_record

from reprobox import __version__
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
    error = _error_for(tmp_path, sealed_json(record_data("A", schema_version=3)))
    assert "run record has schema_version 3, newer than" in error.message
    assert error.hint == "upgrade reprobox"


def test_newer_record_names_the_reprobox_version_needed(tmp_path):
    # brkc F11: docs/schemas.md promises the reprobox version needed.
    data = record_data("A", schema_version=3, reprobox_version="9.1.0")
    error = _error_for(tmp_path, sealed_json(data))
    assert error.message.endswith(
        "run record has schema_version 3 (written by reprobox 9.1.0), newer than "
        f"reprobox {__version__} reads (2)"
    )
    assert error.hint == "upgrade to reprobox 9.1.0 or later"


def test_a_newer_schema_from_no_newer_reprobox_just_asks_for_an_upgrade(tmp_path):
    data = record_data("A", schema_version=3, reprobox_version=__version__)
    error = _error_for(tmp_path, sealed_json(data))
    assert "written by" not in error.message
    assert error.hint == "upgrade reprobox"


def test_refuses_damaged_fields(tmp_path):
    error = _error_for(tmp_path, sealed_json(record_data("A", metrics=[0.1])))
    assert "metrics must be a JSON object" in error.message


def test_refuses_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load_records([tmp_path / "nope"])
    with pytest.raises(InputError, match="holds no run record"):
        load_records([tmp_path])


def test_refuses_unreadable_bytes(tmp_path):
    path = tmp_path / "record.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError) as caught:
        load_records([path])
    # brkc F7: the bytes are the fault, not the path or its permissions.
    assert "not UTF-8 text (byte 0xff at offset 0)" in caught.value.message
    assert "permissions" not in str(caught.value)


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


@pytest.fixture
def no_hang():
    """Fail a test that blocks (e.g. on a FIFO) instead of hanging the suite."""

    def stuck(signum, frame):
        raise TimeoutError("blocked reading a record")

    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_a_fifo_named_record_json_in_a_runs_folder_is_refused_not_waited_on(
    tmp_path, no_hang
):
    # brkc F14: the run folder is the container's to write; a FIFO there must
    # not make compare wait forever. AJ 4: nor may it be skipped in silence,
    # which changes the reference run and so the verdict.
    write_record(tmp_path, record_data("A"))
    (tmp_path / "B").mkdir()
    os.mkfifo(tmp_path / "B" / "record.json")
    with pytest.raises(InputError) as caught:
        load_records([tmp_path])
    assert caught.value.message == (
        f"{tmp_path / 'B' / 'record.json'}: not a regular file, so not a run record"
    )


@pytest.mark.parametrize("kind", ["folder", "link", "dangling link"])
def test_a_damaged_record_json_in_a_runs_folder_is_named(tmp_path, kind):
    # AJ 4: a record.json that is a folder or a link was left out of a runs
    # folder's records without a word; the earliest run left is the reference.
    runs = tmp_path / "runs"
    write_record(runs, record_data("20240101T000001Z-bbbbbb"))
    write_record(runs, record_data("20240101T000002Z-cccccc"))
    damaged = runs / "20240101T000000Z-aaaaaa" / "record.json"
    damaged.parent.mkdir()
    if kind == "folder":
        damaged.mkdir()
    else:
        target = tmp_path / ("elsewhere.json" if kind == "link" else "gone.json")
        if kind == "link":
            target.write_text(sealed_json(record_data("20240101T000000Z-aaaaaa")))
        damaged.symlink_to(target)
    with pytest.raises(InputError) as caught:
        load_records([runs])
    assert caught.value.message.startswith(f"{damaged}: ")
    assert caught.value.message.endswith(
        "not a regular file, so not a run record"
        if kind == "folder"
        else "is a symbolic link; run records are read only as regular files, "
        "never through a link"
    )
    # Nor a run folder holding no record.json at all (round 34: skipped, it
    # changed the reference as well); one not named as a run is no run.
    os.remove(damaged) if kind != "folder" else damaged.rmdir()
    with pytest.raises(InputError, match="a run folder with no record.json"):
        load_records([runs])
    damaged.parent.rename(runs / "kept-by-hand")
    assert [r.run_id for r in load_records([runs])] == [
        "20240101T000001Z-bbbbbb",
        "20240101T000002Z-cccccc",
    ]


def test_a_fifo_given_by_name_is_refused_in_one_line(tmp_path, no_hang):
    fifo = tmp_path / "record.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file, so not a run record"):
        load_records([fifo])


def test_a_link_planted_in_a_run_folder_is_not_followed(tmp_path):
    secret = tmp_path / "elsewhere.json"
    secret.write_text(sealed_json(record_data("S")))
    write_record(tmp_path / "runs", record_data("A"))
    (tmp_path / "runs" / "B").mkdir()
    (tmp_path / "runs" / "B" / "record.json").symlink_to(secret)
    with pytest.raises(InputError, match="is a symbolic link"):
        load_records([tmp_path / "runs"])


def test_a_link_named_on_the_command_line_is_refused_too(tmp_path):
    secret = tmp_path / "elsewhere.json"
    secret.write_text(sealed_json(record_data("S")))
    (tmp_path / "runs" / "B").mkdir(parents=True)
    named = tmp_path / "runs" / "B" / "record.json"
    named.symlink_to(secret)
    with pytest.raises(InputError) as caught:
        load_records([named])
    assert caught.value.message == (
        f"{named}: is a symbolic link; run records are read only as regular "
        "files, never through a link"
    )
    assert [r.run_id for r in load_records([secret])] == ["S"]  # the file itself


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("image", "weird", "image must be a JSON object"),
        ("engine", [1], "engine must be a JSON object"),
        ("machine", 3, "machine must be a JSON object"),
        ("warnings", "x", "warnings must be a JSON list"),
        ("seed", "7", "seed must be an integer or null, not '7'"),
        ("seed", [[1]], "seed must be an integer or null, not a list of 1 items"),
        (
            "status",
            5,
            "status must be one of running, succeeded, failed, interrupted, not 5",
        ),
        ("status", True, "status must be one of running, succeeded, failed"),
        ("status", "done", "status must be one of running, succeeded, failed"),
        ("status", "", "status must be one of running, succeeded, failed"),
    ],
)
def test_refuses_setup_fields_of_the_wrong_shape(tmp_path, field, value, expected):
    # brkc F2: such a record raised AttributeError deep in the noise bands.
    error = _error_for(tmp_path, sealed_json(record_data("A", **{field: value})))
    assert expected in error.message


def test_start_times_sort_as_instants_whatever_their_offset(tmp_path):
    # brkc F15: 05:00+05:00 is 00:00Z, before 00:30Z; a missing start goes last.
    write_record(tmp_path, record_data("A", started_at="2024-01-01T00:30:00Z"))
    write_record(tmp_path, record_data("B", started_at="2024-01-01T05:00:00+05:00"))
    write_record(tmp_path, record_data("C", started_at="2024-01-01T00:10:00z"))
    # Only a run closed from a lost copy has no start (run_id and project known).
    write_record(
        tmp_path,
        record_data("D", started_at=None, status="interrupted", exit_code=None),
    )
    write_record(tmp_path, record_data("E", started_at="2024-01-01T00:20:00"))
    assert [r.run_id for r in load_records([tmp_path])] == ["B", "C", "E", "A", "D"]


@pytest.mark.parametrize(
    "history",
    [[{"call": 0, "epochs": 5}], [5], [{"epochs": [1, 2]}], [{"epochs": "x"}]],
)
def test_a_history_of_the_wrong_shape_is_one_input_error(tmp_path, history):
    error = _error_for(tmp_path, sealed_json(record_data("A", history=history)))
    assert "history[0] must be an object whose epochs is a list of objects" in (
        error.message
    )


@pytest.mark.parametrize(
    "value, shown",
    [
        ("0.9", "'0.9'"),
        ("nan", "'nan'"),  # only "NaN", "Infinity", "-Infinity" are reprobox's
        (True, "true"),  # bool is an int in Python, not a metric value
        (None, "null"),  # bw 6: as the JSON file spells them, not Python's
        ([0.9], "a list of 1 items"),
        ({"v": 1}, "an object of 1 items"),
    ],
)
def test_a_metric_that_is_no_number_is_a_damaged_record(tmp_path, value, shown):
    # Such a value counted as "out of tolerance", as if the run had diverged.
    data = record_data("A", metrics={"loss": 0.1, "accuracy": value})
    error = _error_for(tmp_path, sealed_json(data))
    assert error.message == (
        f"{tmp_path / 'record.json'}: metrics.accuracy must be a number (or "
        f'"NaN", "Infinity", "-Infinity"), not {shown}'
    )
    assert error.hint == "the record is damaged; re-run or leave it out"


def test_an_integer_beyond_any_float_is_a_damaged_metric(tmp_path):
    data = record_data("A", metrics={"loss": 10**400})
    error = _error_for(tmp_path, sealed_json(data))
    assert error.message.endswith(
        'metrics.loss must be a number (or "NaN", "Infinity", "-Infinity"), '
        "not an integer of 401 digits"
    )


def test_non_finite_metrics_as_reprobox_writes_them_are_read(tmp_path):
    text = json.dumps(
        record_data("A", metrics={"a": "NaN", "b": "Infinity", "c": "-Infinity"})
    )
    write_record(tmp_path, json.loads(text))
    assert dict(load_records([tmp_path])[0].metrics) == {
        "a": "NaN",
        "b": "Infinity",
        "c": "-Infinity",
    }


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("exit_code", "1", "exit_code must be an integer or null, not '1'"),
        ("exit_code", 1.0, "exit_code must be an integer or null, not 1.0"),
        ("exit_code", True, "exit_code must be an integer or null, not true"),
        ("exit_code", [0], "exit_code must be an integer or null, not a list of 1"),
        ("duration_s", "60", "duration_s must be a number of seconds >= 0 or null"),
        ("duration_s", -1.5, "duration_s must be a number of seconds >= 0 or null"),
        ("duration_s", False, "duration_s must be a number of seconds >= 0 or null"),
        ("duration_s", "NaN", "duration_s must be a number of seconds >= 0 or null"),
        (
            "duration_s",
            10**400,
            "duration_s must be a number of seconds >= 0 or null, not an integer "
            "of 401 digits",
        ),
    ],
)
def test_refuses_an_exit_code_or_duration_of_the_wrong_type(
    tmp_path, field, value, expected
):
    # brk: these were read as they came, and a failed run's headline showed them.
    error = _error_for(tmp_path, sealed_json(record_data("A", **{field: value})))
    assert error.message.startswith(f"{tmp_path / 'record.json'}: {expected}")
    assert error.hint == "the record is damaged; re-run or leave it out"


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "running", "exit_code": None, "duration_s": None},
        # the engine gave no status code
        {"status": "failed", "exit_code": -1, "duration_s": 0},
        {"status": "failed", "exit_code": 137, "duration_s": 12},
        {"status": "interrupted", "exit_code": None, "duration_s": 3},
    ],
)
def test_accepts_exit_codes_and_durations_run_writes(tmp_path, changes):
    write_record(tmp_path, record_data("A", **changes))
    [record] = load_records([tmp_path])
    assert {k: record.data[k] for k in changes} == changes


@pytest.mark.parametrize(
    "fields, shown",
    [
        ({"schema_version": True}, "true"),
        ({"schema_version": None}, "null"),
        ({}, "missing"),
    ],
)
def test_a_bad_record_schema_version_is_shown_as_json_spells_it(
    tmp_path, fields, shown
):
    # cd: the error printed Python's True and None.
    data = {"run_id": "20240101T000000Z-aaaaaa", **fields}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as refused:
        load_records([path])
    assert refused.value.message == (
        f"{path}: not a reprobox run record (schema_version is {shown})"
    )


def test_a_run_folder_without_its_record_is_named_not_skipped(tmp_path):
    # Round 34 (AR 11, AS 11): a run folder whose record.json was removed was
    # skipped silently, and another run became the reference.
    from reprobox_synthetic import record_data, write_record

    from reprobox.compare.records import load_records

    runs = tmp_path / "runs"
    write_record(runs, record_data("20260101T000000Z-aaaaaa"))
    write_record(runs, record_data("20260101T000001Z-bbbbbb"))
    (runs / "notes").mkdir()  # not named as a run: someone else's folder
    assert len(load_records([runs])) == 2
    (runs / "20251231T235959Z-cccccc").mkdir()
    with pytest.raises(InputError) as info:
        load_records([runs])
    assert info.value.message == (
        f"{runs / '20251231T235959Z-cccccc'}: a run folder with no record.json "
        "(its run never wrote one, or it was removed)"
    )


@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_a_run_folder_given_whose_record_is_no_file_is_refused_by_name(
    tmp_path, no_hang, kind
):
    # brk r37 (AX): `compare RUNFOLDER` said "holds no run record" where, in a
    # runs folder, the same record.json was refused by what it is.
    secret = tmp_path / "elsewhere.json"
    secret.write_text(sealed_json(record_data("S")))
    folder = tmp_path / "runs" / "B"
    folder.mkdir(parents=True)
    if kind == "link":
        (folder / "record.json").symlink_to(secret)
        said = "is a symbolic link"
    else:
        os.mkfifo(folder / "record.json")
        said = "not a regular file"
    with pytest.raises(InputError) as caught:
        load_records([folder])
    assert caught.value.message.startswith(f"{folder / 'record.json'}: ")
    assert said in caught.value.message


RUN_IDS = [f"20240101T00000{n}Z-{c * 6}" for n, c in enumerate("abc")]


def three_runs(runs):
    """Write three sound runs into runs; return their record files."""
    return [write_record(runs, record_data(run_id)) for run_id in RUN_IDS]


def test_a_record_linked_to_another_run_of_the_runs_folder_is_refused(tmp_path):
    # AZ 3: the key that read each file once followed the link, so a fourth
    # run whose record.json led to the first's was dropped: 3 runs, exit 0.
    runs = tmp_path / "runs"
    first = three_runs(runs)[0]
    linked = runs / "20240101T000003Z-dddddd" / "record.json"
    linked.parent.mkdir()
    linked.symlink_to(first)
    with pytest.raises(InputError) as caught:
        load_records([runs])
    assert caught.value.message == (
        f"{linked}: is a symbolic link; run records are read only as regular "
        "files, never through a link"
    )
    assert caught.value.hint == (
        "move that run folder out of the runs folder, or give the runs you "
        "mean one by one"
    )
    assert caught.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize("leads_to", ["a run elsewhere", "a run here", "nothing"])
def test_a_run_folder_that_is_a_link_in_a_runs_folder_is_refused(tmp_path, leads_to):
    # AZ 3: a run-named link that led nowhere was skipped without a word, and
    # one that led to a run elsewhere was read through.
    runs = tmp_path / "runs"
    here = three_runs(runs)[1].parent
    elsewhere = write_record(tmp_path / "x", record_data("20240102T000000Z-eeeeee"))
    target = {
        "a run elsewhere": elsewhere.parent,
        "a run here": here,
        "nothing": tmp_path / "gone",
    }[leads_to]
    link = runs / "20240102T000000Z-eeeeee"
    link.symlink_to(target)
    with pytest.raises(InputError) as caught:
        load_records([runs])
    nowhere = " that leads nowhere" if leads_to == "nothing" else ""
    assert caught.value.message == (
        f"{link}: is a symbolic link{nowhere}; a run folder is read only as "
        "itself, never through a link"
    )
    assert caught.value.hint.startswith("remove the link from the runs folder")


def test_a_link_not_named_as_a_run_is_refused_only_when_it_leads_to_one(tmp_path):
    runs = tmp_path / "runs"
    last = three_runs(runs)[-1].parent
    (tmp_path / "notes").mkdir()
    (runs / "notes").symlink_to(tmp_path / "notes")  # no run: passed over
    (runs / "broken").symlink_to(tmp_path / "gone")
    assert [r.run_id for r in load_records([runs])] == RUN_IDS
    (runs / "latest").symlink_to(last)
    with pytest.raises(InputError, match="latest: is a symbolic link; a run folder"):
        load_records([runs])


def test_an_entry_named_as_a_run_that_is_no_folder_is_refused(tmp_path):
    runs = tmp_path / "runs"
    three_runs(runs)
    (runs / "20240101T000009Z-ffffff").write_text("{}")
    with pytest.raises(InputError) as caught:
        load_records([runs])
    assert caught.value.message == (
        f"{runs / '20240101T000009Z-ffffff'}: named as a run folder, but not a folder"
    )


@pytest.mark.parametrize("broken", [False, True])
def test_a_run_folder_named_on_the_command_line_that_is_a_link_is_refused(
    tmp_path, broken
):
    # AZ 3: `compare LINK` read the run the link led to.
    run = write_record(tmp_path / "x", record_data("20240102T000000Z-eeeeee")).parent
    link = tmp_path / "20240102T000000Z-eeeeee"
    link.symlink_to(tmp_path / "gone" if broken else run)
    with pytest.raises(InputError) as caught:
        load_records([link])
    if broken:
        assert caught.value.message == (
            f"{link}: is a symbolic link that leads nowhere; run records are "
            "never read through a link"
        )
    else:
        assert caught.value.message == (
            f"{link}: is a symbolic link; a run folder is read only as itself, "
            "never through a link"
        )
        assert caught.value.hint == (
            "give the run folder it points to, or leave this run out"
        )
        assert [r.run_id for r in load_records([run])] == ["20240102T000000Z-eeeeee"]


def test_a_broken_link_named_as_a_record_is_refused_as_a_link(tmp_path):
    named = tmp_path / "record.json"
    named.symlink_to(tmp_path / "gone.json")
    with pytest.raises(InputError, match="is a symbolic link that leads nowhere"):
        load_records([named])


def test_a_runs_folder_or_project_named_through_a_link_is_read(tmp_path):
    # Only the run folders and records are the container's: the path the
    # user names to a runs folder may pass through a link of theirs.
    runs = tmp_path / "proj" / ".reprobox" / "runs"
    three_runs(runs)
    (tmp_path / "runs-link").symlink_to(runs)
    (tmp_path / "proj-link").symlink_to(tmp_path / "proj")
    for given in ("runs-link", "proj-link"):
        assert [r.run_id for r in load_records([tmp_path / given])] == RUN_IDS
