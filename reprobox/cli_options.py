"""Checks made on every command's arguments as they are parsed.

Done once for all the commands (add_parse_checks), so that no path, number or
option can be added without them: an empty path, a number click would read
loosely ("1_0"), an option given twice, and a usage error that points to the
command's own --help.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import typer

from reprobox.cli_output import _one_line, _shown_error

# typer ships its own click; its usage errors are reached through the one
# class it exports, rather than by importing click.
_UsageError = typer.BadParameter.__mro__[1]
_ClickException = _UsageError.__mro__[1]


def add_parse_checks(app: typer.Typer) -> None:
    """Give every command registered on app the checks of its arguments."""
    _refuse_empty_paths(app)
    _refuse_unplain_numbers(app)
    _name_each_commands_help(app)


def _nonempty_path(text: str) -> Path:
    """Turn an argument into a Path, refusing "" (Path("") is the current folder)."""
    if not text:
        raise typer.BadParameter("an empty path; give a file or folder path")
    return Path(text)


def _refuse_empty_paths(app: typer.Typer) -> None:
    """Give every path argument and option of every command _nonempty_path.

    An empty string quietly became ".", so `--runs-dir ''` wrote into the
    current folder; done once here, no path option can be added without it.
    """
    import inspect
    import typing

    for command in app.registered_commands:
        hints = typing.get_type_hints(command.callback)
        for name, param in inspect.signature(command.callback).parameters.items():
            hint = hints.get(name)
            inner = typing.get_args(hint)  # Path | None, list[Path]
            if hint is Path or Path in inner:
                param.default.parser = _nonempty_path


def _refuse_unplain_numbers(app: typer.Typer) -> None:
    """Read every int and float parameter of every command as plain ASCII.

    click read them with int() and float(), which take "1_0", " 2" and digits
    of any script; done once here, no number option can be added without it.
    """
    import inspect
    import typing

    for command in app.registered_commands:
        hints = typing.get_type_hints(command.callback)
        for name, param in inspect.signature(command.callback).parameters.items():
            info = param.default
            if not isinstance(info, typer.models.ParameterInfo):
                continue
            if getattr(info, "count", False):  # -v -v: counted, not read
                continue
            kind = hints.get(name)
            inner = typing.get_args(kind)  # int | None
            shown = info.param_decls[0] if info.param_decls else name.upper()
            for number in (int, float):
                if kind is number or number in inner:
                    info.parser = _plain_number_parser(shown, number)


def _plain_number_parser(flag: str, number: type) -> Callable:
    """Return a parser of flag's value that takes plain ASCII numbers only."""
    from reprobox.number_options import (
        NotAPlainNumber,
        decimal_number,
        reads_as_zero,
        whole_number,
    )

    read = whole_number if number is int else decimal_number
    plain = "3" if number is int else "1.5"  # an example every such flag takes

    def parse(value):
        if isinstance(value, (int, float)):  # the option's default
            return value
        try:
            return read(value)
        except NotAPlainNumber as exc:
            example = plain
            with suppress(ValueError, OverflowError):
                meant = number(value)  # what Python read in it: "1_0" is 10
                if abs(meant) != float("inf") and meant == meant:
                    example = f"{meant:g}" if number is float else str(meant)
            with suppress(ValueError, OverflowError):
                whole = float(value)  # --seed 7.0 means 7, not the 3 shown before
                if number is int and whole.is_integer():
                    example = str(int(whole))
                if reads_as_zero(value, whole):
                    # 1e-400 reads as 0: "write e.g. --cpus 0" was refused
                    # next (brk r45, BK 2 and BL F1).
                    example = plain
            raise typer.BadParameter(
                f"{_shown_value(value)!r} {exc}; write e.g. {flag} {example}"
            ) from None

    parse.__name__ = number.__name__  # the help shows <int>, <float> as before
    return parse


class _CommandNamingItsHelp(typer.core.TyperCommand):
    """A command whose parsing errors know which command they belong to.

    click's option parser raises "option '--env' requires an argument" (and
    "does not take a value") without a context, so the line pointed to
    `reprobox --help` rather than the command's own help.
    """

    def parse_args(self, ctx, args):
        _refuse_repeated_option(ctx, self, args)
        try:
            return super().parse_args(ctx, args)
        except _UsageError as exc:
            if exc.ctx is None:
                exc.ctx, exc.cmd = ctx, self
            raise


def _refuse_repeated_option(ctx, command, args) -> None:
    """Refuse an option that keeps one value given twice: click kept the last."""
    from reprobox.option_repeats import find_repeated_option

    found = find_repeated_option(command.params, args)
    if found is None:
        return
    first, second = (_shown_value(v) for v in (found.first, found.second))
    raise _UsageError(
        f"{found.name} given twice ({first} and {second}): give it once", ctx=ctx
    )


def _shown_value(value: str) -> str:
    """Show a value the user typed in an error: one line, short, no password."""
    shown = _shown_error(_one_line(value))
    return shown if len(shown) <= 60 else shown[:59] + "\u2026"


def _name_each_commands_help(app: typer.Typer) -> None:
    """Make every command one whose usage errors point to its own --help."""
    for command in app.registered_commands:
        if command.cls in (None, typer.core.TyperCommand):
            command.cls = _CommandNamingItsHelp
