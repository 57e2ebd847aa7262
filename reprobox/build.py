"""Stage a build context from a frozen project and build its image.

The context holds exactly what the Dockerfile copies: the lock, reprobox's
runtime hook and the project's code (never .reprobox/, .git/, caches,
virtualenvs or the declared data files, which are mounted read-only at run
time). The image tag is a digest of that context, so an unchanged project is
never rebuilt and any change to code, lock or Dockerfile gives a new tag.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from reprobox import __version__
from reprobox.build_failure import explain_build_failure
from reprobox.command_checks import refuse_command_that_cannot_start
from reprobox.config import ProjectConfig
from reprobox.context_folder import context_folder, remove_stale_contexts
from reprobox.dockerfile import builds_as_root
from reprobox.engine import (
    CODE_LABEL,
    LABEL_PREFIX,
    BuildCutShort,
    Engine,
    build_image,
    ensure_base_image,
    image_id,
)
from reprobox.errors import BuildError, InputError
from reprobox.image_files import left_out_note, link_text, project_files
from reprobox.image_inputs import refuse_written_credentials
from reprobox.lock.indexes import is_loopback_host
from reprobox.lock.requirements_file import (
    PYPROJECT,
    requirements_digest,
    requirements_named,
)
from reprobox.made_tags import OnTagged, report_interrupted_tag
from reprobox.manifest import VCS_NAME, FrozenProject, load_frozen
from reprobox.share import carries_build_labels, lock_labels, manifest_labels
from reprobox.stopping import raised_by_a_stop
from reprobox.tag_moves import drop_if_untagged

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"


@dataclass(frozen=True)
class StagedContext:
    """A build context on disk and the tag derived from its content."""

    path: Path
    tag: str
    digest: str
    code: str = ""  # sha256 over the staged app/ files alone


def _field(data: bytes) -> bytes:
    # Length first, so no two different trees can make the same byte stream.
    return len(data).to_bytes(8, "big") + data


Entry = tuple[str, "Path | bytes"]  # a path in the context, and its source


# Staged files are 0644, or 0755 when their owner may run them; folders 0755.
# The tag digest starts with this, so an image staged before (where a 0600 file
# stayed 0600, unreadable to the training user) is rebuilt, not reused.
CONTEXT_LAYOUT = b"modes 644/755"


def _runnable(source: Path) -> bool:
    """Tell whether the owner may run a file: the exec bit the image keeps."""
    return bool(source.stat().st_mode & stat.S_IXUSR)


def _staged_mode(source: Path | bytes) -> int:
    return 0o755 if isinstance(source, Path) and _runnable(source) else 0o644


def _hash_tree(root: Path, files: list[Entry], layout: bytes = b"") -> str:
    digest = hashlib.sha256()
    if layout:
        digest.update(_field(layout))
    for rel, source in files:
        digest.update(_field(rel.encode()))
        if isinstance(source, bytes):  # written by reprobox, mode 644
            digest.update(_field(b"-"))
            digest.update(len(source).to_bytes(8, "big"))
            digest.update(source)
            continue
        if source.is_symlink():
            digest.update(_field(b"link:" + link_text(root, source).encode()))
            continue
        mode = b"x" if _runnable(source) else b"-"
        digest.update(_field(mode))
        digest.update(source.stat().st_size.to_bytes(8, "big"))
        with open(source, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def image_tag(name: str, digest: str) -> str:
    """Return the image tag for a project name and context digest."""
    return f"reprobox/{name}:{digest[:16]}"


def context_entries(
    cfg: ProjectConfig, frozen: FrozenProject, left_out: list[str] | None = None
) -> list[Entry]:
    """Return every file of the build context and where it comes from.

    left_out, when given, gets the credential files kept out of it.
    """
    # The frozen files go in as the bytes load_frozen checked against the
    # manifest, never read again: a `reprobox freeze` running meanwhile must
    # not put another lock into an image whose labels name this one.
    entries: list[Entry] = [
        ("Dockerfile", frozen.dockerfile_text.encode("utf-8")),
        ("requirements.lock", frozen.lock_text.encode("utf-8")),
        ("manifest.json", frozen.core_text.encode("utf-8")),
    ]
    if frozen.vcs_text is not None:
        entries.append((VCS_NAME, frozen.vcs_text.encode("utf-8")))
    entries += [
        (f"reprobox_runtime/{p.name}", p) for p in sorted(RUNTIME_DIR.glob("*.py"))
    ]
    files = project_files(cfg, left_out)
    refuse_command_that_cannot_start(cfg, files)
    entries += [(f"app/{rel}", cfg.root / rel) for rel in files]
    return entries


# A project file this large in the image is most likely data or a checkpoint:
# copied into every image and rebuilt on every change, where `data` would
# mount it and fingerprint it.
BIG_FILE_BYTES = 100_000_000


def big_image_files(entries: list[Entry]) -> list[tuple[str, int]]:
    """Return the project files of BIG_FILE_BYTES or more, largest first."""
    found = []
    for name, source in entries:
        if not name.startswith("app/") or not isinstance(source, Path):
            continue
        try:
            size = source.stat().st_size
        except OSError:
            continue
        if size >= BIG_FILE_BYTES:
            found.append((name[4:], size))
    return sorted(found, key=lambda item: (-item[1], item[0]))


def context_tag(cfg: ProjectConfig, entries: list[Entry]) -> tuple[str, str]:
    """Return the image tag and digest of a context, without copying anything."""
    digest = _hash_tree(cfg.root.resolve(), entries, CONTEXT_LAYOUT)
    return image_tag(cfg.name, digest), digest


@contextmanager
def staged_context(
    cfg: ProjectConfig, frozen: FrozenProject, entries: list[Entry] | None = None
) -> Iterator[StagedContext]:
    """Copy what the image needs into a temp folder; yield it with its tag.

    The tag and the code digest are taken from the staged copy, not the
    project: a file edited while the build reads it cannot give an image whose
    tag names other bytes than the ones inside.
    """
    entries = entries if entries is not None else context_entries(cfg, frozen)
    remove_stale_contexts()
    with context_folder(cfg.root) as base:
        (base / "app").mkdir()  # COPY app needs it, even if every file is ignored
        for rel, source in entries:
            dest = base / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                dest.write_bytes(source)
            elif source.is_symlink():
                os.symlink(link_text(cfg.root, source), dest)
                continue
            else:
                shutil.copy2(source, dest)
            # COPY keeps modes and makes root the owner: a 0600 file would be
            # unreadable to the training user, and the digest holds only the
            # exec bit, so the mode must follow from it alone.
            os.chmod(dest, _staged_mode(source))
        for folder, _, _ in os.walk(base):  # links to folders are not walked
            os.chmod(folder, 0o755)
        # The copy itself is for the build alone: other users of this machine
        # must not read a project's files (0600 ones included) from /tmp.
        os.chmod(base, 0o700)
        staged: list[Entry] = [
            (rel, source if isinstance(source, bytes) else base / rel)
            for rel, source in entries
        ]
        digest = _hash_tree(base, staged, CONTEXT_LAYOUT)
        code = _hash_tree(base, [e for e in staged if e[0].startswith("app/")])
        yield StagedContext(
            path=base, tag=image_tag(cfg.name, digest), digest=digest, code=code
        )


def image_labels(
    frozen: FrozenProject, digest: str, code: str | None = None
) -> dict[str, str]:
    """Return the labels that let an image alone say how it was made."""
    labels = {
        f"{LABEL_PREFIX}.version": __version__,
        f"{LABEL_PREFIX}.project": frozen.manifest["project"]["name"],
        f"{LABEL_PREFIX}.context-digest": digest,
        f"{LABEL_PREFIX}.manifest-sha256": frozen.manifest_sha256,
        **manifest_labels(frozen.core_text),
    }
    if code is not None:
        labels[CODE_LABEL] = code
    labels.update(lock_labels(frozen.lock_text))
    return labels


@dataclass(frozen=True)
class BuildResult:
    """The outcome of `reprobox build`."""

    tag: str
    image_id: str
    built: bool  # False when an identical image was already there


def _input_digests(frozen: FrozenProject) -> tuple[str, str | None]:
    """Return the manifest's config and requirements sha256, refusing bad ones.

    Without them no edit of reprobox.toml or the requirements since freeze
    could be seen, so a manifest that lacks them is refused, not trusted.
    """
    manifest = frozen.manifest
    config = manifest.get("config_sha256")
    requirements = manifest.get("requirements_sha256")
    for key, fits in (
        ("config_sha256", isinstance(config, str)),
        ("requirements_sha256", requirements is None or isinstance(requirements, str)),
    ):
        if key not in manifest or not fits:
            problem = "is missing" if key not in manifest else "is damaged"
            raise InputError(
                f"{frozen.manifest_path}: manifest field {key!r} {problem}, so edits "
                "since freeze cannot be seen",
                hint="run `reprobox freeze` again",
            )
    return config, requirements


def check_ca_cert(frozen: FrozenProject, ca_cert: Path | None) -> None:
    """Refuse a build whose CA bundle is not the one the manifest records."""
    recorded = frozen.manifest.get("ca_cert")
    recorded_sha = recorded.get("sha256") if isinstance(recorded, dict) else None
    if recorded is not None and not isinstance(recorded_sha, str):
        raise InputError(
            f"{frozen.manifest_path}: manifest field 'ca_cert' is damaged",
            hint="run `reprobox freeze` again",
        )
    if ca_cert is None and recorded_sha is None:
        return
    if ca_cert is None:
        problem = "the manifest records a CA bundle, but this build has none"
        fix = (
            "give the CA it was frozen with (build.ca_cert, --ca-cert or "
            "PIP_CERT), or run `reprobox freeze` again"
        )
    elif recorded_sha is None:
        problem = f"this build trusts the CA bundle {ca_cert}, which freeze did not"
        fix = "freeze again with that CA, or build without it"
    else:
        try:
            current = hashlib.sha256(ca_cert.read_bytes()).hexdigest()
        except OSError as exc:
            raise InputError(
                f"{ca_cert}: cannot read the CA bundle: {exc.strerror}",
                hint="give the path of a PEM certificate file",
            ) from None
        if current == recorded_sha:
            return
        # The manifest keeps the frozen bundle's fingerprint, never its path: a
        # path is this machine's, the content is what the image trusted.
        problem = (
            f"the CA bundle given now, {ca_cert} (sha256 {current[:12]}…), is not "
            f"the one frozen (sha256 {recorded_sha[:12]}…): a different bundle "
            "was given at freeze, or this one changed since"
        )
        fix = (
            "give the bundle freeze was given (--ca-cert, build.ca_cert or "
            "PIP_CERT), or run `reprobox freeze` again to trust this one"
        )
    raise InputError(
        f"{problem}; the manifest would not say what was trusted", hint=fix
    )


def check_frozen_inputs(cfg: ProjectConfig) -> FrozenProject:
    """Load what freeze wrote; refuse a config or requirements edited since."""
    frozen = load_frozen(cfg)
    frozen_config, frozen_reqs = _input_digests(frozen)
    if frozen_config != cfg.digest:
        raise InputError(
            f"{cfg.source} changed since freeze; the build would mix old and new "
            "settings",
            hint=f"run `reprobox freeze {cfg.root}` again",
        )
    if frozen_reqs and not cfg.requirements:
        raise InputError(
            f"{cfg.root}: the requirements file locked at freeze is gone",
            hint=f"restore it, or run `reprobox freeze {cfg.root}` to lock anew",
        )
    if frozen_reqs and cfg.requirements:
        try:
            current = requirements_digest(cfg.root / cfg.requirements, root=cfg.root)
        except OSError as exc:
            raise InputError(
                f"{cfg.root / cfg.requirements}: cannot read it: {exc.strerror}",
                hint=f"restore it, or set packages.requirements in {cfg.source}",
            ) from None
        if current != frozen_reqs:
            # One digest covers the file and its -r includes: which of them
            # changed is not known, so each is named.
            named = requirements_named(cfg.root / cfg.requirements, root=cfg.root)
            what = (
                ": its [project].dependencies changed since freeze"
                if Path(cfg.requirements).name == PYPROJECT
                else " changed since freeze"
            )
            raise InputError(
                f"{named}{what}; the lock would not match it",
                hint=f"run `reprobox freeze {cfg.root}` to lock again",
            )
    return frozen


def build_project(
    cfg: ProjectConfig,
    engine: Engine,
    *,
    secrets: Callable[[], AbstractContextManager[dict[str, Path]]],
    force: bool = False,
    on_line: Callable[[str], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
    on_built: OnTagged | None = None,
    frozen: FrozenProject | None = None,
) -> BuildResult:
    """Build the project's image unless one with the same content exists.

    on_note gets what the user should know before a build starts, such as
    large files that are about to go into the image; on_info gets progress
    worth a line, such as the credential files left out of the image;
    on_built gets the tag once a build made it, even one a stop then cut
    short (see made_tags). frozen is what check_frozen_inputs gave a command
    that goes on to use it (run, push, export): the image is then of that
    freeze, whatever a `reprobox freeze` has written since.
    """
    if frozen is None:
        frozen = check_frozen_inputs(cfg)
    # Hash first: an image that is already there needs no copy of the project.
    left_out: list[str] = []
    entries = context_entries(cfg, frozen, left_out)
    if on_info is not None and (note := left_out_note(left_out)):
        on_info(f"note: {note}")  # freeze warned of them
    # Files change after freeze, and no digest of the lock or config covers
    # a comment: every file the image copies is read again, as freeze did.
    refuse_written_credentials(
        cfg, [name[4:] for name, _ in entries if name.startswith("app/")]
    )
    tag, digest = context_tag(cfg, entries)
    existing = image_id(engine, tag)
    if existing and not force:
        # Trust the tag only for an image whose labels are this build's: the
        # tag alone is a name anyone with the engine (or a bundle) can set.
        code = _hash_tree(
            cfg.root.resolve(), [e for e in entries if e[0][:4] == "app/"]
        )
        if carries_build_labels(engine, existing, image_labels(frozen, digest, code)):
            return BuildResult(tag=tag, image_id=existing, built=False)
    if on_note is not None:
        for rel, size in big_image_files(entries):
            on_note(
                f"{rel} ({size / 1e6:,.0f} MB) goes into the image: list it in "
                f"`data` in {cfg.source.name} (mounted read-only and fingerprinted, "
                "not copied) or in .reproboxignore"
            )
    with staged_context(cfg, frozen, entries) as ctx, secrets() as secret_files:
        check_ca_cert(frozen, secret_files.get("ca_cert"))
        base = frozen.manifest["base_image"]["ref"]
        where = f"{cfg.source.name}: {cfg.key('base_image')}"
        ensure_base_image(engine, base, where=where)
        labels = image_labels(frozen, ctx.digest, ctx.code)
        # The staged copy's tag, which a file edited since the hash can change.
        before = existing if ctx.tag == tag else image_id(engine, ctx.tag)
        try:
            new_id = build_image(
                engine,
                ctx.path,
                ctx.tag,
                labels=labels,
                secrets=secret_files,
                on_line=on_line,
            )
            if on_built is not None:
                on_built(ctx.tag, True)
        except BuildError as exc:
            explained = explain_build_failure(
                exc.build_log,
                config=cfg.source.name,
                base_image=base,
                python=str(frozen.manifest.get("python", cfg.python)),
                loopback_indexes=loopback_index_keys(cfg),
                as_root=builds_as_root(frozen.dockerfile_text),
            )
            if explained is None:
                raise
            explained.build_log = exc.build_log
            raise explained from None
        except BaseException as stop:
            # A stop, or an error it caused: Python 3.11 wraps a stop that
            # lands in an import in a RuntimeError, and a cleanup cut by one
            # may fail. BuildKit finishes an export it has begun, stopped CLI
            # or not, so the tag is asked of the engine either way.
            if not raised_by_a_stop(stop):
                raise
            report_interrupted_tag(
                engine,
                ctx.tag,
                before,
                lambda made: carries_build_labels(engine, made, labels),
                on_built,
                may_follow=isinstance(stop, BuildCutShort),
            )
            raise
    if before is not None and before != new_id:
        # `build --force`, or an image at the tag that is not this build: the
        # build took its tag, and it is not left `<none>` (see tag_moves).
        drop_if_untagged(engine, before, cfg.name)
    return BuildResult(tag=ctx.tag, image_id=new_id, built=True)


def loopback_index_keys(cfg: ProjectConfig) -> list[str]:
    """Return the config keys of the project's indexes on this machine's loopback."""
    named = [("packages.index_url", cfg.index_url)] if cfg.index_url else []
    named += [("packages.extra_index_urls", url) for url in cfg.extra_index_urls]
    keys = [cfg.key(key) for key, url in named if is_loopback_host(_host(url))]
    return list(dict.fromkeys(keys))


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
