from reprobox import cli


def test_printing_stops_quietly_once_the_reader_is_gone(monkeypatch):
    calls = []

    def echo(text, err=False):
        calls.append(text)
        if len(calls) == 2:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli.typer, "echo", echo)
    monkeypatch.setitem(cli._state, "quiet", False)
    monkeypatch.setitem(cli._state, "stderr_gone", False)
    printer = cli.log_printer("[a] ")
    for line in ("one", "two", "three"):
        printer(line)  # never raises
    cli.say("progress")
    assert calls == ["[a] one", "[a] two"]


def test_quiet_prints_nothing(monkeypatch):
    monkeypatch.setitem(cli._state, "quiet", True)
    assert cli.log_printer() is None
