"""Record a pushed image in the `published` list of the manifest it was built from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprobox.atomic import atomic_write_files, dump_json
from reprobox.errors import InputError
from reprobox.manifest import (
    FREEZE_MARKER,
    FrozenProject,
    core_manifest_text,
    read_manifest,
)
from reprobox.share import check_published, with_publication


def record_publication(frozen: FrozenProject, entry: dict[str, Any]) -> None:
    """Add entry to the published list of frozen's manifest on disk.

    The image was built from frozen; a `reprobox freeze` that ended during
    the push has put another manifest there, which the entry must not name
    as its own, so that case is refused. The manifest is read and written
    under the lock freeze writes under, so no freeze lands in between.
    """
    path = frozen.manifest_path

    def files() -> list[tuple[Path, str]]:
        manifest = read_manifest(path, "run `reprobox freeze` again")
        if core_manifest_text(manifest) != frozen.core_text:
            raise InputError(
                f"{path}: a `reprobox freeze` replaced the manifest while "
                f"{entry['ref']} was pushed; that image is of the earlier "
                "freeze, so it is not recorded as published",
                hint="run `reprobox push` again to push this freeze's image",
            )
        manifest["published"] = with_publication(check_published(path, manifest), entry)
        return [(path, dump_json(manifest))]

    try:
        atomic_write_files(
            files,
            frozen.state_dir / FREEZE_MARKER,
            kind="freeze marker",
            fix="run `reprobox freeze` again",
        )
    except FileExistsError as exc:
        if exc.filename != str(frozen.state_dir / FREEZE_MARKER):
            raise
        # Held by whoever writes the frozen files: a freeze, or a push of an
        # older reprobox, which took no share lock, recording its own digest.
        raise InputError(
            f"{frozen.state_dir}: another reprobox (a `reprobox freeze`, or a "
            "push recording its digest) is writing the frozen files now, so "
            f"the push of {entry['ref']} is not recorded",
            hint="wait for it to end, then run `reprobox push` again",
        ) from None
