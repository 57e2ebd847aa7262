"""`reprobox verify IMAGE`: rerun an image from its labels alone and check it.

An image made by reprobox carries its manifest and lock in labels; a sealed
one also carries its reference run record. Verify refuses an image whose lock
no longer matches its manifest or whose layers are not the reference's, then
reruns it with the reference's seed, profile and settings and compares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reprobox.compare import Record, compare_runs
from reprobox.compare.comparison import Comparison
from reprobox.compare.records import _check_record
from reprobox.config import MAX_SEED, NETWORKS, PROFILES
from reprobox.config_env import ENV_NAME
from reprobox.credential_files import CREDENTIAL_NAME_WHAT, credential_name
from reprobox.engine import Engine, image_id, image_layers_digest
from reprobox.errors import (
    CompatibilityError,
    InputError,
    shortened,
    shown_value,
)
from reprobox.lock import parse_lock
from reprobox.manifest import check_manifest, sha256_bytes
from reprobox.run_env import set_by_image
from reprobox.run_options import RunOptions, RunTarget
from reprobox.runner import run_in_container
from reprobox.seals import check_manifest_sealed, loads_strict
from reprobox.secret_shapes import shown_token
from reprobox.share import (
    LOCK_LABEL,
    MANIFEST_LABEL,
    MANIFEST_SHA_LABEL,
    REFERENCE_LABEL,
    check_image_reference,
    labels_of,
    lock_from_labels,
    manifest_text_from_labels,
    pull_by_digest,
    reference_from_labels,
    same_build,
    sealed_beside,
    tag_pulled,
)


@dataclass
class Verification:
    """What verify found: problems before running, and the comparison after."""

    image: str
    problems: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    comparison: Comparison | None = None

    @property
    def passed(self) -> bool:
        return (
            not self.problems and self.comparison is not None and self.comparison.passed
        )


def manifest_from_labels(labels: dict[str, str], image: str) -> dict[str, Any]:
    """Return the manifest an image's label carries, refusing a damaged one.

    The label is what verify reruns by: it must still be the text its sha256
    label was taken of, and have the shape build and compare read (a string
    for metrics.compare would be compared letter by letter).
    """
    where = f"image {image}: label {MANIFEST_LABEL}"
    text = manifest_text_from_labels(labels) or ""
    expected = labels.get(MANIFEST_SHA_LABEL)
    if expected is None:
        raise InputError(
            f"image {image}: label {MANIFEST_SHA_LABEL} is missing, so its "
            "manifest cannot be checked",
            hint="verify images from `reprobox build`, `push` or `import`",
        )
    if sha256_bytes(text.encode("utf-8")) != expected:
        raise InputError(
            f"{where} does not match label {MANIFEST_SHA_LABEL}: the manifest "
            "was changed after the build",
            hint="verify the image as it was built, pushed or exported",
        )
    try:
        manifest = loads_strict(text, where)
    except (ValueError, RecursionError):
        raise InputError(
            f"{where} is not valid JSON",
            hint="verify the image as it was built, pushed or exported",
        ) from None
    if not isinstance(manifest, dict):
        raise InputError(
            f"{where} holds no manifest (not a JSON object)",
            hint="verify the image as it was built, pushed or exported",
        )
    check_manifest_sealed(
        where, manifest, "build the image again from a fresh `reprobox freeze`"
    )
    check_manifest(Path(where), manifest)
    return manifest


def check_reference(reference: dict[str, Any], where: str) -> None:
    """Refuse a reference record verify cannot hold a rerun to.

    Its fields get the record reader's checks (image, options, metrics must be
    objects...), and it must be a run that succeeded: a failed run has no
    numbers to compare with.
    """
    _check_record(Path(where), reference)
    _refuse_unsucceeded(reference, where)


def _refuse_unsucceeded(reference: dict[str, Any], where: str) -> None:
    """Refuse a reference run that did not succeed: whatever numbers it holds,
    they are not what its setup gives (brk r50 BU 5: "it has no numbers" was
    said of a failed run whose record held its metrics)."""
    status = reference.get("status")
    if status != "succeeded":
        raise InputError(
            f"{where}: that run {not_succeeded(status)}, so its numbers are no "
            "reference for a rerun",
            hint="give a record of a run that succeeded",
        )


def not_succeeded(status: Any) -> str:
    """Say what a run that did not succeed did, as the end of 'that run ...'."""
    said = {
        "failed": "failed",
        "interrupted": "was interrupted",
        "running": "never finished (its record still says running)",
    }
    if status in said:
        return said[status]
    return f"has status {shown_value(status, 40)}" if status else "has no status"


def _other_reference(image: str, carried: Callable[[], bool], of: str = "") -> str:
    """The hint for a given reference verify refuses: leaving --reference out
    helps only where the image carries one, which carried() tells, asked
    only for a refusal (brk r48 BQ 6: it was offered for an image that
    carried none, whose refusal then asked for --reference)."""
    if carried():
        return (
            f"give a record of a run of {image}{of}, or leave --reference out to "
            "use the one it carries"
        )
    return (
        f"give a record of a run of {image}{of} (it carries none of its own: "
        "`reprobox run` it, then `reprobox push` or `export` seals that run in)"
    )


def _check_reference_project(
    reference: dict[str, Any],
    manifest: dict[str, Any],
    image: str,
    where: str,
    carried: Callable[[], bool] = lambda: True,
) -> None:
    """Refuse a given reference that is a run of another project, as push does.

    Its numbers say nothing of this image: a wrong file, not a failed check.
    """
    project = manifest["project"]["name"]
    if reference.get("project") != project:
        shown = shortened(repr(reference.get("project")), 60)
        raise InputError(
            f"{where}: a run of project {shown}, not {project!r}",
            hint=_other_reference(image, carried, "'s project"),
        )


def _check_reference_build(
    reference: dict[str, Any],
    layers: str | None,
    image: str,
    where: str,
    carried: Callable[[], bool] = lambda: True,
) -> None:
    """Refuse a given reference run of another build, as push does.

    Its layers are not the image's (the code or packages changed and it was
    built again): its numbers say nothing of this image, and no rerun is
    needed to tell: a wrong file, not a failed check.
    """
    ran_on = (reference.get("image") or {}).get("layers")
    if not (isinstance(ran_on, str) and layers) or ran_on == layers:
        return
    raise InputError(
        f"{where}: a run of another build (layers {_short_digest(ran_on)}, not "
        f"{image}'s {_short_digest(layers)})",
        hint=_other_reference(image, carried),
    )


def _short_digest(digest: str) -> str:
    """Show a sha256 digest by its first 12 hex digits; anything else quoted."""
    start = digest.removeprefix("sha256:")[:12]
    return start if _HEX.fullmatch(start) else shown_value(digest, 40)


_HEX = re.compile(r"[0-9a-f]{12}")


def _check_reference_manifest(
    reference: dict[str, Any],
    labels: dict[str, str],
    image: str,
    where: str,
    carried: Callable[[], bool] = lambda: True,
) -> None:
    """Refuse a given reference run made under another manifest, as push does.

    A refreeze that changed only the seed, tolerances or command keeps the
    layers: a rerun would take that run's seed and be judged by its rules,
    not this image's.
    """
    ran_under = reference.get("manifest_sha256")
    frozen = labels.get(MANIFEST_SHA_LABEL)
    if not (isinstance(ran_under, str) and frozen) or ran_under == frozen:
        return
    raise InputError(
        f"{where}: a run under another manifest ({ran_under[:12]}, not "
        f"{image}'s {frozen[:12]}): frozen with another seed, tolerances or "
        "settings on the same layers",
        hint=_other_reference(image, carried),
    )


def check_image_integrity(
    labels: dict[str, str], layers: str | None, reference: dict[str, Any] | None
) -> list[str]:
    """Return what is wrong with an image's labels and layers, if anything."""
    problems = []
    try:
        manifest = json.loads(manifest_text_from_labels(labels) or "")
    except (ValueError, RecursionError):
        return [f"label {MANIFEST_LABEL} is not valid JSON"]
    if not isinstance(manifest, dict):
        return [f"label {MANIFEST_LABEL} holds no manifest"]
    lock = lock_from_labels(labels)
    expected = (manifest.get("packages") or {}).get("lock_sha256")
    if lock is None:
        problems.append(f"label {LOCK_LABEL} is missing")
    elif sha256_bytes(lock.encode("utf-8")) != expected:
        problems.append(
            "the lock in the image does not match the manifest's "
            "lock_sha256: the lock was changed after freeze"
        )
    if reference is not None:
        ref_layers = (reference.get("image") or {}).get("layers")
        if ref_layers and layers != ref_layers:
            problems.append(
                "the image's layers differ from the reference run's "
                f"({layers} vs {ref_layers})"
            )
    return problems


def reference_options(reference: dict[str, Any], image: str) -> RunOptions:
    """Return how to rerun a reference record's run, refusing what is not sane.

    The record comes from an image label or a file: data, not a command. Only
    the settings a user could have given `reprobox run` are taken, each
    checked the way the command line checks it (no host network, no odd
    variables, a seed and a CPU count in range).
    """
    from reprobox.cpu_limits import MAX_CPUS, MIN_CPUS

    def refuse(field: str, value: Any, want: str) -> InputError:
        return InputError(
            f"image {image}: reference record field {field} is {value!r}, not {want}",
            hint="the record is damaged or not reprobox's; pass --reference with "
            "a record you trust",
        )

    seed = reference.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED
    ):
        raise refuse("seed", seed, "an integer 0..4294967295")
    profile = reference.get("profile") or "default"
    if profile not in PROFILES:
        raise refuse("profile", profile, "default or strict")
    options = reference.get("options") or {}
    if not isinstance(options, dict):
        raise refuse("options", options, "an object")
    cpus = options.get("cpus")
    if cpus is not None and (
        isinstance(cpus, bool)
        or not isinstance(cpus, (int, float))
        or not MIN_CPUS <= cpus < MAX_CPUS
    ):
        raise refuse("options.cpus", cpus, f"a CPU count from {MIN_CPUS}")
    memory = options.get("memory")
    if memory is not None and not (isinstance(memory, str) and _is_memory_size(memory)):
        raise refuse("options.memory", memory, "a size Docker accepts, e.g. 4g")
    gpus = options.get("gpus")
    if gpus is not None:
        if not isinstance(gpus, str):
            raise refuse("options.gpus", gpus, "all, a count or device=ID[,ID]")
        try:
            # "" is what an older reprobox recorded for `--gpus ''`: no GPU.
            gpus = _gpu_count(gpus) if gpus.strip() else None
        except InputError:
            raise refuse(
                "options.gpus", gpus, "all, a count or device=ID[,ID]"
            ) from None
    network = options.get("network") or "bridge"
    if network not in NETWORKS:
        raise refuse("options.network", network, "bridge or none")
    env = options.get("env") or {}
    if not isinstance(env, dict):
        raise refuse("options.env", env, "an object")
    # The image's own ENV and the profile bring the rest of the reference's
    # settings back; only what was passed with --env must be given again.
    ref_env = {}
    for name, value in env.items():
        if credential_name(str(name)):
            # As run --env refuses it: the rerun's record would keep it, and
            # a message naming the field whole would print it.
            raise InputError(
                f"image {image}: reference record field options.env."
                f"{shown_token(str(name))} names a variable that is "
                f"{CREDENTIAL_NAME_WHAT}; refused, nothing was run",
                hint="pass --reference with a record you trust",
            )
        if value == "***":
            continue
        if not ENV_NAME.fullmatch(str(name)) or not isinstance(value, str):
            raise refuse(f"options.env.{name}", value, "a NAME=value string")
        if set_by_image(name):  # the rule [env], pass_env and --env share
            raise refuse(f"options.env.{name}", value, "a variable runs may set")
        if any(ch in value for ch in "\r\n\x00") or len(value) > 4096:
            raise refuse(f"options.env.{name}", value[:40], "one line")
        ref_env[name] = value
    return RunOptions(
        seed=seed,
        profile=profile,
        cpus=float(cpus) if cpus is not None else None,
        memory=memory,
        gpus=gpus,
        extra_env=ref_env,
        network=network,
    )


def _hidden_values(
    reference: dict[str, Any],
    given: Mapping[str, str],
    image: str,
    on_warning: Callable[[str], None] | None,
) -> dict[str, str]:
    """Return the values given for the reference's hidden --env variables.

    A secret-looking --env value is kept as *** in the record, so the rerun
    cannot take it from there; the user gives it again with --env NAME.
    """
    env = (reference.get("options") or {}).get("env") or {}
    hidden = sorted(name for name, value in env.items() if value == "***")
    for name in given:
        if name not in hidden:
            raise InputError(
                f"--env {name}: the reference run of {image} did not set it with "
                "a hidden value; verify reruns with the reference's own settings",
                hint="give --env only for the variables whose values the "
                "reference hides"
                + (f": {', '.join(hidden)}" if hidden else " (it hides none)"),
            )
    missing = [name for name in hidden if name not in given]
    if missing and on_warning:
        names = ", ".join(missing)
        flags = " ".join(f"--env {name}" for name in missing)
        if len(missing) == 1:
            its, it = "its value", "it"
        else:
            its, it = "their values", "them"
        on_warning(
            f"the reference ran with {names} set, {its} hidden in the record; "
            f"this rerun runs without {it} (give {it} with {flags})"
        )
    return dict(given)


def _is_memory_size(memory: str) -> bool:
    from reprobox.run_options import memory_bytes

    try:
        memory_bytes(memory)
    except InputError:
        return False
    return True


def _gpu_count(gpus: str) -> str | None:
    """Return the reference's --gpus as the GPUs to ask for here: all or a count.

    A device=ID list names GPUs of the machine the reference ran on, which
    this one need not have; what the rerun needs is as many GPUs.
    """
    from reprobox.gpu.devices import describe_gpus, parse_gpus_option

    requests = parse_gpus_option(gpus)
    if requests and requests[0].device_ids:
        return str(len(requests[0].device_ids))
    return describe_gpus(requests)


def _gpu_requests(
    manifest: dict[str, Any], gpus: str, image: str, engine: Engine, remote: bool
):
    """Check this machine can give the rerun the reference's GPUs; return them."""
    from reprobox.gpu.preflight import (
        GPU_HOST_FIX,
        check_engine_gpus,
        gpu_preflight,
        remote_engine,
    )

    try:
        requests = gpu_preflight(manifest, gpus, remote=remote)
        check_engine_gpus(
            engine,
            gpus,
            local=remote_engine(remote) is None,
            fix="verify it on an engine with the NVIDIA container runtime",
        )
        return requests
    except CompatibilityError as exc:
        # The preflight's fix says "run without --gpus": verify has no such flag.
        raise CompatibilityError(
            f"image {image}: its reference run used GPUs and the rerun asks for "
            f"as many ({exc.message.removesuffix('; ' + GPU_HOST_FIX)})",
            hint=exc.hint or "verify it on a machine with as many GPUs",
        ) from None


def installed_mismatches(lock_text: str, packages: dict[str, str]) -> list[str]:
    """Return locked packages whose installed version in the run differs."""
    out = []
    for name, version in sorted(parse_lock(lock_text).items()):
        got = packages.get(name)
        if got is not None and got != version:
            out.append(f"{name}: locked {version}, installed {got}")
    return out


def sealed_copy(engine: Engine, image: str, found: str) -> str | None:
    """Return the id of IMAGE-sealed when it is image with a record sealed in.

    push and export seal the reference record into a copy tagged TAG-sealed,
    leaving the build's own tag as it was; on the engine that built it, verify
    of the build's tag means that copy.
    """
    if "@" in image or ":" not in image.rsplit("/", 1)[-1]:
        return None  # an id or a digest names one image, not a build
    companion = sealed_beside(image)
    try:
        check_image_reference(companion)
    except InputError:
        return None
    sealed = image_id(engine, companion)
    if sealed is None or not same_build(engine, sealed, engine, found):
        return None
    return sealed


def _label_reference(labels: dict[str, str], image: str) -> dict[str, Any] | None:
    """Return the reference record an image's label carries, naming the image."""
    try:
        return reference_from_labels(labels)
    except InputError as exc:
        raise InputError(f"image {image}: {exc.message}", hint=exc.hint) from None


def _run_at_hand(
    runs: Path | None, layers: str | None, labels: dict[str, str]
) -> Path | None:
    """Return the newest healthy run of this image (its layers, under its
    manifest) in a project's runs folder, to offer as --reference (brk r49
    BR 2: the refusal sent the user to run again, with one at hand)."""
    from reprobox.compare.records import non_finite_metrics, records_for_a_hint

    sha = labels.get(MANIFEST_SHA_LABEL)
    if runs is None or not layers or not sha:
        return None
    for record in reversed(records_for_a_hint(runs)):
        metrics = record.data.get("metrics") or {}
        if (
            record.status == "succeeded"
            and (record.data.get("image") or {}).get("layers") == layers
            and record.data.get("manifest_sha256") == sha
            and metrics
            and not non_finite_metrics(metrics)
        ):
            return record.path
    return None


def verify_image(
    engine: Engine,
    image: str,
    *,
    runs_dir: Path,
    reference: dict[str, Any] | None = None,
    reference_name: str = "--reference",
    remote: bool = False,
    on_log: Callable[[str], None] | None = None,
    hidden_env: Mapping[str, str] | None = None,
    on_info: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    project_runs: Path | None = None,
) -> Verification:
    """Check image against its labels and reference, rerun it, and compare.

    reference_name names a given reference in messages; remote says the engine
    was named with --host or --context (its GPUs cannot be checked from here);
    hidden_env gives values for the reference's --env variables whose values
    its record hides (***), which the rerun cannot take from the record.
    on_log hears the rerun's output, on_info progress, on_warning warnings.
    project_runs is the runs folder of the project verify runs in, if any,
    where a run of an unsealed image may be found to offer as --reference.
    """
    check_image_reference(image)
    # Docker bind-mounts only absolute paths; a relative runs folder is the user's.
    runs_dir = Path(runs_dir).absolute()
    found = image_id(engine, image)
    if found is None and "@sha256:" in image:
        found = pull_by_digest(engine, image)
        # Tagged at once, as `run --host` tags the same pull: untagged, the
        # image would be left behind as <none>.
        tag = tag_pulled(engine, found)
        if tag is None:
            raise InputError(
                f"image {image} was not made by reprobox (its labels name no "
                "project and build); the pulled image was removed again",
                hint="verify images from `reprobox build`, `push` or `import`",
            )
        if on_info:
            on_info(f"pulled {image}, tagged {tag}")
    if found is None:
        raise InputError(
            f"image {image} is not on this engine",
            hint="pull it, or `reprobox import` its bundle",
        )
    labels = labels_of(engine, found, shown=image)
    if reference is None and _label_reference(labels, image) is None:
        sealed = sealed_copy(engine, image, found)
        if sealed is not None:
            if on_info:
                on_info(f"verifying {image}-sealed: {image} with its reference record")
            found = sealed
            labels = labels_of(engine, found, shown=image)
    # Everything verify reruns by is checked before any container exists: a
    # damaged label found after the training would leave a rerun unjudged.
    manifest = manifest_from_labels(labels, image)
    # First: no reference, given or sealed, makes such an image verifiable.
    if manifest.get("data"):
        names = ", ".join(str(entry.get("path")) for entry in manifest["data"])
        raise InputError(
            f"image {image} trains on data files that are not in the image "
            f"({names}); verify cannot mount them",
            hint="rerun it in its project with `reprobox run`, and compare the "
            "record with the reference",
        )
    given_reference = reference is not None
    if reference is None:
        reference = _label_reference(labels, image)
        if reference is None:
            at_hand = _run_at_hand(
                project_runs, image_layers_digest(engine, found), labels
            )
            raise InputError(
                f"image {image} carries no reference run record",
                hint=(
                    f"give --reference {at_hand}, a run of it in this project "
                    "(`reprobox push` or `export` seals one in)"
                )
                if at_hand
                else "run it with `reprobox run` first: `reprobox push` or "
                "`reprobox export` then seal that run in; one sealed on another "
                "engine is verified by the published ref its manifest lists "
                "(`...@sha256:...`) or after importing its bundle; or pass "
                "--reference",
            )
        try:
            check_reference(reference, f"image {image}: label {REFERENCE_LABEL}")
        except InputError as exc:
            # Sealed in by push or export: no runs folder holds it to rerun
            # or move; the image changed after it left the one who sealed it.
            raise InputError(
                exc.message,
                hint="pull or import the image again from whoever shared it, or "
                "pass --reference with the record of its reference run",
            ) from None
    layers = image_layers_digest(engine, found)
    if given_reference:
        # Each refused as push refuses it: a wrong file, exit 2, before any
        # container; the layers first, as the manifest's words assume them;
        # its status last, as push says it (brk r50 BT 4: a failed run of
        # another project was told to be a run that succeeded, then refused
        # again for its project).
        _check_record(Path(reference_name), reference)

        # Leaving --reference out helps only where the image carries one.
        def carried() -> bool:
            return (
                _label_reference(labels, image) is not None
                or sealed_copy(engine, image, found) is not None
            )

        _check_reference_project(reference, manifest, image, reference_name, carried)
        _check_reference_build(reference, layers, image, reference_name, carried)
        _check_reference_manifest(reference, labels, image, reference_name, carried)
        _refuse_unsucceeded(reference, reference_name)
    result = Verification(image=image)
    result.problems = check_image_integrity(labels, layers, reference)
    if result.problems:
        return result

    opts = reference_options(reference, image)
    opts = replace(
        opts,
        extra_env={
            **opts.extra_env,
            **_hidden_values(reference, hidden_env or {}, image, on_warning),
        },
    )
    if opts.gpus:
        opts = replace(
            opts,
            device_requests=_gpu_requests(manifest, opts.gpus, image, engine, remote),
        )
        for warning in opts.device_requests.warnings:
            if on_warning:
                on_warning(warning)
    target = RunTarget(
        project=manifest["project"]["name"],
        runs_dir=runs_dir,
        closed_by="the next `reprobox verify` with this --runs-dir",
        elsewhere=" (or give verify another --runs-dir)",
    )
    record = run_in_container(
        target,
        engine,
        image_ref=image,
        image_id=found,
        manifest=manifest,
        manifest_sha256=sha256_bytes(
            (manifest_text_from_labels(labels) or "").encode("utf-8")
        ),
        opts=opts,
        on_log=on_log,
    )
    result.record = record
    if record["status"] != "succeeded":
        result.problems.append(
            f"the rerun {record['status']}: "
            f"{(record.get('error') or {}).get('message')}"
        )
        return result
    packages = (record.get("machine") or {}).get("packages") or {}
    result.problems += installed_mismatches(lock_from_labels(labels) or "", packages)
    metrics = manifest.get("metrics") or {}  # checked by manifest_from_labels
    result.comparison = compare_runs(
        [
            Record(path=Path("reference"), data=reference),
            Record(path=runs_dir / record["run_id"] / "record.json", data=record),
        ],
        reference=0,
        tolerances=metrics.get("tolerances") or {},
        metrics=metrics.get("compare") or None,
    )
    return result
