"""The `reprobox freeze` command: lock the packages, capture the machine facts,
seed and data, and write them into .reprobox/ (or, with --dry-run, show the
Dockerfile).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import typer

from reprobox.atomic import dump_json
from reprobox.cli_app import CaCertOpt, JsonOpt, ProjectArg, app
from reprobox.cli_interrupts import interruptible
from reprobox.cli_output import _to_stderr, echo, say, warn
from reprobox.cli_project import _load
from reprobox.errors import InputError, ReproboxError

log = logging.getLogger("reprobox")


@app.command(short_help="Lock packages, capture machine facts, seed and data.")
@interruptible
def freeze(
    project: Path = ProjectArg,
    from_env: bool = typer.Option(
        False,
        "--from-env",
        help="Lock what is installed in the training environment, not a file.",
    ),
    env_python: str | None = typer.Option(
        None,
        "--python-exe",
        help="Python of the training environment (with --from-env); default: "
        "$VIRTUAL_ENV/bin/python, else python3 on PATH.",
    ),
    gpu: bool = typer.Option(
        False,
        "--gpu",
        help="Make a GPU image: the CUDA and cuDNN of the pinned framework "
        "(tensorflow, torch), from its pip wheels or a CUDA base_image.",
    ),
    base_cudnn: str | None = typer.Option(
        None,
        "--base-cudnn",
        help="cuDNN version of a CUDA base image that is not in reprobox's table.",
    ),
    ca_cert: Path | None = CaCertOpt,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the Dockerfile; write nothing."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Capture packages, machine facts, env, seed and data into .reprobox/."""
    from dataclasses import replace

    from reprobox.freeze import (
        freeze_project,
        refuse_other_python,
        resolve_ca_cert,
        write_frozen,
    )

    cfg = _load(project)
    if cfg.state_dir.is_symlink() or (
        cfg.state_dir.exists() and not cfg.state_dir.is_dir()
    ):
        raise InputError(
            f"{cfg.state_dir} is not a folder; reprobox keeps the frozen files there",
            hint="move it out of the way, then freeze again",
        )
    if base_cudnn is not None and not re.fullmatch(
        r"[0-9]+(\.[0-9]+){0,3}", base_cudnn
    ):
        raise InputError(
            f"--base-cudnn {base_cudnn!r} is not a cuDNN version",
            hint="give numbers like 8.9 or 8.9.7.29",
        )
    if env_python == "":
        raise InputError(
            "--python-exe is empty", hint="give the path of the environment's Python"
        )
    if env_python is not None and not (from_env or cfg.from_env):
        raise InputError(
            "--python-exe names the training environment's Python, used only "
            "with --from-env",
            hint=f"add --from-env, or set {cfg.key('packages.from_env')} = true",
        )
    # Read by every freeze without --from-env, and by none with it: a pin
    # there that the environment contradicts went unsaid (brk r50 BU 2).
    unread = cfg.requirements if from_env else None
    if from_env:
        cfg = replace(cfg, from_env=True, requirements=None)
    python_exe = None
    if cfg.from_env:
        from reprobox.lock.environment import check_training_python

        python_exe, named_by = _training_python(env_python)
        version = check_training_python(python_exe, named_by)
        refuse_other_python(cfg, version, named_by)
    ca = resolve_ca_cert(str(ca_cert) if ca_cert else None, cfg, os.environ)
    # Before the lock, which takes a while: said at once; by --dry-run too,
    # which would otherwise show a freeze that is then refused.
    _refuse_odd_frozen_files(cfg)
    source = f"environment {python_exe}" if python_exe else cfg.requirements
    say(f"freezing {cfg.root}" + (f" ({source})" if source else ""))
    if unread:
        warn(
            f"{cfg.root / unread} is not read with --from-env: the "
            "lock holds the environment's packages, whatever it pins (set "
            f"{cfg.key('packages.from_env')} = true to freeze from the "
            "environment alone)"
        )
    result = freeze_project(
        cfg,
        from_env_python=python_exe,
        ca_cert=ca,
        gpu=gpu,
        base_cudnn=base_cudnn,
        base_digest=_base_digest_lookup(),
        # Shown under -q too, as push's: an index that never answers left
        # freeze silent for some 2 minutes (brk r49 BR 1).
        on_slow=warn,
    )
    for warning in result.warnings:
        _to_stderr(f"reprobox: warning: {warning}")
    for note in result.notes:
        say(note)
    if dry_run:
        if as_json:
            typer.echo(
                dump_json(
                    {"dockerfile": result.dockerfile, "manifest": result.manifest}
                ),
                nl=False,
            )
        else:
            typer.echo(result.dockerfile, nl=False)
        return
    paths = write_frozen(cfg, result, on_wait=say)
    if result.dropped_published:
        warn(
            "this freeze changed the image, so the manifest no longer lists the "
            "image(s) pushed for the build it replaced ("
            + ", ".join(result.dropped_published)
            + "); freezing back to that build does not list them again: push "
            "this build to publish it"
        )
    if as_json:
        typer.echo(result.manifest_text, nl=False)
    else:
        pins = result.manifest["packages"]["pins"]
        locked = "1 package" if len(pins) == 1 else f"{len(pins)} packages"
        echo(f"froze {cfg.name}: {locked} locked")
        for path in paths:
            echo(f"  {path}")


def _refuse_odd_frozen_files(cfg) -> None:
    """Refuse a manifest, lock, git lock or Dockerfile that is no regular file
    (a FIFO, a folder, a link to a device): freeze reads the manifest and
    replaces them all, and a FIFO there blocked it forever. Its marker and
    the share lock, which it opens without following a link, are refused as
    any link too."""
    from reprobox.manifest import FREEZE_MARKER, FROZEN_FILES, refuse_odd_file
    from reprobox.marker_files import refuse_odd_entry
    from reprobox.share_lock import LOCK_NAME as SHARE_LOCK_NAME

    fix = f"run `reprobox freeze {cfg.root}` again"
    for name, kind in FROZEN_FILES.items():
        refuse_odd_file(cfg.state_dir / name, kind, fix)
    # An "Illegal seek" or "Is a directory" from its write sent the user to
    # free space; build sent them back to freeze.
    refuse_odd_entry(cfg.state_dir / FREEZE_MARKER, "freeze marker", fix)
    refuse_odd_entry(cfg.state_dir / SHARE_LOCK_NAME, "share lock", fix)


def _base_digest_lookup():
    """Return a lookup of base-image digests on the local engine, if one answers."""
    from reprobox.engine import connect, registry_digest

    try:
        engine = connect()
    except ReproboxError:
        log.info("no Docker engine answers: the base image is not pinned by digest")
        return None
    return lambda ref: registry_digest(engine, ref)


def _training_python(flag: str | None) -> tuple[str, str]:
    """Return the training environment's Python, and where its path came from."""
    if flag:
        return flag, f"--python-exe {flag}"
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        # A set VIRTUAL_ENV is the environment meant: locking python3 on PATH
        # instead would freeze some other set of packages.
        python = Path(venv) / "bin" / "python"
        if not python.exists():
            raise InputError(
                f"VIRTUAL_ENV={venv}: {python} does not exist, so --from-env "
                "cannot read that environment",
                hint="activate the environment you train in, unset VIRTUAL_ENV, "
                "or pass --python-exe",
            )
        return str(python), f"VIRTUAL_ENV={venv}: {python}"
    found = shutil.which("python3") or shutil.which("python")
    if not found:
        raise InputError("no Python found for --from-env", hint="pass --python-exe")
    return found, f"python3 on PATH ({found})"
