import pytest

from reprobox import cli, cli_output


def test_printing_stops_quietly_once_the_reader_is_gone(monkeypatch):
    calls = []

    def echo(text, err=False):
        calls.append(text)
        if len(calls) == 2:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli_output.typer, "echo", echo)
    monkeypatch.setitem(cli_output._state, "quiet", False)
    monkeypatch.setitem(cli_output._state, "stderr_gone", False)
    printer = cli_output.log_printer("[a] ")
    for line in ("one", "two", "three"):
        printer(line)  # never raises
    cli_output.say("progress")
    assert calls == ["[a] one", "[a] two"]


def test_quiet_prints_nothing(monkeypatch):
    monkeypatch.setitem(cli_output._state, "quiet", True)
    assert cli_output.log_printer() is None


def test_quiet_keeps_warnings_and_its_help_says_so(monkeypatch):
    # bt 4: --help said "Only errors on stderr", yet warnings are shown.
    from typer.testing import CliRunner

    calls = []
    monkeypatch.setattr(
        cli_output.typer, "echo", lambda text, err=False, nl=True: calls.append(text)
    )
    monkeypatch.setitem(cli_output._state, "quiet", True)
    monkeypatch.setitem(cli_output._state, "stderr_gone", False)
    cli_output.say("progress")
    cli_output.warn("kept")
    assert calls == ["reprobox: warning: kept"]
    monkeypatch.undo()
    help_text = CliRunner().invoke(cli.app, ["--help"]).output
    shown = " ".join(help_text.replace("│", " ").split())  # rich's box, wrapped
    assert "only warnings and errors" in shown


def test_container_output_cannot_drive_the_terminal(monkeypatch):
    calls = []
    monkeypatch.setattr(
        cli_output.typer, "echo", lambda text, err=False, nl=True: calls.append(text)
    )
    monkeypatch.setitem(cli_output._state, "quiet", False)
    monkeypatch.setitem(cli_output._state, "stderr_gone", False)
    cli_output.log_printer()("epoch 1\x1b]0;pwned\x07 \x1b[2J\u202e\tdone")
    cli_output.warn("metric 'a\x1b[31m' is odd")
    assert calls == [
        "epoch 1\\x1b]0;pwned\\x07 \\x1b[2J\\u202e\tdone",
        "reprobox: warning: metric 'a\\x1b[31m' is odd",
    ]


def test_run_summary_shows_escapes_in_metric_names(monkeypatch, tmp_path):
    from reprobox import cli_run

    calls = []
    monkeypatch.setattr(
        cli_run.typer, "echo", lambda text, err=False, nl=True: calls.append(text)
    )
    record = {
        "run_id": "r",
        "status": "succeeded",
        "duration_s": 1.0,
        "metrics": {"acc\x1b[2J": 0.5, "x\n  test_accuracy   0.999999": 1.0},
        "warnings": [],
    }
    cli_run._print_summary(record, tmp_path / "record.json")
    assert calls[1] == "  " + "acc\\x1b[2J".ljust(24) + " 0.5"
    # A line break in a name cannot draw a row of its own.
    assert calls[2] == "  x\\x0a  test_accuracy   0.999999 1.0"
    assert all("\n" not in call for call in calls)


def test_an_engine_call_nobody_caught_is_engine_trouble_in_one_line(
    monkeypatch, capsys
):
    import pytest
    import requests.exceptions

    def stalls(**kwargs):
        raise requests.exceptions.ConnectionError(
            "('Connection aborted.', ReadTimeout('read timed out'))\nsecond line"
        )

    from reprobox import engine

    monkeypatch.setattr(cli, "app", stalls)
    monkeypatch.setattr(engine, "_last_address", "unix:///tmp/px.sock")
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 3
    err = capsys.readouterr().err
    assert err.startswith(
        "reprobox: error: the Docker engine at 'unix:///tmp/px.sock' failed while "
        "answering a request: it stopped answering (read timed out) (check that "
        "engine"
    )
    assert err.count("\n") == 1 and "Connection aborted" not in err


def test_a_dropped_engine_connection_reads_the_same_everywhere(monkeypatch, capsys):
    import pytest
    import requests.exceptions

    from reprobox import engine

    def dropped(**_):
        raise requests.exceptions.ConnectionError(
            "('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))"
        )

    monkeypatch.setattr(cli, "app", dropped)
    monkeypatch.setattr(engine, "_last_address", "unix:///tmp/px.sock")
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 3
    err = capsys.readouterr().err
    assert "at 'unix:///tmp/px.sock' failed while answering a request: the " in err
    assert "connection broke" in err and "ConnectionRefusedError" not in err


def test_a_full_disk_is_still_a_file_problem(monkeypatch, capsys):
    import errno

    import pytest

    def full(**kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/x/record.json")

    monkeypatch.setattr(cli, "app", full)
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 2
    assert "reprobox: error: /x/record.json: No space left on device" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    "message, shown",
    [
        (
            "--registry 'u:s3cret@127.0.0.1:5000/bf' is not HOST[:PORT][/PATH]",
            "--registry 'u:***@127.0.0.1:5000/bf' is not HOST[:PORT][/PATH]",
        ),
        (
            "--host 'tcp://u:s3cret@10.0.0.1:2375' is bad",
            "--host 'tcp://***@10.0.0.1:2375' is bad",
        ),
        ("'u:s3cret@reg.io/x:1' is not an image", "'u:***@reg.io/x:1' is not an image"),
        ("give ssh://[USER@]HOST[:PORT]", "give ssh://[USER@]HOST[:PORT]"),
        ("127.0.0.1:5000/bf/x@sha256:abcd", "127.0.0.1:5000/bf/x@sha256:abcd"),
    ],
)
def test_an_error_never_shows_a_password_the_user_typed(
    monkeypatch, capsys, message, shown
):
    from reprobox.errors import InputError

    def fails(**kwargs):
        raise InputError(message)

    monkeypatch.setattr(cli, "app", fails)
    with pytest.raises(SystemExit):
        cli.main()
    assert capsys.readouterr().err == f"reprobox: error: {shown}\n"
