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


@pytest.mark.parametrize(
    "text", [*NOT_PLAIN, "1.5\u0661", "1e", "1_000.5", "\u0131nf", "na\u0144"]
)
def test_decimal_number_refuses_what_float_reads_but_is_not_plain(text):
    with pytest.raises(NotAPlainNumber):
        decimal_number(text)


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("-1", -1)])
def test_whole_number_reads_plain_digits(text, value):
    assert whole_number(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.5", 1.5), (".5", 0.5), ("2", 2.0), ("5e-3", 0.005), ("-.5", -0.5)],
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


def test_a_dotless_i_in_inf_is_refused_in_reprobox_words(project):
    # re.IGNORECASE matched "\u0131" to i; float() then said "could not convert".
    result = run_reprobox("compare", str(project), "--epsilon", "\u0131nf")
    assert result.returncode == 2
    assert result.stderr == (
        "reprobox: error: invalid value for '--epsilon': '\u0131nf' is not a number "
        "in ASCII digits; write e.g. --epsilon 1.5 (see reprobox compare --help)\n"
    )


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


@pytest.mark.parametrize("text", ["+3", "+0", "1e+3", "+.1", "+inf"])
def test_a_plus_is_refused_in_every_number(text):
    # --seed +3 ran seed 3 while --seeds +1 and --gpus +1 were refused.
    for read in (whole_number, decimal_number):
        with pytest.raises(NotAPlainNumber, match='has a "\\+"'):
            read(text)


@pytest.mark.parametrize(("command", "flag", "kind", "meant"), OPTIONS)
def test_each_number_option_refuses_a_plus_naming_the_plain_value(
    project, command, flag, kind, meant
):
    result = CliRunner().invoke(app, [*command, str(project), flag, "+10"])
    assert result.exit_code == 2, result.output
    assert (
        f"Invalid value for '{flag}': '+10' has a \"+\", which number options do "
        f"not take; write e.g. {flag} 10"
    ) in result.output


def test_a_plus_in_an_exponent_is_refused_with_the_number_meant(project):
    result = run_reprobox("run", str(project), "--cpus", "1e+1")
    assert result.returncode == 2
    assert (
        "'1e+1' has a \"+\", which number options do not take; write e.g. "
        "--cpus 10" in result.stderr
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "--seed", "-1"], "--seed -1 is out of range"),
        (["run", "--cpus", "-1"], "--cpus -1 is below the least CPU share"),
        (
            ["compare", "--epsilon", "-.1"],
            "--epsilon -.1 is not a finite number >= 0",
        ),
        (["report", "--epsilon", "-1"], "--epsilon -1 is not a finite number >= 0"),
        (["compare", "--epsilon", "nan"], "--epsilon nan is not a finite number >= 0"),
    ],
)
def test_a_negative_reaches_the_options_own_range_check(project, args, said):
    result = run_reprobox(args[0], str(project), *args[1:])
    assert result.returncode == 2
    assert said in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_negative_repeat_is_refused_as_not_a_count():
    from reprobox.errors import InputError
    from reprobox.multirun import plan_jobs
    from reprobox.run_options import RunOptions

    with pytest.raises(InputError, match="--repeat -1 is not a count"):
        plan_jobs(["local"], RunOptions(), seeds=None, repeat=-1)


@pytest.mark.parametrize(("spec", "fix"), [("+1", "1"), ("+1-+3", "1-3")])
def test_seeds_refuse_a_plus_as_every_number_flag(spec, fix):
    from reprobox.errors import InputError
    from reprobox.multirun import parse_seeds

    with pytest.raises(InputError) as raised:
        parse_seeds(spec)
    assert raised.value.message == (
        f'--seeds {spec!r} has a "+", which number options do not take'
    )
    assert raised.value.hint == f"write --seeds {fix}"


@pytest.mark.parametrize(("value", "fix"), [("+1", "1"), ("device=+0", "device=0")])
def test_gpus_refuse_a_plus_as_every_number_flag(value, fix):
    from reprobox.errors import InputError
    from reprobox.gpu.devices import parse_gpus_option

    with pytest.raises(InputError) as raised:
        parse_gpus_option(value)
    assert raised.value.message == (
        f'--gpus {value!r} has a "+", which number options do not take'
    )
    assert raised.value.hint == f"write --gpus {fix}"


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ("acc=abs:+1", "'+1' has a \"+\", which number options do not take"),
        ("acc=rel:1e+2", "'1e+2' has a \"+\", which number options do not take"),
        ("acc=abs:-1", "abs must be a finite number >= 0"),
        ("acc=abs:1_0", "'1_0' is not a number in ASCII digits"),
    ],
)
def test_tol_bounds_follow_the_number_flag_rule(item, said):
    from reprobox.cli_compare import _parse_tolerances
    from reprobox.errors import InputError

    with pytest.raises(InputError) as raised:
        _parse_tolerances([item])
    assert raised.value.message == f"--tol {item!r}: {said}"


@pytest.mark.parametrize(
    ("flag", "value", "example"),
    [("--seed", "7.0", "7"), ("--repeat", "2.0", "2"), ("--repeat", "2.5", "3")],
)
def test_a_whole_number_written_as_a_float_is_shown_its_plain_spelling(
    project, flag, value, example
):
    # brk r40 (BC 6b): --seed 7.0 was told "write e.g. --seed 3", which read
    # as if 7.0 had been taken for 3.
    result = run_reprobox("run", str(project), flag, value)
    assert result.returncode == 2
    assert f"; write e.g. {flag} {example} (see reprobox run --help)" in result.stderr
