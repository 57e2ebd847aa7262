"""The `reprobox run` command: one run, or many across engines, seeds, repeats."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import typer

from reprobox.atomic import dump_json
from reprobox.cli_app import CaCertOpt, JsonOpt, ProjectArg, app
from reprobox.cli_image_build import _build
from reprobox.cli_interrupts import finished_step, interruptible
from reprobox.cli_output import (
    _one_line,
    _state,
    _to_stderr,
    echo,
    log_printer,
    say,
    warn,
)
from reprobox.cli_project import _load, tidy_killed_imports, tidy_killed_runs
from reprobox.credential_files import CREDENTIAL_NAME_WHAT, credential_name
from reprobox.errors import EXIT_USAGE, InputError, Interrupted
from reprobox.secret_shapes import shown_token


def check_memory(memory: str) -> int:
    """Return --memory in bytes, refusing what Docker would refuse."""
    from reprobox.run_options import memory_bytes

    return memory_bytes(memory)


def check_seed(seed: int, flag: str) -> None:
    """Refuse a seed outside 0..MAX_SEED before any container sees it."""
    from reprobox.config import MAX_SEED, SEED_RANGE_FIX

    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"{flag} {seed} is out of range", hint=SEED_RANGE_FIX)


def _parse_env(values: list[str]) -> dict[str, str]:
    env = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not name:
            raise InputError(
                f"--env {item!r} names no variable",
                hint="give --env NAME=VALUE, or --env NAME to pass NAME's value "
                "in this shell",
            )
        if credential_name(name):
            # The name goes into the record as it is, and a seal would put it
            # into the image label: it is refused as [env] refuses one, by the
            # same judge (a published token anywhere, or a vendor's shape).
            raise InputError(
                f"--env {shown_token(name)}: the variable name is "
                f"{CREDENTIAL_NAME_WHAT}, which the run record would keep; "
                "nothing was run",
                hint="give the variable a plain name (e.g. GITHUB_TOKEN) and "
                "the token as its value",
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(
                f"--env {item!r}: {name!r} is not a variable name",
                hint="use letters, digits and '_', not starting with a digit",
            )
        if not sep:
            if name not in os.environ:
                raise InputError(
                    f"--env {name}: not set in this shell",
                    hint=f"use --env {name}=VALUE",
                )
            value = os.environ[name]
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # Bytes the shell could not decode: Docker, the record and the
            # secret hider all take text. The value is not shown (a secret?).
            raise InputError(
                f"--env {name}: the value is not UTF-8 text",
                hint="give text; put binary data in a data file and pass its name",
            ) from None
        if any(ch in value for ch in "\n\r\x00"):
            # As in the config's [env]: the record keeps each value as one
            # line, and verify refuses a reference whose value is not one.
            raise InputError(
                f"--env {name}: the value holds a line break",
                hint="environment values must be one line; put longer settings "
                "in a data file and pass its name",
            )
        if name in env and env[name] != value:
            raise InputError(
                f"--env {name} is given twice, with two values",
                hint="give each variable once",
            )
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
        [],
        "--env",
        "-e",
        metavar="NAME[=VALUE]",
        help="NAME=VALUE or NAME (taken from your environment), for this run only.",
    ),
    ca_cert: Path | None = CaCertOpt,
    host: list[str] = typer.Option(
        [],
        "--host",
        "-H",
        metavar="URL",
        help="Docker engine URL (unix://, tcp://, ssh://); "
        "repeat to run on several engines side by side. The image is built on "
        "this machine's engine ($DOCKER_HOST, else the default socket) and "
        "copied to each.",
    ),
    context: list[str] = typer.Option(
        [], "--context", metavar="NAME", help="Docker context name; may be repeated."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Train inside the image (built if needed) and write a run record."""
    from reprobox.build import check_frozen_inputs
    from reprobox.cpu_limits import MAX_CPUS, MIN_CPUS, cpus_out_of_range
    from reprobox.engine import check_engine_flags, connect, image_digests
    from reprobox.envvars import BAKED_FROM_HOST
    from reprobox.gpu.devices import recorded_gpus
    from reprobox.manifest import check_data_unchanged
    from reprobox.multirun import parse_seeds, plan_jobs, run_jobs
    from reprobox.number_options import typed_text
    from reprobox.recovery import remove_dead_runs_containers
    from reprobox.run_ending import raise_for_status
    from reprobox.run_env import check_env_kept_by_run, replaced_by_run
    from reprobox.run_options import (
        RunOptions,
        RunTarget,
        check_mountable,
        container_env,
    )
    from reprobox.run_owner import check_data_readable
    from reprobox.runner import run_in_container

    cfg = _load(project)
    check_engine_flags(host, context)
    _check_engines_named_once("--host", host)
    _check_engines_named_once("--context", context)
    if profile is not None and profile not in ("default", "strict"):
        raise InputError(
            f"--profile {profile!r} is unknown", hint="use default or strict"
        )
    if cpus is not None and not MIN_CPUS <= cpus < MAX_CPUS:
        why, fix = cpus_out_of_range(cpus)
        # As typed: rounded by :g, 0.00999999999999999 read "--cpus 0.01 is
        # below the least CPU share Docker enforces (0.01)".
        raise InputError(
            f"--cpus {typed_text(cpus)} {why}", hint=f"{fix}, e.g. --cpus 1.5"
        )
    if memory is not None:
        check_memory(memory)
    if seed is not None and seeds is not None:
        raise InputError("--seed and --seeds exclude each other", hint="use one")
    if seed is not None:
        check_seed(seed, "--seed")
    seed_list = parse_seeds(seeds) if seeds is not None else None
    for one in seed_list or []:
        check_seed(one, f"--seeds {seeds!r}:")
    extra_env = _parse_env(env)
    check_mountable(RunTarget.for_project(cfg))  # before a build it would waste
    # As the config's own profile and seed are checked when it is loaded.
    # --seeds of one value (--seeds 3) fixes that one seed, as --seed 3 does:
    # a PYTHONHASHSEED that repeats it is kept.
    one_seed = seed_list[0] if seed_list and len(set(seed_list)) == 1 else None
    run_fixes = dict(
        profile=profile or cfg.profile,
        seed=one_seed if seed_list else (seed if seed is not None else cfg.seed),
        seeded=seed_list is not None,
        run_flags=extra_env,
    )
    changes_fixes = profile == "strict" or seed is not None or seed_list is not None
    if changes_fixes:
        check_env_kept_by_run(cfg.source, cfg.env, **run_fixes)
    # The one read of the frozen files this run makes: it builds from them and
    # records their seed and digest, whatever a `reprobox freeze` writes
    # meanwhile. A config edited since that freeze is refused here, before a
    # freeze that is still running could make it look frozen.
    frozen = check_frozen_inputs(cfg)
    if changes_fixes:  # pass_env's values are those the shell had at freeze
        frozen_env = frozen.manifest.get("environment") or {}
        baked = tuple(name for name in cfg.pass_env if name in frozen_env)
        check_env_kept_by_run(cfg.source, {}, pass_env=baked, **run_fixes)
        # And the numerics variables the freezing shell had, unasked.
        kept = set(cfg.env) | set(baked)
        from_shell = tuple(name for name in BAKED_FROM_HOST if name not in kept)
        for line in replaced_by_run(frozen_env, from_shell, **run_fixes):
            warn(line)
    check_data_unchanged(cfg, frozen.manifest)
    check_data_readable(cfg.root, cfg.data)
    device_requests = _device_requests(
        gpus, frozen.manifest, remote=bool(host or context)
    )

    local = connect()
    # Every engine answers before anything is built: a bad --host is found in
    # a second, not after a build of several minutes.
    engines = {"local": local} if not (host or context) else {}
    for url in host:
        engines[url] = connect(url)
    for name in context:
        engines[f"context:{name}"] = connect(context=name)
    _check_engines_distinct(engines)
    if device_requests:
        _check_engines_serve_gpus(engines.values(), gpus, remote=bool(host or context))
    base = RunOptions(
        seed=seed if seed is not None else frozen.manifest.get("seed"),
        profile=profile or frozen.manifest["determinism"]["profile"],
        cpus=cpus if cpus is not None else cfg.cpus,
        memory=memory,
        gpus=recorded_gpus(gpus),  # `--gpus 0` is no GPU: recorded as none
        device_requests=device_requests,
        extra_env=extra_env,
        network=cfg.network,
    )
    jobs = plan_jobs(list(engines), base, seeds=seed_list, repeat=repeat)
    container_env(frozen.manifest, base)  # a bad --env is found before the build
    tidy_killed_runs(cfg, local)
    built = _build(cfg, local, ca_cert, frozen=frozen)
    say(("built " if built.built else "using ") + built.tag)
    image_ref, image, published = _run_image(
        frozen.manifest, local, built, frozen.manifest_path
    )
    check_image_of_manifest(local, image, published or image_ref, frozen)

    images = {}
    for label, engine in engines.items():
        if engine is local:
            images[label] = (published or image_ref, image)
            continue
        remove_dead_runs_containers(
            engine, cfg.state_dir / "runs", cfg.name, say, label=f"{label}: "
        )
        tidy_killed_imports(engine, label=f"{label}: ")
        shipped = _ship(local, engine, image, image_ref, published, label)
        say(f"{label}: image {shipped.how} ({shipped.seconds:.1f}s), id checked")
        ref = published or image_ref
        if published and shipped.image_id != image:
            # That engine holds this build at its tag unsealed (a run there
            # before the push) and could not pull the published image: the
            # same layers, so the same run, but not the published image. The
            # record names the image that ran, and the user is told.
            why = shipped.fallback or "it is not on that engine"
            warn(
                f"{label}: running its own copy of this build, {image_ref} "
                f"({shipped.image_id[7:19]}, the same layers), not the published "
                f"{published}, which it cannot pull ({why}); the record names "
                f"{image_ref}"
            )
            ref = image_ref
        elif (
            published
            and shipped.how == "present"
            and published not in image_digests(engine, image)
        ):
            # Found there by id (loaded from a bundle): as on this machine,
            # only the engine's RepoDigests vouch for the manifest's digest.
            warn(
                f"{label}: the published image {published} is there by id "
                f"({image[7:19]}, loaded from a bundle?) but that engine lists "
                "no registry digest for it; the record names it as that engine "
                "knows it (by a registry digest it lists for the image, else by "
                "its tag), not by the published ref"
            )
            ref = image_ref
        images[label] = (ref, shipped.image_id)

    target = RunTarget.for_project(cfg)
    echo = log_printer()
    if len(jobs) == 1:
        label = jobs[0].engine_label
        try:
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
        except Interrupted as exc:
            if as_json and exc.records:  # a script still gets the closed record
                typer.echo(dump_json(exc.records[0]), nl=False)
            raise
        record_path = target.runs_dir / record["run_id"] / "record.json"
        if as_json:
            typer.echo(dump_json(record), nl=False)
            _warn_record(record)  # stderr: the JSON on stdout stays whole
        else:
            _print_summary(record, record_path)
        raise_for_status(record, record_path)
        return

    printers = {label: log_printer(f"[{label}] ") for label in engines}
    log = None if _state["quiet"] else (lambda label, line: printers[label](line))
    try:
        results = run_jobs(
            jobs,
            engines,
            images,
            target=target,
            manifest=frozen.manifest,
            manifest_sha256=frozen.manifest_sha256,
            on_log=log,
        )
    except Interrupted as exc:
        if as_json:
            payload = {
                "schema_version": 1,
                "records": exc.records,
                "errors": [str(exc)],
                "comparison": None,
            }
            typer.echo(dump_json(payload), nl=False)
        raise
    sys.exit(
        _report_many(
            results, frozen.manifest, target, as_json, sweep=seed_list is not None
        )
    )


def check_image_of_manifest(engine, image: str, shown: str, frozen) -> None:
    """Refuse an image that carries another manifest than the run loaded.

    The record takes its seed, settings and manifest_sha256 from frozen; an
    image of another freeze would pair them with that freeze's code and lock.
    """
    from reprobox.engine import image_label
    from reprobox.share import MANIFEST_SHA_LABEL

    carried = image_label(engine, image, MANIFEST_SHA_LABEL)
    if carried == frozen.manifest_sha256:
        return
    raise InputError(
        f"{frozen.manifest_path}: image {shown} carries manifest sha256 "
        f"{str(carried)[:12]}, not {frozen.manifest_sha256[:12]} of the manifest "
        "this run loaded, so its record would mix two freezes",
        hint="run `reprobox run` again; if this recurs, `reprobox build --force`",
    )


def _check_engines_named_once(flag: str, values: list[str]) -> None:
    """Refuse one engine named twice by flag, however its address is spelt.

    A context counts as the address it points to, so two contexts (or one
    context given twice) naming one engine are refused like two --host values.
    """
    from reprobox.engine import context_address, engine_key

    for number, value in enumerate(values):
        if value in values[:number]:
            shown = value if value.isprintable() else repr(value)
            raise InputError(
                f"{flag} {shown} is given twice",
                hint="name each engine once; --repeat N runs N times on each",
            )
    seen: dict[str, str] = {}
    for value in values:
        address = context_address(value) if flag == "--context" else value
        key = engine_key(address)
        if key in seen:
            raise InputError(
                f"{flag} {value!r} and {seen[key]!r} name one engine",
                hint="name each engine once; --repeat N runs N times on each",
            )
        seen[key] = value


def _check_engines_distinct(engines: dict) -> None:
    """Refuse two named engines that are one daemon, by the ID it answers with.

    The address check above cannot see that a hard link to a socket, or tcp
    and unix, reach one daemon; run twice there, it would count as two
    machines.
    """
    from reprobox.engine import engine_id

    seen: dict[str, str] = {}
    for label, engine in engines.items():
        found = engine_id(engine)
        if found is None:
            continue
        if found in seen:
            raise InputError(
                f"{_engine_flag(seen[found])} and {_engine_flag(label)} reach one "
                f"Docker engine (engine ID {found})",
                hint="name each engine once; --repeat N runs N times on each",
            )
        seen[found] = label


def _engine_flag(label: str) -> str:
    """Return the flag that named an engine of `run`, as the user gave it."""
    name = label.removeprefix("context:")
    flag = "--context" if name != label else "--host"
    return f"{flag} {name!r}"


def _run_image(
    manifest: dict, engine, built, manifest_path: Path | str = "manifest.json"
) -> tuple[str, str, str | None]:
    """Prefer the sealed, published image of this build when there is one.

    A published entry is this build's when its sealed image was made from the
    build (`source_image_id`), or when the build's tag names a sealed copy:
    an import of the project's own bundle tags it there, and build takes it
    as this build. That copy is the published image itself, or one sealed
    again from the same build (its reference record ran on `source_image_id`,
    or on the published image itself: a run made after the push).
    When the sealed image is neither here nor reachable, the local build stands
    in: the sealed image is that build plus a label (same layers), so the run
    is the same; the record then names the local image, not the published one.
    """
    from reprobox.share import check_published

    entries = check_published(Path(manifest_path), manifest)
    ours = [
        (number, entry)
        for number, entry in enumerate(entries)
        if built.image_id in (entry["source_image_id"], entry["image_id"])
    ]
    if entries and not ours:
        source = _sealed_from(engine, built.image_id)
        ours = [
            (number, entry)
            for number, entry in enumerate(entries)
            if source in (entry["source_image_id"], entry["image_id"])
        ]
    if ours:
        # Of several (one per repository), the one sealing the newest run: run
        # ids sort by their start. The first listed was taken, so a run pulled
        # an older seal than the last push made (brk r45, BK 5).
        number, entry = max(
            ours, key=lambda found: (str(found[1].get("reference_run") or ""), found[0])
        )
        return _published_image(engine, built, entry, number, manifest_path)
    if entries:
        refs = [entry["ref"] for entry in entries]
        which = "image " if len(refs) == 1 else "images "
        sealed = [entry["ref"] for entry in entries if entry.get("reference_run")]
        # verify needs a reference run: one published without any (shared
        # before a run succeeded) has nothing to be verified against.
        then = (
            f"`reprobox verify {sealed[0]}` runs the published one"
            if sealed
            else "none carries a reference run, so `reprobox verify` has nothing "
            "to compare a rerun of it with (run, then push again)"
        )
        warn(
            f"{manifest_path}: the published {which}{', '.join(refs)} "
            f"{'is another build' if len(refs) == 1 else 'are other builds'} of "
            f"this manifest; this run uses the local build {built.tag}; {then}"
        )
    return built.tag, built.image_id, None


def _sealed_from(engine, image: str) -> str | None:
    """Return the id of the image a sealed image's reference run ran on.

    That is the build it was sealed from, or a sealed copy of that build (a
    run made after a push); an image that carries no record, or a record
    without a full image id, gives None.
    """
    import docker.errors

    from reprobox.engine import engine_failure, image_label
    from reprobox.share import REFERENCE_LABEL, reference_from_labels, reference_ran_on

    try:
        text = image_label(engine, image, REFERENCE_LABEL)
    except docker.errors.DockerException as exc:
        raise engine_failure(engine, f"inspecting image {image[:19]}", exc) from None
    try:
        record = reference_from_labels({REFERENCE_LABEL: text} if text else {})
    except InputError:
        return None  # a damaged record names no build; verify says why
    return reference_ran_on(record)


def _published_image(
    engine, built, entry: dict, number: int, manifest_path: Path | str
) -> tuple[str, str, str | None]:
    """Return what _run_image returns for published entry of this build."""
    from reprobox.engine import image_digests, image_id
    from reprobox.errors import EngineError
    from reprobox.share import pull_by_digest, same_build, tag_sealed_beside

    ref = entry["ref"]
    sealed = image_id(engine, entry["image_id"])
    pulled = sealed is None
    if pulled:
        try:
            sealed = pull_by_digest(engine, ref)
        except EngineError as exc:
            warn(
                f"cannot pull the published image {ref} ({exc.message}); "
                f"running the local build {built.tag}, which has the same "
                f"layers; the record names {built.tag}"
            )
            return built.tag, built.image_id, None
    if not same_build(engine, sealed, engine, built.image_id):
        # The entry is a file's word; the image must be this build, sealed.
        raise InputError(
            f"{manifest_path}: published image {ref} is not this build "
            f"sealed ({built.tag}): its layers or settings differ",
            hint="remove that published entry, or `reprobox push` again",
        )
    if pulled:  # beside the build, as push leaves it where it was made
        tag_sealed_beside(engine, sealed, built.tag)
    if not pulled and ref not in image_digests(engine, sealed):
        # Found here by id: only the engine's RepoDigests vouch for the ref's
        # digest (a pull by digest is checked by the registry). An imported
        # image has none; no pull is tried for it, since a machine that takes
        # bundles may have no way to the registry, and each run would wait.
        warn(
            f"{manifest_path}: published[{number}].ref {ref} is not a digest "
            f"this engine knows for {sealed[7:19]}; the record names the image "
            "as this engine knows it (by a registry digest it lists for the "
            "image, else by its own tag or id), not by that ref"
        )
        return built.tag, sealed, None
    say(
        f"{'pulled and running' if pulled else 'running'} the published "
        f"image {ref} (this build, sealed)"
    )
    return built.tag, sealed, ref


def _ship(source, dest, image: str, tag: str, published: str | None, label: str):
    from reprobox.share import ship_image

    noted = finished_step(f"copy to {label}")
    return ship_image(source, dest, image, tag, published, on_tagged=noted)


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
    if len(records) >= 2:
        # Every run that left a record, failed ones too, as `compare` judges
        # the runs folder: a verdict on the survivors alone said PASS while
        # the exit code said 1. The reference is the one `compare` of these
        # records takes: the first that succeeded in the order they started
        # (runs on two engines start in either order).
        metrics = manifest.get("metrics") or {}
        ordered = sorted(
            (
                Record(path=target.runs_dir / rec["run_id"] / "record.json", data=rec)
                for rec in records
            ),
            key=lambda r: (r.start_key, r.run_id),
        )
        ok = [r.run_id for r in ordered if r.status == "succeeded"]
        comparison = compare_runs(
            ordered,
            reference=ok[0] if ok else 0,
            tolerances=metrics.get("tolerances") or {},
            metrics=metrics.get("compare") or None,
        )
    for rec in records:
        if rec["status"] != "succeeded":  # said under -q too, as a lone run's is
            _to_stderr(f"reprobox: error: {_run_failure(rec)}")
    if as_json:
        payload = {
            "schema_version": 1,
            "records": records,
            "errors": [str(r.error) for r in results if r.error],
            "comparison": json.loads(render_json(comparison)) if comparison else None,
        }
        typer.echo(dump_json(payload), nl=False)
        for rec in records:
            _warn_record(rec, named=True)
    else:
        for rec in records:
            path = target.runs_dir / rec["run_id"] / "record.json"
            _print_summary(rec, path, named=True)
        # One line per engine and error, with how many runs it stopped: two
        # repeats refused alike said it twice (brk r50 BU 7).
        said: dict[tuple[str, str], int] = {}
        for result in results:
            if result.error:
                key = (result.job.engine_label, str(result.error))
                said[key] = said.get(key, 0) + 1
        for (label, error), count in said.items():
            runs = f" ({count} runs)" if count > 1 else ""
            _to_stderr(f"reprobox: error: {label}: {error}{runs}")
        if comparison:
            echo(render_text(comparison), nl=False)
    if failed and all(
        r.record is None and r.error is not None and r.error.exit_code == EXIT_USAGE
        for r in failed
    ):
        return EXIT_USAGE  # none could start: a runs folder that cannot be written
    if failed:
        return 1
    # compare's own verdict, so that both commands give one answer for one set
    # of runs: runs of one setup that differ fail it, within tolerance or not; a
    # sweep's verdict judges no seed's noise, only what lies beyond it.
    return 0 if comparison is None else exit_code(comparison)


def _run_failure(record: dict) -> str:
    """Say how a run of several ended when it did not succeed, with its exit code."""
    from reprobox.compare.headlines import status_with_exit

    code = record.get("exit_code")
    shown = status_with_exit(record["status"], code if isinstance(code, int) else None)
    message = (record.get("error") or {}).get("message")
    return f"run {record['run_id']} {shown}" + (f": {message}" if message else "")


def _device_requests(gpus: str | None, manifest: dict, remote: bool):
    """Check the GPU request against this machine's driver before anything starts."""
    from reprobox.gpu.preflight import gpu_preflight

    requests = gpu_preflight(manifest, gpus, remote=remote)
    for warning in getattr(requests, "warnings", ()):
        warn(warning)
    return requests


def _check_engines_serve_gpus(engines, gpus: str, remote: bool) -> None:
    """Refuse --gpus before the build when an engine cannot give containers GPUs."""
    from reprobox.gpu.preflight import check_engine_gpus, remote_engine

    local = remote_engine(remote) is None
    for engine in engines:
        check_engine_gpus(engine, gpus, local=local)


def _print_summary(record: dict, record_path: Path, named: bool = False) -> None:
    from reprobox.compare.exact import value_text
    from reprobox.compare.headlines import status_with_exit

    code = record.get("exit_code")
    shown = status_with_exit(record["status"], code if isinstance(code, int) else None)
    echo(f"run {record['run_id']} {shown} in {record['duration_s']:.1f}s")
    for name, value in record["metrics"].items():
        # As compare shows it, exactly: six fixed decimals read 4.9e-07 as
        # 0.000000 and 2**53 + 1 as 9007199254740992.000000.
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        shown = value_text(value) if number else str(value)
        # One line each: a line break in a name could draw a fake row.
        echo(f"  {_one_line(name):<24} {_one_line(shown)}")
    echo(f"  record: {record_path}")
    _warn_record(record, named)


def _warn_record(record: dict, named: bool = False) -> None:
    """Say the record's warnings on stderr, with or without --json; named
    says which run each is of, where several ran (brk r50 BT 6: a sweep's
    NaN warning named no run or seed)."""
    who = f"run {record.get('run_id')}: " if named else ""
    for warning in record.get("warnings") or []:
        warn(who + (warning.splitlines()[0] if warning else ""))
