"""Refuse data entries that name files the image must hold instead.

Data files are mounted read-only at run time and left out of the image, so a
`data` entry that names the command's script, its module or the requirements
the lock is made from builds an image without them: the run works here only
through the mount, and push, export and verify ship an image that cannot run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reprobox.command_words import command_files
from reprobox.errors import ConfigError


def refuse_data_the_image_needs(
    config: Path,
    data: Sequence[str],
    command: Sequence[str],
    needed: dict[str, str],
) -> None:
    """Refuse a data entry that names a file the image must carry.

    needed maps other project files the image must hold (the requirements the
    lock is made from) to what they are; the command's script is found in its
    words. Data entries are files, so only the same path counts.
    """
    wanted = dict(needed)
    for path in command_files(command):
        wanted.setdefault(path, "the command's script")
    for entry in data:
        for path, what in wanted.items():
            if entry == path:
                raise ConfigError(
                    config,
                    "data",
                    f"{entry!r} is {what}; data files are mounted at run time and "
                    "left out of the image, so the image would not hold it",
                    f"remove {entry!r} from data: it goes into the image by itself",
                )
