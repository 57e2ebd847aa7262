"""The record a run starts with: what ran, from which image, and how.

Written before the container is made (status "running"), so that a run
whose reprobox dies still says which image, command, options and engine it
had; run_ending.py closes it with what the training left. Apart from
runner.py, which starts and follows the container, so that every field a
run record starts with reads in one place.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from reprobox import __version__
from reprobox.credential_files import secret_value
from reprobox.engine import CODE_LABEL, Engine, image_label, image_layers_digest
from reprobox.image_names import recorded_name
from reprobox.run_folders import LOG_NAME, RECORD_SCHEMA_VERSION, iso_time
from reprobox.run_options import RunOptions, RunTarget
from reprobox.secret_masking import hidden_names


def start_record(
    engine: Engine,
    target: RunTarget,
    run_id: str,
    *,
    image_ref: str,
    image_id: str,
    image_digest: str | None,
    manifest: Mapping[str, Any],
    manifest_sha256: str,
    opts: RunOptions,
) -> dict[str, Any]:
    """Return the record of a run that starts now (status "running").

    Asks the engine for the image's name, digest, layers and code label; a
    secret value, of the image's environment or of --env, is written ***.
    """
    from reprobox.compare.compare_settings import settings_for_record

    hidden = hidden_names(opts.extra_env)
    if image_digest is None:
        # A name that names the image that runs, and the digest the engine
        # lists for it: not a tag of another image of the build, nor a digest
        # only the manifest claims (see image_names).
        image_ref, image_digest = recorded_name(engine, image_id, image_ref)
    return {
        "schema_version": RECORD_SCHEMA_VERSION,
        "reprobox_version": __version__,
        "run_id": run_id,
        "status": "running",
        "exit_code": None,
        "started_at": iso_time(time.time()),
        "finished_at": None,
        "duration_s": None,
        "project": target.project,
        "image": {
            "ref": image_ref,
            "id": image_id,
            "digest": image_digest,
            "layers": image_layers_digest(engine, image_id),
            "code_sha256": image_label(engine, image_id, CODE_LABEL),
        },
        "manifest_sha256": manifest_sha256,
        # The command the container ran (the manifest's, checked at freeze to
        # hold no secret), so compare names another flag or argument itself,
        # not only another manifest.
        "command": list(manifest["project"]["command"]),
        # The variables the image sets (the manifest's environment: [env],
        # pass_env and the numerics the freezing shell had), so compare can
        # name the one that changed, not only another manifest.
        "environment": {
            k: "***" if secret_value(k, v) else v
            for k, v in sorted((manifest.get("environment") or {}).items())
        },
        # What the run is judged by, so a copy of its folder is judged the same.
        "compare_settings": settings_for_record(manifest.get("metrics") or {}),
        "engine": engine.describe(),
        "seed": opts.seed,
        "profile": opts.profile,
        "options": {
            "cpus": opts.cpus,
            "memory": opts.memory,
            "gpus": opts.gpus,
            "network": opts.network,
            "repeat_index": opts.repeat_index,
            "seed_sweep": opts.seed_sweep,
            "env": {
                k: "***" if k in hidden else v
                for k, v in sorted(opts.extra_env.items())
            },
        },
        "data": manifest.get("data", []),
        "machine": None,
        "metrics": {},
        "history": [],
        "evaluations": [],
        "log": LOG_NAME,
        "warnings": [],
        "error": None,
    }
