"""A single-value option given twice is refused, for every command's options."""

from __future__ import annotations

import pytest
import typer.main
from fresh_python import run_reprobox
from typer.testing import CliRunner

from reprobox.cli import app
from reprobox.option_repeats import find_repeated_option, takes_one_value

GROUP = typer.main.get_command(app)


def _every_option():
    """Yield (command name, option) for every option of every command."""
    for name, command in sorted(GROUP.commands.items()):
        for param in command.params:
            if param.param_type_name == "option":
                yield name, param


SINGLE = [(n, p) for n, p in _every_option() if takes_one_value(p)]
REPEATING = [(n, p) for n, p in _every_option() if p.multiple]


def _values(param, first: str) -> list[str]:
    return [f"{first}{i}" for i in range(param.nargs)]


@pytest.mark.parametrize(
    ("name", "param"), SINGLE, ids=[f"{n} {max(p.opts, key=len)}" for n, p in SINGLE]
)
@pytest.mark.parametrize("spelling", ["short", "long"])
def test_every_single_value_option_given_twice_is_a_usage_error(name, param, spelling):
    # Round 35 F4: `--seed 1 --seed 2`, `-o a -o b`, `--reference x
    # --reference y` silently took the last value. Every option of every
    # command is read from the command tree, so a new one is covered too.
    opts = sorted(param.opts, key=len)
    flag = opts[0] if spelling == "short" else opts[-1]
    args = [flag, *_values(param, "a"), opts[-1], *_values(param, "b")]
    result = CliRunner().invoke(app, [name, *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    longest = max(param.opts, key=len)
    shown = " ".join(_values(param, "a")), " ".join(_values(param, "b"))
    assert (
        f"{longest} given twice ({shown[0]} and {shown[1]}): give it once"
        in result.output
    )


def test_the_tree_holds_the_options_the_breakers_named():
    names = {(n, max(p.opts, key=len)) for n, p in SINGLE}
    assert {
        ("run", "--seed"),
        ("report", "--output"),
        ("compare", "--reference"),
        ("export", "--output"),
    } <= names
    assert ("run", "--host") in {(n, max(p.opts, key=len)) for n, p in REPEATING}


@pytest.mark.parametrize(
    ("name", "param"),
    REPEATING,
    ids=[f"{n} {max(p.opts, key=len)}" for n, p in REPEATING],
)
def test_options_meant_to_repeat_may_repeat(name, param):
    flag = max(param.opts, key=len)
    args = [flag, *_values(param, "a"), flag, *_values(param, "b")]
    assert find_repeated_option(GROUP.commands[name].params, args) is None


def test_every_command_checks_its_options():
    # The check sits in the command class every command is given.
    from reprobox.cli import _CommandNamingItsHelp

    assert all(isinstance(c, _CommandNamingItsHelp) for c in GROUP.commands.values())


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["--seed=1", "--seed", "2"], ("--seed", "1", "2")),
        (["-o", "a", "--output=b"], ("--output", "a", "b")),
        (["-oa", "-ob"], ("--output", "a", "b")),
        (["--seed", "1", "-e", "x", "-e", "y"], None),
        # A value is the next word whatever it looks like, as click reads it.
        (["--env", "--seed", "--seed", "3"], None),
        (["--output", "--seed", "--seed", "1"], None),
        (["--seed", "1", "--", "--seed", "2"], None),
        (["--json", "--json", "--seed", "1"], None),
        (["--seed", "1", "--seed", "1"], ("--seed", "1", "1")),
    ],
)
def test_the_command_line_is_read_as_click_reads_it(args, found):
    params = [
        *GROUP.commands["run"].params,
        *(p for p in GROUP.commands["report"].params if "--output" in p.opts),
    ]
    got = find_repeated_option(params, args)
    assert (got and (got.name, got.first, got.second)) == found


def test_the_cli_refuses_it_in_one_line_exit_2(tmp_path):
    result = run_reprobox("run", "--seed", "1", "--seed", "2", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "reprobox: error: --seed given twice (1 and 2): give it once "
        "(see reprobox run --help)\n"
    )


def test_a_password_in_a_repeated_value_is_not_shown(tmp_path):
    result = run_reprobox(
        "push",
        "--registry",
        "https://me:hunter22@reg.example",
        "--registry",
        "reg.example",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "hunter22" not in result.stderr
    assert "--registry given twice" in result.stderr
