"""The `reprobox build` command: build the project's image from .reprobox/."""

from __future__ import annotations

from pathlib import Path

import typer

from reprobox.atomic import dump_json
from reprobox.cli_app import CaCertOpt, ContextOpt, HostOpt, JsonOpt, ProjectArg, app
from reprobox.cli_image_build import _build
from reprobox.cli_interrupts import interruptible
from reprobox.cli_output import echo
from reprobox.cli_project import _load, tidy_killed_runs


@app.command(short_help="Build the project's image (skipped when unchanged).")
@interruptible
def build(
    project: Path = ProjectArg,
    ca_cert: Path | None = CaCertOpt,
    force: bool = typer.Option(
        False, "--force", help="Build even if the image exists."
    ),
    host: str | None = HostOpt,
    context: str | None = ContextOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build the project's image from .reprobox/ (skipped when unchanged)."""
    from reprobox.engine import connect

    cfg = _load(project)
    engine = connect(host, context)
    tidy_killed_runs(cfg, engine)
    result = _build(cfg, engine, ca_cert, force)
    if as_json:
        typer.echo(
            dump_json(
                {
                    "schema_version": 1,
                    "tag": result.tag,
                    "image_id": result.image_id,
                    "built": result.built,
                }
            ),
            nl=False,
        )
    else:
        verb = "built" if result.built else "up to date, not rebuilt:"
        echo(f"{verb} {result.tag} ({result.image_id[7:19]})")
