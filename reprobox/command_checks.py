"""Refuse a command whose script the image would not hold or reach.

Missing, left out (by .reproboxignore, say) or reached only through a folder
the image gets no file of, the script is missing from /app, and the run would
fail as training would, exit 1, though nothing was trained.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path

from reprobox.command_words import ScriptPath, command_paths, python_flag_without_value
from reprobox.config import ProjectConfig
from reprobox.errors import ConfigError
from reprobox.image_files import why_left_out
from reprobox.image_paths import missing_script, reaches_in_image

# What a Python option that takes a value looks like given one.
_FLAG_EXAMPLES = {
    "-m": "python -m package",
    "-c": "python -c 'print(1)'",
    "-W": "python -W ignore",
    "-X": "python -X dev",
}


def refuse_command_that_cannot_start(cfg: ProjectConfig, files: Sequence[str]) -> None:
    """Refuse a command the image could not start: Python given an option
    without its value, or a script missing from the project, left out of the
    image (by .reproboxignore, say), reached only through a folder the image
    gets no file of, or through a folder outside /app. Each would fail the run
    as training would, exit 1, though nothing was trained.
    """
    root = cfg.root.resolve()
    flag = python_flag_without_value(cfg.command)
    if flag is not None:
        example = _FLAG_EXAMPLES.get(flag, f"python {flag} VALUE")
        raise ConfigError(
            cfg.source,
            cfg.key("command"),
            f"ends on Python's {flag} with nothing after it, so Python would not start",
            f"give {flag} its value (e.g. {example}), or drop it",
        )
    kept = set(files)
    for found in command_paths(cfg.command):
        if found.project in cfg.data:
            continue  # data entries are refused apart (refuse_data_the_image_needs)
        if found.detour:
            if found.by_path:
                _refuse_detour(cfg, found)
            continue
        if found.by_path:
            _refuse_missing_script(cfg, root, found)
        target = _file_on_disk(root, found.project)
        if target is not None and target not in kept:
            _refuse_script_left_out(cfg, root, found, target)
        if found.by_path and reaches_in_image(root, found.rel, kept) is None:
            # The image holds files, not the project's folders: an empty or
            # left-out folder on the way, or a link into one, is not there.
            key = cfg.key("command")
            raise ConfigError(
                cfg.source,
                key,
                f"runs {_as_written(found)}, which the image would not reach: a folder "
                "on its way, or where a link on it points, holds no file the "
                "image gets (empty, or left out), so the run could not start it",
                f"name the script by its own path ({_tidied(found)!r}) in {key}, "
                "or copy what it needs into the image",
            )


def _tidied(found: ScriptPath) -> str:
    """Return the script's path tidied, spelt as the command spells it."""
    if not found.written.startswith("/"):
        return found.project
    return "/app" if found.project == "." else f"/app/{found.project}"


def _as_written(found: ScriptPath) -> str:
    """Return the script's path as the command writes it, for a message; an
    absolute one with the project path it names beside it."""
    if not found.written.startswith("/"):
        return repr(found.written)
    if found.project == ".":
        return f"{found.written!r} (the project folder)"
    return f"{found.written!r} (the project's {found.project!r})"


def _refuse_detour(cfg: ProjectConfig, found: ScriptPath) -> None:
    """Refuse a script path that enters /app through a folder outside it."""
    # /tmp/../app/x.py opens /tmp first: whether the base image has that
    # folder is not known here, and no one needs that spelling.
    key = cfg.key("command")
    # At / a ".." stays at /, as normpath reads it: the path ends in /app.
    absolute = posixpath.join("/app", found.written).lstrip("/")
    absolute = posixpath.normpath(f"/{absolute}")
    project = posixpath.relpath(absolute, "/app")
    raise ConfigError(
        cfg.source,
        key,
        f"runs {found.written!r}, which goes through {found.detour!r}, a folder "
        "outside /app, before it enters /app: whether the image has that folder "
        "is not known here, so the run might not start it",
        f"write {absolute!r} or {project!r} in {key}",
    )


def _file_on_disk(root: Path, project: str) -> str | None:
    """Return the project file a path names once its links are followed
    (lnk/t.py with lnk -> sub: sub/t.py), or None where it names no file in
    the project. root is resolved."""
    full = root / project
    if not full.is_file():
        return None
    try:
        return full.resolve().relative_to(root).as_posix()
    except (OSError, RuntimeError, ValueError):
        return None  # out of the project: the walk through the image refuses it


def _refuse_script_left_out(
    cfg: ProjectConfig, root: Path, found: ScriptPath, target: str
) -> None:
    """Refuse a script the project has that the image would not get."""
    why, fix = why_left_out(root, target, "script")
    what = "which is not copied into the image"
    if target != found.project:  # reached through a link
        what = f"which leads to {target!r}, a file not copied into the image"
    raise ConfigError(
        cfg.source,
        cfg.key("command"),
        f"runs {_as_written(found)}, {what} ({why}), so the run could not start it",
        fix,
    )


def _refuse_missing_script(cfg: ProjectConfig, root: Path, found: ScriptPath) -> None:
    """Refuse a script path, as the command writes it, the project has no script at."""
    there = missing_script(root, found.rel)
    if there is None:
        return
    key = cfg.key("command")
    if there == "not as written":
        # "train.py/": the system opens each part of a path as written.
        named = _tidied(found)
        raise ConfigError(
            cfg.source,
            key,
            f"runs {found.written!r}, which names no file as written (only "
            f"{named!r}, its tidied form, is one), so the run could not start it",
            f"write {named!r} in {key}",
        )
    what, fix = {
        "nothing": (
            "not in the project (no such file)",
            f"create it, or fix the path in {key}",
        ),
        "a folder": (
            "a folder with no __main__.py, not a script",
            f"name the script itself in {key}",
        ),
        "a broken link": (
            "not in the project (it is a link to a missing file)",
            f"point the link at the script, or fix the path in {key}",
        ),
        "outside": (
            "not in the project (its path leads out of the project folder)",
            f"move the script into the project and fix the path in {key}",
        ),
    }[there]
    raise ConfigError(
        cfg.source,
        key,
        f"runs {_as_written(found)}, which is {what}, so the run could not start it",
        fix,
    )
