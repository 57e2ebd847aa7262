"""Project files reprobox reads that also go into the image as they are.

The requirements file, the files it includes with -r, and pyproject.toml are
read for the lock or the config, and copied with the project's code, byte for
byte: a token in a comment there is in every copy of the image. Each is read
whole, comments included, for credentials; the secret itself is never shown.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reprobox.config import ProjectConfig
from reprobox.errors import InputError
from reprobox.lock.requirements_file import PYPROJECT, requirements_files
from reprobox.secret_shapes import credential_line


def files_read_by_reprobox(cfg: ProjectConfig) -> list[str]:
    """Return the project files reprobox reads itself, as posix paths under root."""
    root = os.path.abspath(cfg.root)
    paths: list[Path] = []
    if cfg.requirements:
        paths += requirements_files(cfg.root / cfg.requirements, root=cfg.root)
    if (cfg.root / PYPROJECT).is_file():
        paths.append(cfg.root / PYPROJECT)
    found: list[str] = []
    for path in paths:
        # An include may say ../common.txt; the image holds it by its own path.
        rel = os.path.relpath(os.path.normpath(os.path.abspath(path)), root)
        rel = Path(rel).as_posix()
        if not rel.startswith("../") and rel not in found:
            found.append(rel)
    return found


def refuse_written_credentials(
    cfg: ProjectConfig, in_image: Callable[[str], bool]
) -> None:
    """Refuse a file reprobox reads that goes into the image with a credential."""
    for rel in files_read_by_reprobox(cfg):
        if rel in cfg.data or not in_image(rel):
            continue  # data files are mounted at run time, never copied
        try:
            text = (cfg.root / rel).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue  # reading it for the lock or config says what is wrong
        number = credential_line(text)
        if number is not None:
            raise InputError(
                f"{cfg.root / rel}:{number}: holds a credential (a token, or a "
                "password or token in a URL), comment or not, and this file is "
                "copied into the image",
                hint="remove it from that line, or list the file in "
                ".reproboxignore to keep it out of the image",
            )
