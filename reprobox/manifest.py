"""The frozen project on disk: manifest.json, requirements.lock, Dockerfile.

The manifest format is documented in docs/schemas.md. Reading checks every
file so that a build or run never starts from a half-frozen or edited state.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprobox.atomic import unit_write_state
from reprobox.config import MAX_SEED, ProjectConfig
from reprobox.errors import InputError, newer_schema_error, shortened
from reprobox.marker_files import kind_of_mode
from reprobox.metric_names import is_metric_name, metric_name_fault
from reprobox.seals import (
    SEALED_MANIFEST_VERSION,
    SECTIONS_FIELD,
    UNSEALED_SECTIONS,
    check_manifest_sealed,
    loads_strict,
)
from reprobox.secret_shapes import shown_token, token_in_name

# 2: the manifest carries sections_sha256 (docs/schemas.md); a manifest of 1
# is refused, since edits to it cannot be told: freezing again makes a 2.
SCHEMA_VERSION = SEALED_MANIFEST_VERSION
MANIFEST_NAME = "manifest.json"
# Present while freeze renames its files into place (see atomic_write_files).
FREEZE_MARKER = ".freeze.pending"
LOCK_NAME = "requirements.lock"
VCS_NAME = "requirements-vcs.txt"
DOCKERFILE_NAME = "Dockerfile"


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of data."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_versioned_json(
    path: Path, kind: str, known_version: int, fix: str | None = None
) -> dict[str, Any]:
    """Read a reprobox JSON document, refusing corrupt or too-new files.

    fix says how to write the document again (e.g. run `reprobox freeze`).
    """
    refuse_odd_file(path, kind, fix)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {kind} is missing") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {kind}: {exc.strerror}") from None
    try:
        data = loads_strict(raw.decode("utf-8"), path)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"{path}: {kind} is not valid JSON ({str(exc).splitlines()[0][:200]})",
            hint=fix or "restore it or create it again",
        ) from None
    except RecursionError:
        raise InputError(
            f"{path}: {kind} is nested too deeply to be reprobox's",
            hint=fix or "restore it or create it again",
        ) from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise InputError(
            f"{path}: not a reprobox {kind} (no schema_version)",
            hint=fix or "restore it or create it again",
        )
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError(
            f"{path}: schema_version is {shortened(json.dumps(version))}, not a "
            f"whole number: the {kind} is damaged",
            hint=fix or "restore it or create it again",
        )
    if data["schema_version"] > known_version:
        raise newer_schema_error(
            path,
            kind,
            data["schema_version"],
            known_version,
            data.get("reprobox_version"),
        )
    return data


def refuse_odd_file(path: Path, kind: str, fix: str | None = None) -> None:
    """Refuse a path that is there but no regular file (a folder, a FIFO, a
    link to a device): reading it would block, or never end."""
    if path.exists() and not path.is_file():  # not "missing"
        raise InputError(
            f"{path}: {kind} is {_file_kind(path)}, not a file reprobox wrote",
            hint=f"move it away, then {fix or 'restore the file or create it again'}",
        )


def _file_kind(path: Path) -> str:
    """Name what path is when it is no regular file: a folder, a FIFO..."""
    try:
        return kind_of_mode(path.stat().st_mode)
    except OSError:  # gone meanwhile
        return "not a regular file"


# The files freeze writes together, each with the name its errors give it.
FROZEN_FILES = {
    MANIFEST_NAME: "manifest",
    LOCK_NAME: "lock",
    VCS_NAME: "git requirements lock",
    DOCKERFILE_NAME: "Dockerfile",
}


# Fields that record where a built image went; they are not inputs of the
# image, so they are left out of its identity (tag, labels, record digests).
PUBLICATION_FIELDS = UNSEALED_SECTIONS
# Facts about the machine freeze ran on (its CPU, OS, the thread counts and
# device masks of its shell): they say where the freeze was, not what the
# image is. manifest.json keeps them, sealed; the image's identity leaves them
# out, so `OMP_NUM_THREADS=3 reprobox freeze` does not make another image.
FREEZE_HOST_FIELDS = ("host",)
_NOT_IDENTITY = frozenset((*PUBLICATION_FIELDS, *FREEZE_HOST_FIELDS))


def core_manifest_text(manifest: dict[str, Any]) -> str:
    """Return the manifest text that identifies the image.

    It is the manifest less where the image went and where freeze ran, with
    their seals: the text of the image's manifest label, hashed into its tag.
    """
    from reprobox.atomic import dump_json

    core = {k: v for k, v in manifest.items() if k not in _NOT_IDENTITY}
    seals = core.get(SECTIONS_FIELD)
    if isinstance(seals, dict):
        core[SECTIONS_FIELD] = {
            k: v for k, v in seals.items() if k not in FREEZE_HOST_FIELDS
        }
    return dump_json(core)


@dataclass(frozen=True)
class FrozenProject:
    """The three files `reprobox freeze` writes, checked and loaded."""

    state_dir: Path
    manifest: dict[str, Any]
    # The other files as read once and checked against the manifest: a build
    # and a run use these, never the files again, which a freeze may replace.
    lock_text: str
    dockerfile_text: str
    vcs_text: str | None = None

    @property
    def manifest_path(self) -> Path:
        return self.state_dir / MANIFEST_NAME

    @property
    def lock_path(self) -> Path:
        return self.state_dir / LOCK_NAME

    @property
    def dockerfile_path(self) -> Path:
        return self.state_dir / DOCKERFILE_NAME

    @property
    def core_text(self) -> str:
        return core_manifest_text(self.manifest)

    @property
    def manifest_sha256(self) -> str:
        return sha256_bytes(self.core_text.encode("utf-8"))


_REQUIRED = (
    "project",
    "packages",
    "python",
    "base_image",
    "environment",
    "data",
    "determinism",
)

# (dotted field, what it must be): what build and run read from a manifest.
_SHAPES: tuple[tuple[str, str], ...] = (
    ("project", "object"),
    ("project.name", "string"),
    ("project.command", "list of strings"),
    ("packages", "object"),
    ("packages.lock_sha256", "string"),
    ("python", "string"),
    ("base_image", "object"),
    ("base_image.ref", "string"),
    ("environment", "object of strings"),
    ("data", "list of objects"),
    ("determinism", "object"),
    ("determinism.profile", "string"),
)
_OPTIONAL_SHAPES: tuple[tuple[str, str], ...] = (
    ("metrics", "object"),
    ("published", "list of objects"),
    ("gpu", "object"),
)


def _fits(value: Any, shape: str) -> bool:
    if shape == "object":
        return isinstance(value, dict)
    if shape == "string":
        return isinstance(value, str)
    if shape == "list of strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if shape == "list of objects":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if shape == "object of strings":
        return isinstance(value, dict) and all(
            isinstance(v, str) for v in value.values()
        )
    raise AssertionError(shape)


def _lookup(data: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def check_manifest(path: Path, data: dict[str, Any]) -> None:
    """Raise InputError unless data has the manifest's fields, each of its type."""
    for key in _REQUIRED:
        if key not in data:
            raise InputError(
                f"{path}: manifest field {key!r} is missing",
                hint="run `reprobox freeze` again",
            )
    for dotted, shape in _SHAPES + _OPTIONAL_SHAPES:
        present, value = _lookup(data, dotted)
        if not present and (dotted, shape) in _OPTIONAL_SHAPES:
            continue
        if not present or not _fits(value, shape):
            raise InputError(
                f"{path}: manifest field {dotted!r} is damaged (not a {shape})",
                hint="run `reprobox freeze` again",
            )
    for index, entry in enumerate(data["data"]):
        if not isinstance(entry.get("path"), str) or not isinstance(
            entry.get("sha256"), str
        ):
            raise InputError(
                f"{path}: manifest field 'data[{index}]' is damaged (needs path "
                "and sha256 strings)",
                hint="run `reprobox freeze` again",
            )
    seed = data.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED
    ):
        raise InputError(
            f"{path}: manifest field 'seed' is {seed!r}, not an integer 0..4294967295",
            hint="run `reprobox freeze` again",
        )
    check_metrics(path, data)


def check_metrics(path: Path, data: dict[str, Any]) -> None:
    """Raise InputError unless a manifest's metrics settings can judge runs.

    compare, report and verify read metrics.compare and metrics.tolerances: a
    string where the list belongs would be compared letter by letter, and a
    negative tolerance fails every run. Each is named with its field.
    """
    metrics = data.get("metrics")
    if metrics is None:
        return
    fix = "run `reprobox freeze` again"
    if not isinstance(metrics, dict):
        raise InputError(
            f"{path}: manifest field 'metrics' is damaged (not an object)", hint=fix
        )
    compare = metrics.get("compare")
    if compare is not None and not _fits(compare, "list of strings"):
        raise InputError(
            f"{path}: manifest field 'metrics.compare' is damaged (not a list of "
            "strings)",
            hint=fix,
        )
    for name in compare or []:
        if not is_metric_name(name):
            # Compared, a blank or unprintable name reads as a metric no run
            # has (run leaves such names out of its metrics): every run
            # fails on it with exit 1, as if the numbers had moved.
            raise InputError(
                f"{path}: metrics.compare holds {metric_name_fault(name)} {name!r}; "
                "each item must name a metric",
                hint="fix [metrics] compare in the project's config, then "
                "run `reprobox freeze` again",
            )
    tolerances = metrics.get("tolerances")
    if tolerances is not None and not isinstance(tolerances, dict):
        raise InputError(
            f"{path}: manifest field 'metrics.tolerances' is damaged (not an object)",
            hint=fix,
        )
    from reprobox.compare.records import as_number, short_repr

    for name, bounds in sorted((tolerances or {}).items()):
        if not is_metric_name(name):
            # No --tol or metrics.compare can name it: it loosens nothing.
            raise InputError(
                f"{path}: metrics.tolerances holds {metric_name_fault(name)} "
                f"{name!r}; "
                "each key must name a metric",
                hint="fix [metrics.tolerances] in the project's config, then "
                "run `reprobox freeze` again",
            )
        if not isinstance(bounds, dict) or not set(bounds) <= {"abs", "rel"}:
            raise InputError(
                f"{path}: manifest field 'metrics.tolerances.{name}' is damaged "
                "(not an object of abs and rel)",
                hint=fix,
            )
        for kind, value in sorted(bounds.items()):
            number = as_number(value) if not isinstance(value, str) else None
            if value is not None and not (
                number is not None and 0 <= number < math.inf
            ):
                raise InputError(
                    f"{path}: metrics.tolerances.{name}.{kind} is "
                    f"{short_repr(value)}; it must be a finite number >= 0",
                    hint="fix [metrics] tolerances in the project's config, then "
                    "run `reprobox freeze` again",
                )


def read_manifest(path: Path, fix: str) -> dict[str, Any]:
    """Read a manifest file, refusing one edited or damaged after freeze.

    The section digests freeze wrote are checked here, so any hand edit is
    named by its section; each reader then checks the fields it reads.
    """
    manifest = read_versioned_json(path, "manifest", SCHEMA_VERSION, fix)
    check_manifest_sealed(path, manifest, fix)
    return manifest


def _read_frozen(
    path: Path, kind: str, sha256: str | None, root: Path, fix: str
) -> str:
    """Return a frozen file's text, refusing it when missing, no regular file
    or edited since."""
    # A FIFO blocked build, run, push and export forever; a link to /dev/zero
    # was read until memory ran out (freeze refused both, these did not).
    refuse_odd_file(path, kind, f"run `reprobox freeze {root}` again")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"{path} is missing", hint=f"run `reprobox freeze {root}` again"
        ) from None
    except OSError as exc:  # a folder, or a file this user cannot read
        raise InputError(
            f"{path}: cannot read it: {exc.strerror or exc}",
            hint=f"move it away, then run `reprobox freeze {root}` again",
        ) from None
    if sha256_bytes(data) != sha256:
        raise InputError(
            f"{path} was changed after freeze (its sha256 no longer matches "
            "manifest.json)",
            hint=fix,
        )
    return data.decode("utf-8")


def load_frozen(cfg: ProjectConfig) -> FrozenProject:
    """Load the frozen files of a project, checking they belong together."""
    state = cfg.state_dir
    manifest_path = state / MANIFEST_NAME
    pending = unit_write_state(
        state / FREEZE_MARKER,
        "freeze marker",
        f"run `reprobox freeze {cfg.root}` again",
    )
    if pending == "interrupted":
        raise InputError(
            f"{state}: an earlier `reprobox freeze` was interrupted while writing "
            "the frozen files, so they may not belong together",
            hint=f"run `reprobox freeze {cfg.root}` again",
        )
    if pending == "busy":
        raise InputError(
            f"{state}: another reprobox (a `reprobox freeze`, or a push recording "
            "its digest) is writing the frozen files right now",
            hint="wait for it to end, then run this again",
        )
    if not manifest_path.exists() and not manifest_path.is_symlink():
        raise InputError(
            f"{manifest_path} is missing",
            hint=f"run `reprobox freeze {cfg.root}` first",
        )
    manifest = read_manifest(manifest_path, f"run `reprobox freeze {cfg.root}` again")
    check_manifest(manifest_path, manifest)
    try:
        lock_text = _read_frozen(
            state / LOCK_NAME,
            FROZEN_FILES[LOCK_NAME],
            manifest["packages"]["lock_sha256"],
            cfg.root,
            "edit the requirements, then run `reprobox freeze` to lock again",
        )
        vcs_sha = manifest["packages"].get("vcs_sha256")
        vcs_text = (
            _read_frozen(
                state / VCS_NAME,
                FROZEN_FILES[VCS_NAME],
                vcs_sha,
                cfg.root,
                "run `reprobox freeze` to lock again",
            )
            if vcs_sha
            else None
        )
        dockerfile_text = _read_frozen(
            state / DOCKERFILE_NAME,
            FROZEN_FILES[DOCKERFILE_NAME],
            manifest.get("dockerfile_sha256"),
            cfg.root,
            "edit reprobox.toml instead, then run `reprobox freeze` again",
        )
    except InputError:
        _refuse_if_frozen_again(state, manifest)
        raise
    check_environment_frozen(manifest_path, manifest, dockerfile_text, cfg.root)
    if manifest.get("config_sha256") == cfg.digest:
        # A config edited since freeze is named by the build's own check.
        check_manifest_follows_config(manifest_path, manifest, cfg)
    return FrozenProject(
        state_dir=state,
        manifest=manifest,
        lock_text=lock_text,
        dockerfile_text=dockerfile_text,
        vcs_text=vcs_text,
    )


def _refuse_if_frozen_again(state: Path, manifest: dict[str, Any]) -> None:
    """Name a freeze that replaced the files while they were read.

    The files are read one by one: a `reprobox freeze` ending in between
    leaves a lock or Dockerfile that the manifest read first does not vouch
    for, which is no edit of the user's.
    """
    path = state / MANIFEST_NAME
    try:
        now = loads_strict(path.read_text(encoding="utf-8"), path)
    except (OSError, ValueError, RecursionError, InputError):
        now = None
    pending = unit_write_state(
        state / FREEZE_MARKER, "freeze marker", "run `reprobox freeze` again"
    )
    if now != manifest or pending is not None:
        raise InputError(
            f"{state}: a `reprobox freeze` replaced the frozen files while they "
            "were being read",
            hint="run this command again once that freeze has ended",
        ) from None


def check_environment_frozen(
    path: Path, manifest: dict[str, Any], dockerfile_text: str, root: Path
) -> None:
    """Refuse a manifest whose environment is not what its Dockerfile sets.

    The environment holds values baked from the freezing shell, which no
    config can say again; the Dockerfile freeze wrote beside it (checked by
    its sha256) sets the same variables, so it is what the manifest must say.
    """
    from reprobox.dockerfile import dockerfile_environment

    got = manifest["environment"]
    baked = dockerfile_environment(dockerfile_text)
    if got == baked:
        return
    edited = "the manifest was edited after freeze"
    fix = f"run `reprobox freeze {root}` again"
    if baked is None:
        raise InputError(
            f"{path}: environment cannot be checked against the Dockerfile frozen "
            f"with it (its ENV block is not reprobox's): {edited}",
            hint=fix,
        )
    name = min(n for n in set(got) | set(baked) if got.get(n) != baked.get(n))
    raise InputError(
        f"{path}: environment.{_shown_name(name)} is {_shown_env(got.get(name))}, "
        f"but the Dockerfile frozen with it sets {_shown_env(baked.get(name))}: "
        f"{edited}",
        hint=fix,
    )


def _shown_name(name: str) -> str:
    if token_in_name(name):
        return shown_token(name)
    return name if name.isidentifier() and len(name) <= 60 else shortened(repr(name))


def _shown_env(value: str | None) -> str:
    return "unset" if value is None else shortened(json.dumps(value), 80)


def config_settings(cfg: ProjectConfig) -> dict[str, Any]:
    """Return the manifest's settings that come from the config alone.

    freeze writes them from here, and every later command checks the
    manifest still says the same: the run takes its seed, command and
    tolerances from the manifest, so a hand edit there would train with other
    settings than the config shows, silently.
    """
    return {
        "project": {"name": cfg.name, "command": list(cfg.command), "workdir": "/app"},
        "python": cfg.python,
        "seed": cfg.seed,
        "determinism.profile": cfg.profile,
        "metrics": {
            "compare": list(cfg.compare_metrics),
            "tolerances": {
                name: {"abs": tol.abs, "rel": tol.rel}
                for name, tol in sorted(cfg.tolerances.items())
            },
        },
    }


def check_manifest_follows_config(
    path: Path, manifest: dict[str, Any], cfg: ProjectConfig
) -> None:
    """Refuse a manifest whose config-given settings differ from the config's."""
    for field, want in config_settings(cfg).items():
        head, _, tail = field.partition(".")
        got = manifest.get(head)
        if tail:
            got = got.get(tail) if isinstance(got, dict) else None
        if got != want:
            shown = json.dumps(got, sort_keys=True)
            raise InputError(
                f"{path}: {field} is {shortened(shown)}, but {cfg.source.name} says "
                f"{shortened(json.dumps(want, sort_keys=True))}: the manifest was "
                "edited after freeze",
                hint=f"set it in {cfg.source.name}, then run `reprobox freeze "
                f"{cfg.root}` again",
            )


def fingerprint_data(cfg: ProjectConfig) -> list[dict[str, Any]]:
    """Return path, sha256 and size of each declared data file, sorted by path."""
    out = []
    for rel in sorted(cfg.data):
        path = cfg.root / rel
        try:
            out.append(
                {"path": rel, "sha256": sha256_file(path), "size": path.stat().st_size}
            )
        except OSError as exc:
            raise InputError(
                f"{path}: data file cannot be read: {exc.strerror}",
                hint="fix the path in reprobox.toml `data`",
            ) from None
    return out


_FREEZE_AGAIN = "run `reprobox freeze` again"


def _data_set_change(cfg: ProjectConfig, rel: str, frozen: dict[str, str]) -> str:
    """Say why the declared data files are not the frozen ones (paths are resolved)."""
    became = {
        f: os.path.relpath((cfg.root / f).resolve(), cfg.root.resolve())
        for f in sorted(frozen)
        if f not in cfg.data and (cfg.root / f).is_symlink()
    }
    for name, target in became.items():  # a frozen file now links elsewhere
        if rel in (name, target):
            return (
                f"{cfg.root / name}: data file became a link to {target} after freeze"
            )
    if rel in cfg.data:
        return f"{cfg.root / rel}: data file was added after freeze"
    return f"{cfg.root / rel}: data file was removed from `data` after freeze"


def check_data_unchanged(cfg: ProjectConfig, manifest: dict[str, Any]) -> None:
    """Refuse to run when a data file differs from its fingerprint at freeze."""
    frozen = {item["path"]: item["sha256"] for item in manifest.get("data", [])}
    for rel in sorted(set(frozen) | set(cfg.data)):
        if rel not in cfg.data or rel not in frozen:
            raise InputError(_data_set_change(cfg, rel, frozen), hint=_FREEZE_AGAIN)
        path = cfg.root / rel
        if not path.is_file():
            raise InputError(
                f"{path}: data file is missing",
                hint="restore it, or remove it from `data` and freeze",
            )
        if sha256_file(path) != frozen[rel]:
            raise InputError(
                f"{path}: data file changed since freeze (sha256 differs)",
                hint="restore the frozen data, or run `reprobox freeze` to accept it",
            )
