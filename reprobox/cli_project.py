"""The project a command acts on: loading it, whether a file a command writes
lands in its image, and tidying what a reprobox killed outright left there.
"""

from __future__ import annotations

import os
from pathlib import Path

from reprobox.cli_output import say, warn


def _load(project: Path):
    from reprobox.config import load_config

    return load_config(project)


def project_holding(folder: Path) -> Path | None:
    """Return the nearest folder at or above folder that is a reprobox project."""
    from reprobox.config_files import is_project_folder

    return next((f for f in [folder, *folder.parents] if is_project_folder(f)), None)


def warn_if_it_enters_an_image(
    output: Path, written: bool = False, shown: str | None = None
) -> None:
    """Warn when a file written into a project would go into its image.

    shown names the file in the warning where output only stands for it (a
    record whose run folder is not named yet); output is what is judged.

    Before the file is written it is judged by where it lands, not by the file
    there now, which is about to be replaced; once written (written=True), by
    what it holds too: a bundle holding a key is left out as a credential file.
    """
    from reprobox.image_files import is_image_file, is_image_path

    # Where the file really lands: '..' and linked folders resolved, so that a
    # path out of the project through '..' is not taken for one inside it.
    try:
        full = output.absolute().parent.resolve() / output.name
    except (OSError, RuntimeError):  # a link loop: judge the path as written
        full = Path(os.path.abspath(output))
    project = project_holding(full.parent)
    if project is None:
        return
    rel = full.relative_to(project).as_posix()
    if not is_image_path(project, rel):
        return
    # A warning, shown under -q too: a file going into the image changes its
    # tag, which nobody asked for.
    fix = (
        "write it outside the project or under .reprobox/, or list it in "
        ".reproboxignore"
    )
    if written and not is_image_file(project, rel):
        warn(
            f"{shown or output} is inside project {project}: the next build "
            "leaves it out of the image, but only because something in it reads "
            "as a credential (see `reprobox freeze` for what); a bundle without "
            f"one would go into the image, under a new tag; {fix}"
        )
        return
    # "The image" alone read as the one just exported or verified: it is the
    # next build's, which copies the project folder.
    warn(
        f"{shown or output} is inside project {project}: the next build copies it "
        f"into the image, under a new tag; {fix}"
    )


def tidy_killed_runs(cfg, engine) -> None:
    """Clean up after a reprobox killed outright in this project, on this engine.

    Its runs' records are closed and their containers removed; the tags a
    push or export it was making moved (the registry-named tag and
    `<tag>-sealed`) are put back as they were, and the copies they left
    untagged removed; and the image an import (of any project) loaded on
    this engine is tagged.
    """
    from reprobox.push_tags import sweep_killed_pushes
    from reprobox.recovery import sweep_killed_runs

    sweep_killed_runs(engine, cfg.state_dir / "runs", cfg.name, say, warn)
    sweep_killed_pushes(engine, cfg.state_dir, cfg.name, say, warn)
    tidy_killed_imports(engine)


def tidy_killed_imports(engine, label: str = "") -> None:
    """Tag (or remove) the images that imports killed outright left on engine.

    Also removes the build-context folders of builds killed outright: every
    command that reaches an engine runs this, while a build sweeps them only
    when it stages one (an up-to-date image stages nothing).
    """
    from reprobox.context_folder import remove_stale_contexts
    from reprobox.import_markers import sweep_killed_imports

    remove_stale_contexts()
    sweep_killed_imports(
        engine, lambda line: say(label + line), lambda line: warn(label + line)
    )
