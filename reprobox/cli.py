"""The reprobox command line: parse, check, dispatch; the core does the work.

Exit codes: 0 success; 1 the job ran and said no (run failed, compare out of
tolerance); 2 bad input; 3 Docker engine trouble; 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

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
    context_settings={"help_option_names": ["-h", "--help"]},
)
log = logging.getLogger("reprobox")
_state = {"debug": False, "quiet": False}

ProjectArg = typer.Argument(Path("."), help="Project folder (holds reprobox.toml).")
HostOpt = typer.Option(None, "--host", "-H",
                       help="Docker engine URL: unix://, tcp:// or ssh://.")
ContextOpt = typer.Option(None, "--context", help="Docker context name.")
CaCertOpt = typer.Option(None, "--ca-cert",
                         help="CA bundle the build trusts (e.g. a proxy's).")
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
    verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                help="More detail on stderr (-vv for debug)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors on stderr."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(False, "--version", callback=_version,
                                 is_eager=True, help="Show the version and exit."),
) -> None:
    """Freeze, build, run and cross-check ML training setups in Docker."""
    level = logging.WARNING - 10 * verbose
    if quiet:
        level = logging.ERROR
    logging.basicConfig(level=max(level, logging.DEBUG), stream=sys.stderr,
                        format="reprobox: %(message)s")
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
def build_secrets(cfg, ca_cert: Optional[Path]) -> Iterator[dict]:
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
        False, "--from-env",
        help="Lock what is installed in the training environment, not a file."),
    env_python: Optional[str] = typer.Option(
        None, "--python-exe",
        help="Python of the training environment (with --from-env); default: "
        "$VIRTUAL_ENV/bin/python, else python3 on PATH."),
    ca_cert: Optional[Path] = CaCertOpt,
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Print the Dockerfile; write nothing."),
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
    say(f"freezing {cfg.root} ({'environment ' + python_exe if python_exe else cfg.requirements})")
    result = freeze_project(cfg, from_env_python=python_exe, ca_cert=ca)
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


def _training_python() -> str:
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and (Path(venv) / "bin" / "python").exists():
        return str(Path(venv) / "bin" / "python")
    found = shutil.which("python3") or shutil.which("python")
    if not found:
        raise InputError("no Python found for --from-env", hint="pass --python-exe")
    return found


def _build(cfg, engine, ca_cert: Optional[Path], force: bool = False):
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
    ca_cert: Optional[Path] = CaCertOpt,
    force: bool = typer.Option(False, "--force", help="Build even if the image exists."),
    host: Optional[str] = HostOpt,
    context: Optional[str] = ContextOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Build the project's image from .reprobox/ (skipped when unchanged)."""
    from reprobox.engine import connect

    cfg = _load(project)
    engine = connect(host, context)
    result = _build(cfg, engine, ca_cert, force)
    if as_json:
        typer.echo(dump_json({"schema_version": 1, "tag": result.tag,
                              "image_id": result.image_id, "built": result.built}),
                   nl=False)
    else:
        verb = "built" if result.built else "up to date, not rebuilt:"
        typer.echo(f"{verb} {result.tag} ({result.image_id[7:19]})")


def _parse_env(values: List[str]) -> dict[str, str]:
    env = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            if name not in os.environ:
                raise InputError(f"--env {name}: not set in this shell",
                                 hint=f"use --env {name}=VALUE")
            value = os.environ[name]
        if not name.isidentifier():
            raise InputError(f"--env {item!r}: {name!r} is not a variable name")
        env[name] = value
    return env


@app.command()
@interruptible
def run(
    project: Path = ProjectArg,
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the seed."),
    profile: Optional[str] = typer.Option(
        None, "--profile", help="Determinism profile: default or strict."),
    cpus: Optional[float] = typer.Option(None, "--cpus", help="CPU quota, e.g. 1.5."),
    gpus: Optional[str] = typer.Option(
        None, "--gpus", help="GPUs: all, a count, or device=ID[,ID]."),
    env: List[str] = typer.Option([], "--env", "-e",
                                  help="NAME=VALUE or NAME, for this run only."),
    ca_cert: Optional[Path] = CaCertOpt,
    host: Optional[str] = HostOpt,
    context: Optional[str] = ContextOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Train inside the image (built if needed) and write a run record."""
    from reprobox.engine import connect, remove_orphans
    from reprobox.manifest import check_data_unchanged, load_frozen
    from reprobox.runner import RunOptions, raise_for_status, run_in_container

    cfg = _load(project)
    if profile is not None and profile not in ("default", "strict"):
        raise InputError(f"--profile {profile!r} is unknown", hint="use default or strict")
    if cpus is not None and cpus <= 0:
        raise InputError("--cpus must be above 0")
    frozen = load_frozen(cfg)
    check_data_unchanged(cfg, frozen.manifest)
    device_requests = _device_requests(gpus)
    engine = connect(host, context)
    for orphan in remove_orphans(engine, cfg.name):
        say(f"removed container of interrupted run {orphan}")
    built = _build(cfg, engine, ca_cert)
    say(("built " if built.built else "using ") + built.tag)
    opts = RunOptions(
        seed=seed if seed is not None else frozen.manifest.get("seed"),
        profile=profile or frozen.manifest["determinism"]["profile"],
        cpus=cpus if cpus is not None else cfg.cpus,
        gpus=gpus,
        device_requests=device_requests,
        extra_env=_parse_env(env),
        network=cfg.network,
    )
    echo = None if _state["quiet"] else (lambda line: typer.echo(line, err=True))
    record = run_in_container(
        cfg, engine, image_ref=built.tag, image_id=built.image_id,
        manifest=frozen.manifest, manifest_sha256=frozen.manifest_sha256,
        opts=opts, on_log=echo,
    )
    record_path = cfg.state_dir / "runs" / record["run_id"] / "record.json"
    if as_json:
        typer.echo(dump_json(record), nl=False)
    else:
        _print_summary(record, record_path)
    raise_for_status(record, record_path)


def _device_requests(gpus: Optional[str]):
    if not gpus:
        return None
    from reprobox.gpu.devices import parse_gpus_option

    return parse_gpus_option(gpus)


def _print_summary(record: dict, record_path: Path) -> None:
    typer.echo(f"run {record['run_id']} {record['status']} in "
               f"{record['duration_s']:.1f}s")
    for name, value in record["metrics"].items():
        typer.echo(f"  {name:<24} {value:.6f}")
    typer.echo(f"  record: {record_path}")


def main() -> None:
    """Run the CLI; turn reprobox errors into one line and an exit code."""
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
