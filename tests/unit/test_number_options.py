"""Number options take plain ASCII numbers, not all that int() and float() read."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from fresh_python import run_reprobox
from typer.testing import CliRunner

from reprobox.cli import app
from reprobox.number_options import NotAPlainNumber, decimal_number, whole_number

# What Python's int()/float() read but a user does not mean as a number:
# an underscore, a blank, Arabic-Indic and full-width digits.
NOT_PLAIN = ["1_0", " 2", "2 ", "\u0661", "\uff11", "0x10", ""]


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_whole_number_refuses_what_int_reads_but_is_not_plain(text):
    with pytest.raises(NotAPlainNumber):
        whole_number(text)


@pytest.mark.parametrize("text", [*NOT_PLAIN, "1.5\u0661", "1e", "1_000.5"])
def test_decimal_number_refuses_what_float_reads_but_is_not_plain(text):
    with pytest.raises(NotAPlainNumber):
        decimal_number(text)


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("-1", -1), ("+3", 3)])
def test_whole_number_reads_plain_digits(text, value):
    assert whole_number(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("1.5", 1.5), (".5", 0.5), ("2", 2.0), ("5e-3", 0.005)]
)
def test_decimal_number_reads_plain_decimals(text, value):
    assert decimal_number(text) == value


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    return tmp_path


# Each number option of each command, with a value of its kind.
OPTIONS = [
    (["run"], "--repeat", "whole number", "10"),
    (["run"], "--seed", "whole number", "10"),
    (["run"], "--cpus", "number", "10"),
    (["compare"], "--epsilon", "number", "10"),
    (["report"], "--epsilon", "number", "10"),
]


@pytest.mark.parametrize(("command", "flag", "kind", "meant"), OPTIONS)
@pytest.mark.parametrize("value", ["1_0", "\u0661\u0660", "\uff11\uff10", " 10"])
def test_each_number_option_refuses_a_value_that_is_not_plain(
    project, command, flag, kind, meant, value
):
    result = CliRunner().invoke(app, [*command, str(project), flag, value])
    assert result.exit_code == 2, result.output
    assert (
        f"Invalid value for '{flag}': '{value}' is not a {kind} in ASCII digits; "
        f"write e.g. {flag} {meant}"
    ) in result.output


def test_a_value_python_cannot_read_gets_a_plain_example(project):
    result = CliRunner().invoke(app, ["run", str(project), "--cpus", "abc"])
    assert result.exit_code == 2
    assert "'abc' is not a number in ASCII digits; write e.g. --cpus 1.5" in (
        result.output
    )


def test_plain_values_still_reach_the_options_own_checks(project):
    # --seed -1 is read as a number, then refused by the seed's range check.
    result = CliRunner().invoke(app, ["run", str(project), "--seed", "-1"])
    assert "--seed -1 is out of range" in str(result.exception)


def test_the_refusal_is_one_line_and_exit_2(project):
    result = run_reprobox("run", str(project), "--repeat", "1_0")
    assert result.returncode == 2
    assert result.stderr == (
        "reprobox: error: invalid value for '--repeat': '1_0' is not a whole "
        "number in ASCII digits; write e.g. --repeat 10 (see reprobox run --help)\n"
    )


def test_every_number_option_of_every_command_is_read_plainly():
    # An option added later is covered too: cli.py gives every int and float
    # parameter the plain parser; without one, click reads "1_0" as 10.
    group = typer.main.get_command(app)
    numbers, unread = set(), []
    for name, command in group.commands.items():
        for param in command.params:
            described = param.type_descriptor
            if described.annotation not in (int, float) or getattr(
                param, "count", False
            ):
                continue
            numbers.add((name, param.name))
            if described.parameter_info.parser is None:
                unread.append((name, param.name))
    assert unread == []
    assert numbers == {
        ("run", "repeat"),
        ("run", "seed"),
        ("run", "cpus"),
        ("compare", "epsilon"),
        ("report", "epsilon"),
    }
