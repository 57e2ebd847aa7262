"""Find the jinja2 templates, in an installed wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

import jinja2


def templates_dir() -> Path:
    """Return the folder holding reprobox's templates."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("reprobox templates are missing from this install")


def environment(*, autoescape: bool) -> jinja2.Environment:
    """Return a strict jinja2 environment over the templates folder."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
