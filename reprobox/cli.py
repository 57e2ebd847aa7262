"""The reprobox command line: parse, check, dispatch; the core does the work.

Exit codes: 0 success; 1 the job ran and said no (run failed, compare out of
tolerance); 2 bad input; 3 Docker engine trouble; 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from reprobox import __version__
from reprobox.atomic import dump_json
from reprobox.errors import EXIT_USAGE, InputError, Interrupted, ReproboxError

app = typer.Typer(
    name="reprobox",
    help="Freeze, build, run and cross-check ML training setups in Docker.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold [brackets] meant literally
    context_settings={"help_option_names": ["-h", "--help"]},
)
log = logging.getLogger("reprobox")
_state = {"debug": False, "quiet": False}

ProjectArg = typer.Argument(Path("."), help="Project folder (holds reprobox.toml).")
HostOpt = typer.Option(
    None, "--host", "-H", help="Docker engine URL: unix://, tcp:// or ssh://."
)
ContextOpt = typer.Option(None, "--context", help="Docker context name.")
CaCertOpt = typer.Option(
    None, "--ca-cert", help="CA bundle the build trusts (e.g. a proxy's)."
)
JsonOpt = typer.Option(False, "--json", help="Print the result as JSON on stdout.")


def say(message: str) -> None:
    """Print a progress line on stderr unless --quiet."""
    if not _state["quiet"]:
        typer.echo(message, err=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reprobox {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More detail on stderr (-vv for debug)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    """Freeze, build, run and cross-check ML training setups in Docker."""
    level = logging.WARNING - 10 * verbose
    if quiet:
        level = logging.ERROR
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        stream=sys.stderr,
        format="reprobox: %(message)s",
    )
    _state.update(debug=debug, quiet=quiet)


def interruptible(func):
    """Turn Ctrl-C inside a command into reprobox's Interrupted error."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted; nothing was half-written") from None

    return wrapper


def _load(project: Path):
    from reprobox.config import load_config

    return load_config(project)


@contextmanager
def build_secrets(cfg, ca_cert: Path | None) -> Iterator[dict]:
    """Yield the build's secret files (CA bundle, index settings), then delete them."""
    from reprobox.lock import PackageIndexes

    secrets: dict[str, Path] = {}
    if ca_cert:
        secrets["ca_cert"] = ca_cert
    pip_env = PackageIndexes(cfg.index_url, cfg.extra_index_urls).pip_env()
    with tempfile.TemporaryDirectory(prefix="reprobox-secrets-") as tmp:
        os.chmod(tmp, 0o700)
        if pip_env:
            path = Path(tmp) / "pip_index"
            lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(pip_env.items())]
            path.write_text("\n".join(lines) + "\n")
            path.chmod(0o600)
            secrets["pip_index"] = path
        yield secrets


@app.command()
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
        False, "--gpu", help="Make a GPU image: CUDA/cuDNN from reprobox's table."
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

    from reprobox.freeze import freeze_project, resolve_ca_cert, write_frozen

    cfg = _load(project)
    if from_env:
        cfg = replace(cfg, from_env=True, requirements=None)
    python_exe = None
    if cfg.from_env:
        python_exe = env_python or _training_python()
    ca = resolve_ca_cert(str(ca_cert) if ca_cert else None, cfg, os.environ)
    source = f"environment {python_exe}" if python_exe else cfg.requirements
    say(f"freezing {cfg.root} ({source})")
    result = freeze_project(
        cfg,
        from_env_python=python_exe,
        ca_cert=ca,
        gpu=gpu,
        base_cudnn=base_cudnn,
        base_digest=_base_digest_lookup(),
    )
    for warning in result.warnings:
        typer.echo(f"reprobox: warning: {warning}", err=True)
    if dry_run:
        typer.echo(result.dockerfile, nl=False)
        return
    paths = write_frozen(cfg, result)
    if as_json:
        typer.echo(result.manifest_text, nl=False)
    else:
        pins = result.manifest["packages"]["pins"]
        typer.echo(f"froze {cfg.name}: {len(pins)} packages locked")
        for path in paths:
            typer.echo(f"  {path}")


def _base_digest_lookup():
    """Return a lookup of base-image digests on the local engine, if one answers."""
    from reprobox.engine import connect, registry_digest

    try:
        engine = connect()
    except ReproboxError:
        log.info("no Docker engine answers: the base image is not pinned by digest")
        return None
    return lambda ref: registry_digest(engine, ref)


def _training_python() -> str:
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and (Path(venv) / "bin" / "python").exists():
        return str(Path(venv) / "bin" / "python")
    found = shutil.which("python3") or shutil.which("python")
    if not found:
        raise InputError("no Python found for --from-env", hint="pass --python-exe")
    return found


def _build(cfg, engine, ca_cert: Path | None, force: bool = False):
    from reprobox.build import build_project
    from reprobox.freeze import resolve_ca_cert

    ca = resolve_ca_cert(str(ca_cert) if ca_cert else None, cfg, os.environ)
    with build_secrets(cfg, ca) as secrets:
        echo = None if _state["quiet"] else (lambda line: typer.echo(line, err=True))
        return build_project(cfg, engine, secrets=secrets, force=force, on_line=echo)


@app.command()
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
        typer.echo(f"{verb} {result.tag} ({result.image_id[7:19]})")


def _parse_env(values: list[str]) -> dict[str, str]:
    env = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            if name not in os.environ:
                raise InputError(
                    f"--env {name}: not set in this shell",
                    hint=f"use --env {name}=VALUE",
                )
            value = os.environ[name]
        if not name.isidentifier():
            raise InputError(f"--env {item!r}: {name!r} is not a variable name")
        env[name] = value
    return env


@app.command()
@interruptible
def run(
    project: Path = ProjectArg,
    seed: int | None = typer.Option(None, "--seed", help="Override the seed."),
    seeds: str | None = typer.Option(
        None, "--seeds", help="Seed sweep, e.g. 0-4 or 1,3,5: one run per seed."
    ),
    repeat: int = typer.Option(
        1, "--repeat", help="Run N times to catch nondeterminism."
    ),
    profile: str | None = typer.Option(
        None, "--profile", help="Determinism profile: default or strict."
    ),
    cpus: float | None = typer.Option(None, "--cpus", help="CPU quota, e.g. 1.5."),
    memory: str | None = typer.Option(
        None, "--memory", help="Memory limit, e.g. 4g; over it the run is OOM-killed."
    ),
    gpus: str | None = typer.Option(
        None, "--gpus", help="GPUs: all, a count, or device=ID[,ID]."
    ),
    env: list[str] = typer.Option(
        [], "--env", "-e", help="NAME=VALUE or NAME, for this run only."
    ),
    ca_cert: Path | None = CaCertOpt,
    host: list[str] = typer.Option(
        [],
        "--host",
        "-H",
        help="Docker engine URL (unix://, tcp://, ssh://); "
        "repeat to run on several engines side by side.",
    ),
    context: list[str] = typer.Option(
        [], "--context", help="Docker context name; may be repeated."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Train inside the image (built if needed) and write a run record."""
    from reprobox.engine import connect, remove_orphans
    from reprobox.manifest import check_data_unchanged, load_frozen
    from reprobox.multirun import parse_seeds, plan_jobs, run_jobs
    from reprobox.runner import (
        RunOptions,
        RunTarget,
        raise_for_status,
        run_in_container,
    )

    cfg = _load(project)
    if profile is not None and profile not in ("default", "strict"):
        raise InputError(
            f"--profile {profile!r} is unknown", hint="use default or strict"
        )
    if cpus is not None and not 0 < cpus < 4096:
        raise InputError(f"--cpus {cpus} is not a CPU count", hint="e.g. --cpus 1.5")
    if memory is not None and not re.fullmatch(r"[1-9][0-9]*[bkmg]?", memory.lower()):
        raise InputError(f"--memory {memory!r} is not a size", hint="e.g. --memory 4g")
    if seed is not None and seeds is not None:
        raise InputError("--seed and --seeds exclude each other", hint="use one")
    seed_list = parse_seeds(seeds) if seeds is not None else None
    extra_env = _parse_env(env)
    frozen = load_frozen(cfg)
    check_data_unchanged(cfg, frozen.manifest)
    device_requests = _device_requests(
        gpus, frozen.manifest, remote=bool(host or context)
    )

    local = connect()
    for orphan in remove_orphans(local, cfg.name):
        say(f"removed container of interrupted run {orphan}")
    built = _build(cfg, local, ca_cert)
    say(("built " if built.built else "using ") + built.tag)
    image_ref, image, published = _run_image(frozen.manifest, local, built)

    engines = {"local": local} if not (host or context) else {}
    for url in host:
        engines[url] = connect(url)
    for name in context:
        engines[f"context:{name}"] = connect(context=name)
    images = {}
    for label, engine in engines.items():
        if engine is local:
            images[label] = (image_ref, image)
            continue
        for orphan in remove_orphans(engine, cfg.name):
            say(f"{label}: removed container of interrupted run {orphan}")
        shipped = _ship(local, engine, image, image_ref, published)
        say(f"{label}: image {shipped.how} ({shipped.seconds:.1f}s), id checked")
        images[label] = (image_ref, shipped.image_id)

    base = RunOptions(
        seed=seed if seed is not None else frozen.manifest.get("seed"),
        profile=profile or frozen.manifest["determinism"]["profile"],
        cpus=cpus if cpus is not None else cfg.cpus,
        memory=memory,
        gpus=gpus,
        device_requests=device_requests,
        extra_env=extra_env,
        network=cfg.network,
    )
    jobs = plan_jobs(list(engines), base, seeds=seed_list, repeat=repeat)
    target = RunTarget.for_project(cfg)
    echo = None if _state["quiet"] else (lambda line: typer.echo(line, err=True))
    if len(jobs) == 1:
        label = jobs[0].engine_label
        record = run_in_container(
            target,
            engines[label],
            image_ref=images[label][0],
            image_id=images[label][1],
            manifest=frozen.manifest,
            manifest_sha256=frozen.manifest_sha256,
            opts=jobs[0].opts,
            on_log=echo,
        )
        record_path = target.runs_dir / record["run_id"] / "record.json"
        if as_json:
            typer.echo(dump_json(record), nl=False)
        else:
            _print_summary(record, record_path)
        raise_for_status(record, record_path)
        return

    log = (
        None
        if _state["quiet"]
        else (lambda label, line: typer.echo(f"[{label}] {line}", err=True))
    )
    results = run_jobs(
        jobs,
        engines,
        images,
        target=target,
        manifest=frozen.manifest,
        manifest_sha256=frozen.manifest_sha256,
        on_log=log,
    )
    sys.exit(
        _report_many(
            results, frozen.manifest, target, as_json, sweep=seed_list is not None
        )
    )


def _run_image(manifest: dict, engine, built) -> tuple[str, str, str | None]:
    """Prefer the sealed, published image of this build when there is one."""
    from reprobox.engine import image_id
    from reprobox.share import pull_by_digest

    for entry in manifest.get("published") or []:
        if entry.get("source_image_id") != built.image_id:
            continue
        sealed = image_id(engine, entry["image_id"])
        if sealed is None:
            sealed = pull_by_digest(engine, entry["ref"])
        return built.tag, sealed, entry["ref"]
    return built.tag, built.image_id, None


def _ship(source, dest, image: str, tag: str, published: str | None):
    from reprobox.share import ship_image

    return ship_image(source, dest, image, tag, published)


def _report_many(results, manifest: dict, target, as_json: bool, sweep: bool) -> int:
    """Print every run and their comparison; return the exit code."""
    from reprobox.compare import (
        Record,
        compare_runs,
        exit_code,
        render_json,
        render_text,
    )

    records = [r.record for r in results if r.record is not None]
    failed = [
        r for r in results if r.record is None or r.record["status"] != "succeeded"
    ]
    comparison = None
    ok = [rec for rec in records if rec["status"] == "succeeded"]
    if len(ok) >= 2:
        metrics = manifest.get("metrics") or {}
        comparison = compare_runs(
            [
                Record(path=target.runs_dir / rec["run_id"] / "record.json", data=rec)
                for rec in ok
            ],
            tolerances=metrics.get("tolerances") or {},
            metrics=metrics.get("compare") or None,
        )
    if as_json:
        payload = {
            "schema_version": 1,
            "records": records,
            "errors": [str(r.error) for r in results if r.error],
            "comparison": json.loads(render_json(comparison)) if comparison else None,
        }
        typer.echo(dump_json(payload), nl=False)
    else:
        for rec in records:
            _print_summary(rec, target.runs_dir / rec["run_id"] / "record.json")
        for result in results:
            if result.error:
                typer.echo(
                    f"reprobox: error: {result.job.engine_label}: {result.error}",
                    err=True,
                )
        if comparison:
            typer.echo(render_text(comparison), nl=False)
    if failed:
        return 1
    if comparison is None or sweep:
        return 0
    return exit_code(comparison)


def _device_requests(gpus: str | None, manifest: dict, remote: bool):
    """Check the GPU request against this machine's driver before anything starts."""
    from reprobox.gpu.preflight import gpu_preflight

    requests = gpu_preflight(manifest, gpus, remote=remote)
    for warning in getattr(requests, "warnings", ()):
        say(f"warning: {warning}")
    return requests


def _print_summary(record: dict, record_path: Path) -> None:
    typer.echo(
        f"run {record['run_id']} {record['status']} in {record['duration_s']:.1f}s"
    )
    for name, value in record["metrics"].items():
        typer.echo(f"  {name:<24} {value:.6f}")
    typer.echo(f"  record: {record_path}")


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM cleans up exactly as Ctrl-C does


def main() -> None:
    """Run the CLI; turn reprobox errors into one line and an exit code."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except ReproboxError as exc:
        if _state["debug"]:
            traceback.print_exc()
        typer.echo(f"reprobox: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("reprobox: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_USAGE)


# The commands in these modules register themselves on `app`.
from reprobox import cli_compare, cli_share  # noqa: E402,F401
