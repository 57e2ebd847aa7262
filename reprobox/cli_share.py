"""CLI commands that share images: push, export, import, verify."""

from __future__ import annotations

import contextlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import typer

from reprobox.atomic import atomic_write_text, dump_json, write_problem
from reprobox.cli_app import CaCertOpt, ContextOpt, HostOpt, JsonOpt, ProjectArg, app
from reprobox.cli_image_build import _build
from reprobox.cli_interrupts import finished_step, interruptible, left_behind
from reprobox.cli_output import echo, log_printer, say, warn
from reprobox.cli_project import (
    _load,
    project_holding,
    tidy_killed_imports,
    tidy_killed_runs,
    warn_if_it_enters_an_image,
)
from reprobox.errors import InputError, ReproboxError
from reprobox.frozen_tokens import refuse_record_tokens
from reprobox.share_lock import one_share_at_a_time
from reprobox.stopping import signals_held

# Why push and export take one --reference record, not a folder of them.
SEALS_ONE = "push and export seal one in"


THIS_BUILD = " of this build"


def _reference_record(
    cfg,
    image_id: str,
    chosen: Path | None,
    layers: str | None = None,
    manifest_sha: str | None = None,
) -> dict | None:
    """Return the chosen record, else the newest succeeded run of this build.

    A run of this build ran image_id, or the same filesystem layers (a sealed
    copy of it), with the same manifest (manifest_sha, the image's label): a
    refreeze that changed only tolerances or the command reuses the layers
    under another manifest, whose run verify would judge by other rules. A
    chosen record must be such a succeeded run of this project.
    """
    from reprobox.compare import load_records
    from reprobox.compare.records import records_for_a_hint

    def instead(fallback: str) -> str:
        # The run the default would seal, where there is one (brk r49 BR 2:
        # each refusal sent the user off to run again, with one at hand).
        ours = [
            r
            for r in records_for_a_hint(cfg.state_dir / "runs")
            if r.status == "succeeded"
            and r.data.get("project") == cfg.name
            and r.data.get("metrics")
            and _of_this_build(r.data, image_id, layers, manifest_sha)
            and not _seal_problem(cfg, r.data)
        ]
        if not ours:
            return fallback
        return (
            f"give --reference {ours[-1].path}, the newest healthy run of this "
            "build, or leave --reference out to seal it"
        )

    if chosen is not None:
        record = _one_record(
            chosen,
            SEALS_ONE,
            lambda data: (
                data.get("project") == cfg.name
                and _of_this_build(data, image_id, layers, manifest_sha)
            ),
            THIS_BUILD,
            checked=cfg.compare_metrics,
        )
        data, image = record.data, record.data.get("image") or {}
        if data.get("project") != cfg.name:
            raise InputError(
                f"--reference {chosen}: a run of project {data.get('project')!r}, "
                f"not {cfg.name!r}",
                hint=instead(f"give a record from {cfg.state_dir / 'runs'}"),
            )
        if not _of_this_build(data, image_id, layers, None):
            raise InputError(
                f"--reference {chosen}: that run used another image "
                f"({str(image.get('id'))[7:19]}), not this build "
                f"({image_id[7:19]})",
                hint=instead("run `reprobox run` on this build and give that record"),
            )
        if not _of_this_build(data, image_id, layers, manifest_sha):
            raise InputError(
                f"--reference {chosen}: that run had another manifest "
                f"({str(data.get('manifest_sha256'))[:12]}, not this build's "
                f"{str(manifest_sha)[:12]}): the same layers, but frozen with "
                "other tolerances, command or settings",
                hint=instead("run `reprobox run` on this build and give that record"),
            )
        if record.status != "succeeded":
            from reprobox.verify import not_succeeded

            raise InputError(
                f"--reference {chosen}: that run {not_succeeded(record.status)}",
                hint=instead("give a succeeded run"),
            )
        refuse_record_tokens(data, record.path)
        problem = _seal_problem(cfg, data) if data.get("metrics") else ""
        if problem:  # chosen, so sealed; but said (brk r46, BM F3)
            warn(_seal_warning(data, problem, "given as --reference", "another "))
        return data
    runs = cfg.state_dir / "runs"
    if not runs.is_dir() or not any(runs.iterdir()):
        return None

    # A run of this build is one of its id or of its layers: a run on the
    # pushed sealed copy (or, after `import` of its own bundle, the copy the
    # build's tag names) ran the same image, and may be the newest.
    matching = [
        r
        for r in load_records([runs])
        if r.status == "succeeded"
        and _of_this_build(r.data, image_id, layers, manifest_sha)
    ]
    # A run that recorded no metric gives verify nothing to hold a rerun to:
    # it would fail every time. The newest run that has metrics is sealed.
    measured = [r for r in matching if r.data.get("metrics")]
    if matching and not measured:
        warn(
            f"run {matching[-1].run_id}, the newest succeeded run of this build, "
            "recorded no metric: verify of this image will have nothing to "
            "compare (write metrics to $REPROBOX_METRICS, then run again)"
        )
    # Nor one that lacks a metric metrics.compare checks (left out of its
    # record, as a name holding a token, or never written), whose every
    # verify fails, nor one whose checked values are NaN or infinite, which
    # every rerun would be held to: the newest healthy run is taken.
    healthy = [r for r in measured if not _seal_problem(cfg, r.data)]
    if measured and not healthy:
        newest = measured[-1].data
        problem = _seal_problem(cfg, newest)
        warn(_seal_warning(newest, problem, "the newest succeeded run", ""))
    chosen = healthy or measured or matching
    if not chosen:
        return None
    refuse_record_tokens(chosen[-1].data, chosen[-1].path)
    return chosen[-1].data


def _seal_problem(cfg, record: dict) -> str:
    """Say what makes a run a poor reference for verify, or ''.

    Checked are the project's metrics.compare, else every metric the run
    recorded: verify reruns with the reference's settings, so a metric no
    run of those settings writes is in neither and not checked.
    """
    from reprobox.compare.records import non_finite_metrics

    metrics = record.get("metrics") or {}
    checked = cfg.compare_metrics or tuple(metrics)
    lacking = [name for name in checked if name not in metrics]
    if lacking:
        return (
            f"lacks {', '.join(lacking)}, which metrics.compare checks: every "
            "verify of this image would fail on it"
        )
    odd = non_finite_metrics({name: metrics[name] for name in checked})
    if odd:
        return f"has {odd}: every verify of this image would hold its rerun to that"
    return ""


def _seal_warning(record: dict, problem: str, which: str, other: str) -> str:
    """Say that the run sealed has problem (_seal_problem); which names how
    it was chosen, other is "another " where --reference chose it."""
    return (
        f"run {record.get('run_id')}, {which} of this build with metrics, "
        f"{problem} (run again, or give {other}--reference)"
    )


def _of_this_build(
    record: dict, image_id: str, layers: str | None, manifest_sha: str | None
) -> bool:
    """Tell whether record is a run of this image or a sealed copy of it,
    frozen with the same manifest (when manifest_sha is known)."""
    image = record.get("image") or {}
    same_image = image.get("id") == image_id or (
        layers is not None and image.get("layers") == layers
    )
    return same_image and (
        manifest_sha is None or record.get("manifest_sha256") == manifest_sha
    )


def _sealed(cfg, engine, built, reference_path: Path | None):
    """Return (image id, reference record, id of the unsealed build).

    The image is sealed when a record exists. The build's tag may already name
    a sealed copy (an import of its own bundle): its unsealed build is then the
    image its reference run ran on, and it is sealed anew only for another run.
    """
    from reprobox.engine import image_labels, image_layers_digest
    from reprobox.share import (
        MANIFEST_SHA_LABEL,
        reference_from_labels,
        reference_ran_on,
        seal_image,
        sealed_beside,
    )

    labels = image_labels(engine, built.image_id)
    record = _reference_record(
        cfg,
        built.image_id,
        reference_path,
        image_layers_digest(engine, built.image_id),
        labels.get(MANIFEST_SHA_LABEL) or None,
    )
    carried = reference_from_labels(labels)
    source = reference_ran_on(carried) or built.image_id
    if record is None:
        # A warning, shown under -q too: what is shared cannot be verified,
        # and a push replaces the repository's earlier (sealed) entry with it.
        warn(
            "no succeeded run of this image yet: sharing it without a reference "
            "record, so `reprobox verify` of it has nothing to compare with "
            "(run `reprobox run` first to let others verify it)"
        )
        return built.image_id, None, source
    if carried is not None and carried == record:
        say(f"{built.tag} is already sealed with run {record.get('run_id')}")
        return built.image_id, record, source
    sealed = seal_image(engine, built.image_id, record, sealed_beside(built.tag))
    say(
        f"sealed run {record.get('run_id')} into {built.tag}-sealed "
        f"({sealed[7:19]}); `reprobox verify {built.tag}` checks it here"
    )
    return sealed, record, source


@contextmanager
def _sealed_until_shared(cfg, engine, built, reference_path: Path | None):
    """Seal as _sealed does; if the push or export then fails, or anything is
    interrupted, put back the <tag>-sealed copy that was there before.

    A refused push must not leave `verify <tag>` here holding the image to
    another run than the one an earlier, successful push published; nor may
    a stop that lands while the engine makes the sealed copy, which it may
    finish and tag after the stop. A first seal whose push or export then
    fails (a registry out of reach, a full disk) replaced nothing and is
    whole: it stays, as the line that announced it said. A marker in
    .reprobox/pushing/ lets the next command do the same after a kill.
    """
    from reprobox.engine import image_id
    from reprobox.push_tags import PushTag, tag_move
    from reprobox.share import sealed_beside
    from reprobox.tag_moves import drop_if_untagged

    sealed_tag = sealed_beside(built.tag)
    before = image_id(engine, sealed_tag)
    made = None
    move = PushTag(sealed_tag, None, before, source=built.image_id)
    with tag_move(cfg.state_dir, engine, move) as marker:
        try:
            made = _sealed(cfg, engine, built, reference_path)
            if made[0] != built.image_id:  # a copy was sealed
                marker.made(made[0])
            yield made
        except BaseException as exc:
            # made: (the image shared, its record, ...); the build's own id
            # when no copy was sealed (no run yet, or the tag already names
            # the seal).
            first_seal = (
                before is None and made is not None and made[0] != built.image_id
            )
            if first_seal and isinstance(exc, ReproboxError):
                say(f"nothing was shared; the sealed copy {sealed_tag} stays here")
                raise
            with signals_held():  # a second Ctrl-C must not leave it half put back
                now = image_id(engine, sealed_tag)
                if now != before:
                    if not _put_back_tag(engine, sealed_tag, before):
                        marker.keep()  # the next command tries again
                    elif now is not None:  # the copy sealed here: no `<none>`
                        drop_if_untagged(engine, now, cfg.name)
            raise
        if before is not None and image_id(engine, sealed_tag) != before:
            drop_if_untagged(engine, before, cfg.name)


def _put_back_tag(engine, tag: str, previous: str | None) -> bool:
    """Point tag at previous again, or remove it when there was none; say if done."""
    import docker.errors

    repo, _, name = tag.rpartition(":")
    try:
        if previous is None:
            engine.client.images.remove(tag, noprune=False)
        else:
            engine.client.images.get(previous).tag(repo, name)
    except docker.errors.DockerException as exc:
        warn(f"could not put {tag} back as it was: {exc}")
        return False
    return True


@app.command(short_help="Push the sealed image and record its digest.")
@interruptible
def push(
    project: Path = ProjectArg,
    registry: str = typer.Option(
        ...,
        "--registry",
        help="HOST[:PORT][/PATH]; the image goes to "
        "HOST[:PORT][/PATH]/reprobox/<project>:<tag>.",
    ),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        help="Run record to seal in: a record.json or a run folder holding one "
        "(default: the newest succeeded run of this build whose checked metrics "
        "are all there and finite).",
    ),
    ca_cert: Path | None = CaCertOpt,
    host: str | None = HostOpt,
    context: str | None = ContextOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Push the image (sealed with its reference run) and record its digest."""
    from reprobox.build import check_frozen_inputs
    from reprobox.engine import connect
    from reprobox.publication import record_publication
    from reprobox.share import check_published, check_registry, push_image

    cfg = _load(project)
    registry = check_registry(registry, cfg.name)
    # One read: the image pushed is of this freeze, and it is this freeze
    # that gets the published entry.
    frozen = check_frozen_inputs(cfg)
    if reference is not None:  # refused before a build, not after
        _refuse_reference_folder(cfg, frozen, reference)
    # A damaged published list is refused before anything is pushed.
    check_published(frozen.manifest_path, frozen.manifest)
    engine = connect(host, context)
    tidy_killed_runs(cfg, engine)
    built = _build(cfg, engine, ca_cert, frozen=frozen)
    # Sealed, pushed and recorded by one push at a time: another one's seal
    # would move <tag>-sealed and the registry tag in between.
    with one_share_at_a_time(cfg.state_dir, say):
        with _sealed_until_shared(cfg, engine, built, reference) as sealed:
            image, record, source = sealed
            ref = push_image(
                engine,
                image,
                registry,
                cfg.name,
                built.tag.rsplit(":", 1)[1],
                cfg.state_dir,
                on_progress=say,
                # Shown under -q too: a push that waits looks hung otherwise.
                on_stall=warn,
            )

        entry = {
            "ref": ref,
            "image_id": image,
            "source_image_id": source,
            "reference_run": record["run_id"] if record else None,
        }
        record_publication(frozen, entry)
    if as_json:
        typer.echo(
            dump_json({"schema_version": 1, "ref": ref, "image_id": image}), nl=False
        )
    else:
        echo(f"pushed {ref}")


def _check_export_target(cfg, output: Path) -> None:
    """Refuse an export path that would replace a reprobox or project file."""
    from reprobox.atomic import check_output_target
    from reprobox.bundle_file import is_bundle_file
    from reprobox.image_files import is_image_file

    if str(output) == "-":
        # As report's -o - would mean stdout: export writes a seekable file
        # (its index comes last), never a stream; nor a file named "-".
        raise InputError(
            "--output -: export writes the bundle as a file, not to stdout",
            hint="give a file path, e.g. -o bundle.tar",
        )
    check_output_target(output, "--output")
    target = output.resolve()
    root = cfg.root.resolve()
    if target.is_file() and target.is_relative_to(root):
        rel = target.relative_to(root).as_posix()
        if is_image_file(root, rel):
            raise InputError(
                f"--output {output} is a file of project {root}; writing the "
                "bundle there would destroy it",
                hint="write the bundle outside the project folder",
            )
    if target.is_file() and not is_bundle_file(target):
        # A bundle replaces only a bundle: not reprobox.toml, not another
        # project's train.py, not a tar of the user's that holds bundle files.
        raise InputError(
            f"--output {output} exists and is not a reprobox bundle; export "
            "replaces only an earlier bundle",
            hint="choose another -o, or remove that file yourself",
        )
    _check_can_write_beside(output)


def _check_can_write_beside(output: Path) -> None:
    """Refuse, before anything is built or sealed, a folder that takes no file."""
    why = write_problem(output.parent)
    if why is not None:
        raise InputError(
            f"--output {output}: cannot write a file in {output.parent}: {why}",
            hint="write the bundle to a folder you can write",
        )


@app.command("export")
@interruptible
def export_cmd(
    project: Path = ProjectArg,
    output: Path = typer.Option(..., "--output", "-o", help="Bundle file to write."),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        help="Run record to include: a record.json or a run folder holding one "
        "(default: the newest succeeded run of this build whose checked metrics "
        "are all there and finite).",
    ),
    ca_cert: Path | None = CaCertOpt,
    host: str | None = HostOpt,
    context: str | None = ContextOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write image, manifest, lock and reference record as one file."""
    from reprobox.build import check_frozen_inputs
    from reprobox.bundles import export_bundle
    from reprobox.engine import connect
    from reprobox.push_tags import sweep_killed_pushes
    from reprobox.share import check_published

    cfg = _load(project)
    _check_export_target(cfg, output)
    # One read: the bundle's files are those its image was built from, not
    # those of a `reprobox freeze` that ended during the build.
    frozen = check_frozen_inputs(cfg)
    # As push and run do (a ref holding a token, a damaged entry): the README
    # promises export refuses such a manifest too, naming the field.
    check_published(frozen.manifest_path, frozen.manifest)
    if reference is not None:  # refused before a build, not after
        _refuse_reference_folder(cfg, frozen, reference)
    engine = connect(host, context)
    tidy_killed_imports(engine)
    # As push does: the tags a push or export killed outright left moved.
    sweep_killed_pushes(engine, cfg.state_dir, cfg.name, say, warn)
    built = _build(cfg, engine, ca_cert, frozen=frozen)
    with (
        one_share_at_a_time(cfg.state_dir, say),  # a push seals too
        _sealed_until_shared(cfg, engine, built, reference) as sealed,
    ):
        image, record, _ = sealed
        files = {
            "Dockerfile": frozen.dockerfile_text,
            "manifest.json": frozen.core_text,
            "requirements.lock": frozen.lock_text,
        }
        if record is not None:
            files["reference-record.json"] = dump_json(record)
        index = export_bundle(engine, image, built.tag, output, files)
    # Told once the bundle is written: what it holds decides whether a build
    # takes it for a credential file.
    warn_if_it_enters_an_image(output, written=True)
    size = output.stat().st_size
    if as_json:
        typer.echo(
            dump_json(
                {
                    "file": str(output),
                    "bytes": size,
                    "tag": built.tag,
                    "image_id": index["image_id"],
                    "files": sorted(files),
                }
            ),
            nl=False,
        )
        return
    echo(
        f"exported {built.tag} ({index['image_id'][7:19]}) to {output} "
        f"({size / 1e6:.0f} MB)"
    )


@app.command("import", short_help="Load an exported bundle, checked by image id.")
@interruptible
def import_cmd(
    bundle: Path = typer.Argument(..., help="A file written by `reprobox export`."),
    into: Path | None = typer.Option(
        None,
        "--into",
        help="Also unpack manifest, lock and record into DIR/.reprobox/imported/.",
    ),
    host: str | None = HostOpt,
    context: str | None = ContextOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Load a bundle's image (checked by id) and optionally unpack its files."""
    from reprobox.bundles import import_bundle
    from reprobox.engine import connect
    from reprobox.share import sealed_beside

    if not bundle.is_file():
        if bundle.is_dir():
            why = "is a folder, not a bundle file"
        elif bundle.exists():
            why = "is not a regular file"
        else:
            why = "no such file"
        raise InputError(f"{bundle}: {why}", hint="give a file written by export")
    if into is not None:
        # Checked before the engine is touched: a bad --into leaves no image.
        for folder in (into / ".reprobox", into / ".reprobox" / "imported"):
            if folder.is_symlink():
                raise InputError(
                    f"--into {into}: {folder} is a symbolic link; reprobox writes "
                    "only into real folders there",
                    hint="remove the link, or give another --into",
                )
        for folder in (into, into / ".reprobox", into / ".reprobox" / "imported"):
            if folder.exists() and not folder.is_dir():
                raise InputError(
                    f"--into {into}: {folder} is not a folder",
                    hint="give a project folder (or a new one) as --into",
                )
        _check_into_writable(into)
    engine = connect(host, context)
    tidy_killed_imports(engine)
    # note=warn: "cannot keep an import marker" is a warning, shown under -q
    # too (it was a progress line, which -q hid).
    index, texts = import_bundle(
        engine, bundle, finished_step("import"), note=warn, on_left=left_behind
    )
    if into is not None:
        _unpack_bundle_files(into, texts, index["tag"])
    if as_json:
        typer.echo(
            dump_json(
                {
                    "tag": index["tagged"],
                    "image_id": index["image_id"],
                    "files": sorted(texts),
                }
            ),
            nl=False,
        )
        return
    if index["tagged"] == sealed_beside(index["tag"]):
        say(_beside_note(engine, index["tag"], index["tagged"]))
    elif index["tagged"] != index["tag"]:
        say(
            f"{index['tag']} and {sealed_beside(index['tag'])} already name other "
            "images of this build here (left as they are: the second is sealed "
            "with another run); the bundle's sealed image is "
            f"{index['tagged']} (`reprobox verify {index['tagged']}` checks it)"
        )
    echo(f"imported {index['tagged']} ({index['image_id'][7:19]}), id checked")


def _beside_note(engine, tag: str, tagged: str) -> str:
    """Say where an import put its image beside another image of the build,
    and which name verify takes it by.

    verify TAG checks the image TAG names when that carries a reference
    record, and TAG-sealed only when it does not (an unsealed build).
    """
    from reprobox.engine import image_labels
    from reprobox.share import REFERENCE_LABEL

    note = (
        f"{tag} already names another image of this build here (left as it "
        f"is); the bundle's sealed image is {tagged}"
    )
    if REFERENCE_LABEL in image_labels(engine, tag):
        return (
            f"{note} (`reprobox verify {tagged}` checks it; `verify {tag}` "
            f"checks the image at {tag}, sealed with another run)"
        )
    return f"{note} (`reprobox verify {tag}` takes it)"


def _check_into_writable(into: Path) -> None:
    """Refuse an --into where the unpacked files could not be written.

    Judged on the deepest of DIR/.reprobox/imported that exists, since the
    rest is made; before the engine is touched, so nothing is half done.
    """
    folder = into / ".reprobox" / "imported"
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    why = write_problem(folder)
    if why is None:
        return
    raise InputError(
        f"--into {into}: cannot write in {folder}: {why}",
        hint="give a folder you can write as --into, or import without --into",
    )


def _unpack_bundle_files(into: Path, texts: dict[str, str], tag: str) -> None:
    """Write the bundle's files into INTO/.reprobox/imported/; on a full disk,
    leave no half set and no folder this import made."""
    target = into / ".reprobox" / "imported"
    made = [f for f in (into, into / ".reprobox", target) if not f.exists()]
    written: list[Path] = []
    try:
        for name, text in texts.items():
            existed = (target / name).exists()
            atomic_write_text(target / name, text)
            if not existed:
                written.append(target / name)
    except OSError as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise InputError(
            f"--into {into}: cannot write the bundle's files into {target}: "
            f"{exc.strerror or exc}; the image was imported as {tag}",
            hint="free space there (or give another --into) and import again",
        ) from None


def _verify_runs_dir() -> Path:
    """Return verify's default runs folder: under .reprobox/ inside a project.

    A folder beside a project's code would go into its image and change its
    tag, as `report` avoids too; elsewhere the rerun goes to ./reprobox-verify.
    """
    project = project_holding(Path.cwd())
    if project is None:
        return Path("reprobox-verify")
    return Path(os.path.relpath(project / ".reprobox" / "verify"))


def _project_runs() -> Path | None:
    """Return the runs folder of the project verify runs in, if any."""
    project = project_holding(Path.cwd())
    return None if project is None else project / ".reprobox" / "runs"


def _one_record(
    path: Path, why: str, fits=None, of_what: str = "", judge=None, checked=None
):
    """Read --reference: one record, not a folder of several to pick from.

    push, export and verify alike: the newest of a folder is not necessarily
    the run meant (a sweep's last seed), so the user names it. The hint
    offers the newest succeeded run that fits (a run of this build, told by
    fits and named by of_what), never just the newest: that may be a failed
    run, or one of another build; and of those, the newest healthy one, as
    push and export seal by default (every metric checked, the names in
    checked or else all it recorded, present and finite), where there is one.
    judge, when given, returns (fits, of_what, checked) and is asked only for
    a folder of several (verify asks the engine); a fits of None there leaves
    the hint naming no run.
    """
    from reprobox.compare import load_records

    records = load_records([path])
    if len(records) > 1:
        if judge is not None:
            fits, of_what, checked = judge()
        fitting = [
            r
            for r in records
            if r.status == "succeeded" and (fits is None or fits(r.data))
        ]
        rule = SimpleNamespace(compare_metrics=tuple(checked or ()))
        healthy = [
            r
            for r in fitting
            if r.data.get("metrics") and not _seal_problem(rule, r.data)
        ]
        if judge is not None and fits is None:
            hint = f"name one run's record.json{of_what}"
        elif healthy:
            hint = (
                f"name one record, e.g. --reference {healthy[-1].path} (the "
                f"newest succeeded run{of_what} there with every checked metric "
                "present and finite)"
            )
        elif fitting:
            hint = (
                f"name one record, e.g. --reference {fitting[-1].path} (the "
                f"newest succeeded run{of_what} there; none there has every "
                "checked metric present and finite)"
            )
        else:
            hint = (
                f"name one run's record.json (none there is a succeeded run{of_what})"
            )
        raise InputError(
            f"--reference {path} holds {len(records)} run records; {why}",
            hint=hint,
        )
    return records[0]


def _refuse_reference_folder(cfg, frozen, reference: Path) -> None:
    """Refuse push's or export's --reference naming a folder of several runs
    before anything is built, its hint offering a run of this freeze."""
    _one_record(
        reference,
        SEALS_ONE,
        _of_this_freeze(cfg, frozen),
        THIS_BUILD,
        checked=cfg.compare_metrics,
    )


def _of_this_freeze(cfg, frozen):
    """Return what tells a record is of this project's frozen manifest."""
    return lambda data: (
        data.get("project") == cfg.name
        and data.get("manifest_sha256") == frozen.manifest_sha256
    )


def _verify_reference(path: Path, image: str, host, context) -> dict:
    """Read verify's --reference: one record.

    A folder of several is refused, its hint naming the newest succeeded run
    there of image's build and manifest: only the engine knows them, and it is
    asked only then, and never made to pull.
    """
    from reprobox.compare.records import non_finite_metrics

    data = dict(
        _one_record(
            path,
            "verify compares with one",
            judge=lambda: _runs_of_image(image, host, context),
        ).data
    )
    # Taken as given, as push and export seal one, and said as they say it
    # (brk r48 BP 2: verify took a NaN reference without a word).
    odd = non_finite_metrics(data.get("metrics") or {})
    if odd:
        # Not push's words: nothing is sealed, this one rerun is held to it
        # (brk r49 BS 3).
        warn(
            f"--reference {path}: run {data.get('run_id')} has {odd}: this "
            "rerun is held to that (give another --reference)"
        )
    return data


def _runs_of_image(image: str, host, context):
    """Return (fits, of_what, checked) telling a run of image: the same layers
    under the same manifest, as verify accepts a --reference, and the metrics
    its manifest checks; fits is None when the engine or the image cannot be
    read."""
    from reprobox.engine import connect, image_id, image_layers_digest
    from reprobox.share import MANIFEST_SHA_LABEL, labels_of
    from reprobox.verify import manifest_from_labels

    of_what = f" of a run of {image}"
    try:
        engine = connect(host, context)
        found = image_id(engine, image)
        if found is None:
            return None, of_what, None
        layers = image_layers_digest(engine, found)
        labels = labels_of(engine, found, shown=image)
        manifest_sha = labels.get(MANIFEST_SHA_LABEL)
        checked = (manifest_from_labels(labels, image).get("metrics") or {}).get(
            "compare"
        )
    except ReproboxError:
        return None, of_what, None
    if not (layers and manifest_sha):
        return None, of_what, None
    return (
        lambda data: (
            (data.get("image") or {}).get("layers") == layers
            and data.get("manifest_sha256") == manifest_sha
        ),
        f" of {image}",
        checked,
    )


@app.command(short_help="Rerun an image and compare with its reference run.")
@interruptible
def verify(
    image: str = typer.Argument(..., help="Image reference or id made by reprobox."),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        help="Reference record: a record.json or a run folder holding one "
        "(default: the image's own).",
    ),
    runs_dir: Path | None = typer.Option(
        None,
        "--runs-dir",
        help="Where the rerun's record goes (default: .reprobox/verify/ inside a "
        "project folder, else ./reprobox-verify).",
    ),
    host: str | None = HostOpt,
    context: str | None = ContextOpt,
    env: list[str] = typer.Option(
        [],
        "--env",
        "-e",  # as run spells it (brk r49 BS 5)
        metavar="NAME[=VALUE]",
        help="A value the reference's record hides (***), e.g. an API key it "
        "ran with; NAME alone takes it from this shell. May be repeated.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Rerun an image from its labels and compare with its reference run.

    The rerun takes the reference's seed, profile, --cpus, --memory, network
    and --env, and as many GPUs as it used; values the record hides are given
    again with --env.
    """
    from reprobox.cli_run import _parse_env
    from reprobox.compare import render_json, render_text
    from reprobox.engine import connect
    from reprobox.recovery import sweep_killed_runs
    from reprobox.verify import verify_image

    if runs_dir is None:
        runs_dir = _verify_runs_dir()
    if runs_dir.exists() and not runs_dir.is_dir():
        raise InputError(
            f"{runs_dir}: cannot write the run's files there: not a folder",
            hint="the runs folder must be a folder: give another --runs-dir",
        )
    ref_data = _verify_reference(reference, image, host, context) if reference else None
    # The rerun's record goes into a run folder of its own, named when it starts.
    warn_if_it_enters_an_image(
        runs_dir / "run" / "record.json", shown=f"{runs_dir / '<run id>'}/record.json"
    )
    engine = connect(host, context)
    # A verify killed outright left its record "running" and maybe its
    # container: close and remove them, as run and build do for a project.
    sweep_killed_runs(engine, runs_dir.absolute(), None, say, warn)
    tidy_killed_imports(engine)
    result = verify_image(
        engine,
        image,
        runs_dir=runs_dir,
        reference=ref_data,
        reference_name=f"--reference {reference}",
        remote=bool(host or context),
        on_log=log_printer(),  # None with -q; escapes what the rerun prints
        hidden_env=_parse_env(env),
        on_info=say,
        on_warning=warn,
        project_runs=_project_runs(),
    )
    if as_json:
        typer.echo(
            dump_json(
                {
                    "schema_version": 1,
                    "image": image,
                    "passed": result.passed,
                    "problems": result.problems,
                    "comparison": json.loads(render_json(result.comparison))
                    if result.comparison
                    else None,
                }
            ),
            nl=False,
        )
    else:
        for problem in result.problems:
            echo(f"problem: {problem}")
        if result.comparison is not None:
            echo(render_text(result.comparison), nl=False)
        echo("verified: matches its reference" if result.passed else "NOT verified")
    raise typer.Exit(0 if result.passed else 1)
