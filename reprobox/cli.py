"""The reprobox command line: parse, check, dispatch; the core does the work.

Exit codes: 0 success; 1 the job ran and said no (run failed, compare out of
tolerance); 2 bad input; 3 Docker engine trouble; 130 interrupted.

Each command lives in a module of its own that registers it on the app
(cli_app); importing this module imports them all, in the order --help lists
them, then gives every command the checks of its arguments (cli_options).
main() runs the app so assembled (cli_main).
"""

from __future__ import annotations

from reprobox.cli_app import (
    CaCertOpt,
    ContextOpt,
    HostOpt,
    JsonOpt,
    ProjectArg,
    app,
)
from reprobox.cli_image_build import _build, build_secrets
from reprobox.cli_interrupts import (
    finished_step,
    interrupted_message,
    interruptible,
    left_behind,
)
from reprobox.cli_main import run_command_line
from reprobox.cli_options import _CommandNamingItsHelp, add_parse_checks
from reprobox.cli_output import (
    _one_line,
    _printable,
    _state,
    _to_stderr,
    echo,
    log_printer,
    say,
    warn,
)
from reprobox.cli_project import (
    _load,
    project_holding,
    tidy_killed_imports,
    tidy_killed_runs,
    warn_if_it_enters_an_image,
)

# The commands register themselves on `app` as their modules are imported,
# so this order is the order --help lists them in.
# isort: off
from reprobox import cli_freeze, cli_build, cli_run, cli_compare, cli_share  # noqa: F401
# isort: on

# What other modules and tests import from reprobox.cli, wherever it now lives.
__all__ = [
    "CaCertOpt",
    "ContextOpt",
    "HostOpt",
    "JsonOpt",
    "ProjectArg",
    "_CommandNamingItsHelp",
    "_build",
    "_load",
    "_one_line",
    "_printable",
    "_state",
    "_to_stderr",
    "app",
    "build_secrets",
    "echo",
    "finished_step",
    "interrupted_message",
    "interruptible",
    "left_behind",
    "log_printer",
    "main",
    "project_holding",
    "say",
    "tidy_killed_imports",
    "tidy_killed_runs",
    "warn",
    "warn_if_it_enters_an_image",
]

add_parse_checks(app)


def main(*, then_leave: bool = False) -> None:
    """Run the CLI; turn reprobox errors into one line and an exit code.

    The app run is the one every command module above has registered its
    commands on (see cli_main.run_command_line for what then_leave says).
    """
    run_command_line(app, then_leave=then_leave)
