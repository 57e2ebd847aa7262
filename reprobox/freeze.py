"""`reprobox freeze`: capture a training setup as Dockerfile, lock and manifest.

freeze_project() gathers everything and returns the three texts; nothing is
written until write_frozen() renames them into place, so a failure or Ctrl-C
part-way leaves the previous freeze intact.
"""

from __future__ import annotations

import os
import shlex
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobox import __version__
from reprobox.atomic import atomic_write_files, dump_json
from reprobox.command_checks import refuse_command_that_cannot_start
from reprobox.config import ProjectConfig
from reprobox.credential_files import secret_value
from reprobox.dockerfile import render_dockerfile
from reprobox.envvars import (
    BAKED_FROM_HOST,
    STRICT_ENV,
    command_holds_secret,
    frozen_environment,
)
from reprobox.errors import ConfigError, InputError, LockError, ReproboxError
from reprobox.frozen_tokens import refuse_frozen_tokens
from reprobox.image_files import left_out_note, project_files
from reprobox.image_inputs import refuse_written_credentials
from reprobox.image_plan import (
    DEFAULT_GLIBC,
    check_nvidia_wheels,
    exact_pins,
    frameworks_to_pin,
    manifest_frameworks,
    manifest_gpu,
    pins_ask_for_gpu,
    plan_image,
    strict_gpu_environment,
)
from reprobox.index_urls import expand_index_url, referenced_variables
from reprobox.lock import (
    PackageIndexes,
    collect_requirements,
    resolve_lock,
)
from reprobox.lock.collect import local_install_not_on_index
from reprobox.lock.indexes import has_credentials
from reprobox.lock.requirements_file import requirements_digest
from reprobox.lock.resolve import (
    IndexRefused,
    RequirementUnparsable,
    requirement_name,
    via_name,
)
from reprobox.manifest import (
    DOCKERFILE_NAME,
    FREEZE_MARKER,
    LOCK_NAME,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    VCS_NAME,
    config_settings,
    core_manifest_text,
    fingerprint_data,
    refuse_odd_file,
    sha256_bytes,
)
from reprobox.paths import is_link_loop
from reprobox.runtime import machine_facts
from reprobox.seals import loads_strict, seal_manifest
from reprobox.share_lock import one_share_at_a_time


@dataclass
class FreezeResult:
    """The texts freeze writes, and what the user should be told."""

    dockerfile: str
    lock: str
    manifest: dict[str, Any]
    vcs_lock: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # progress, not warnings
    # Set by write_frozen: the `published` refs of the build this freeze
    # replaced, which the new manifest no longer lists.
    dropped_published: list[str] = field(default_factory=list)

    @property
    def manifest_text(self) -> str:
        return dump_json(self.manifest)


def resolve_ca_cert(
    flag: str | None, cfg: ProjectConfig, environ: Mapping[str, str]
) -> Path | None:
    """Return the CA bundle for the build: flag, then config, then PIP_CERT."""
    if flag:
        where, value = "--ca-cert", flag
    elif cfg.ca_cert:
        where, value = f"{cfg.source}: build.ca_cert", cfg.ca_cert
    else:
        # The variables a host behind a TLS-inspecting proxy sets for pip and
        # for Python's ssl: pip's own first.
        names = [
            n
            for n in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
            if environ.get(n)
        ]
        if not names:
            return None
        where, value = names[0], environ[names[0]]
    path = Path(value)
    if not path.is_absolute():
        path = (cfg.root if where.endswith("ca_cert") else Path.cwd()) / path
    if is_link_loop(path):
        raise InputError(
            f"{where}: CA bundle {value} is a symbolic link that loops (it leads "
            "back to itself)",
            hint="give the path of a PEM certificate file",
        )
    if path.is_symlink() and not path.exists():
        raise InputError(
            f"{where}: CA bundle {value} is a link to a missing file "
            f"({os.readlink(path)})",
            hint="point the link at a PEM certificate file, or give its path",
        )
    if not where.endswith("ca_cert"):
        path = path.resolve()
    if path.exists() and not path.is_file():
        raise InputError(
            f"{where}: CA bundle {value} is not a regular file",
            hint="give the path of a PEM certificate file",
        )
    if not path.is_file():
        raise InputError(
            f"{where}: CA bundle {value} does not exist",
            hint="give the path of a PEM certificate file",
        )
    _load_ca_bundle(where, value, path)
    if not where.endswith("ca_cert"):
        _refuse_ca_in_image(where, value, path, cfg)
    return path


def _load_ca_bundle(where: str, value: str, path: Path) -> None:
    """Refuse a CA bundle OpenSSL cannot load: no certificate, or one damaged.

    A BEGIN line alone proves nothing: a garbled body or a bundle cut short
    would only fail later, inside the build, as a TLS error about the index.
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{where}: CA bundle {value} cannot be read: {exc.strerror}",
            hint="give the path of a PEM certificate file you can read",
        ) from None
    if b"-----BEGIN CERTIFICATE-----" not in text:
        raise InputError(
            f"{where}: {value} holds no PEM certificate",
            hint="give a PEM file (-----BEGIN CERTIFICATE-----)",
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError:
        raise InputError(
            f"{where}: CA bundle {value} holds a damaged certificate (a garbled "
            "or cut-off PEM block), which OpenSSL cannot load",
            hint="export the CA again: whole -----BEGIN/END CERTIFICATE----- "
            "blocks of base64",
        ) from None


def _refuse_ca_in_image(where: str, value: str, path: Path, cfg: ProjectConfig):
    """Refuse a CA named outside the config that the image would copy as code.

    Only build.ca_cert is left out of the image: a flag or a variable of this
    shell must not decide what the image holds, or its tag would follow them.
    """
    from reprobox.image_files import is_image_file

    root = cfg.root.resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        return
    rel = resolved.relative_to(root).as_posix()
    if is_image_file(root, rel):
        raise InputError(
            f"{where}: CA bundle {value} is inside the project, so it would be "
            "copied into the image",
            hint=f'set {cfg.key("build.ca_cert")} = "{rel}" in {cfg.source.name} '
            "(that file is left out), or list it in .reproboxignore",
        )


def _shown_host_env(env: Mapping[str, str]) -> dict[str, str]:
    """Return host variables as the manifest may hold them: no secret, UTF-8."""
    return {
        name: "***"
        if secret_value(name, value)
        else value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        for name, value in env.items()
    }


def _host_facts(environ: Mapping[str, str]) -> dict[str, Any]:
    cpu = machine_facts.cpu_facts()
    try:
        from reprobox.runtime.gpu_facts import gpu_facts

        gpu = gpu_facts()
    except Exception:  # noqa: BLE001 - GPU facts are optional; freeze goes on
        gpu = None
    return {
        "cpu": cpu,
        "env": _shown_host_env(machine_facts.numerics_env(environ)),
        "gpu": gpu,
        "os": machine_facts.os_facts(),
        "python": machine_facts.python_facts()["version"],
    }


def refuse_other_python(
    cfg: ProjectConfig, version: tuple[int, int], named_by: str
) -> None:
    """Refuse a training environment whose Python is not the image's.

    The lock is resolved for cfg.python from what the environment holds; one
    of another minor version would only fail at build, or pin wheels that
    training never ran with.
    """
    found = f"{version[0]}.{version[1]}"
    if found == cfg.python:
        return
    raise ConfigError(
        cfg.source,
        cfg.key("python"),
        f"the image gets Python {cfg.python}, but the training environment "
        f"({named_by}) runs Python {found}",
        f'set {cfg.key("python")} = "{found}", or give an environment of '
        f"Python {cfg.python}",
    )


def freeze_project(
    cfg: ProjectConfig,
    *,
    from_env_python: str | None = None,
    ca_cert: Path | None = None,
    environ: Mapping[str, str] | None = None,
    gpu: bool = False,
    base_cudnn: str | None = None,
    base_digest: Callable[[str], str | None] | None = None,
    on_slow: Callable[[str], None] | None = None,
) -> FreezeResult:
    """Gather packages, facts, environment and data; return what to write.

    gpu asks for a GPU image (tensorflow[and-cuda], or a CUDA base for older
    TensorFlow); a torch +cuXYZ pin asks for one by itself. base_cudnn is the
    cuDNN of a base image that reprobox's table does not know. base_digest
    looks up the registry digest of the base image, when one is known, so the
    Dockerfile can pin it.
    on_slow is told, once per resolution that runs 30 s, what it waits on.
    """
    environ = os.environ if environ is None else environ
    if from_env_python is None and cfg.requirements is None:
        raise InputError(
            f"{cfg.source}: {cfg.key('packages')}: no requirements file and no "
            "from_env",
            hint='set packages.requirements = "requirements.txt", or use --from-env',
        )
    collected = collect_requirements(
        cfg.root / cfg.requirements if cfg.requirements else None,
        python=from_env_python,
        root=cfg.root,
    )
    # Before the checks of the command's files: their refusals show its words.
    if command_holds_secret(cfg.command):
        raise ConfigError(
            cfg.source,
            cfg.key("command"),
            "holds what looks like a secret, which would "
            "be written into the Dockerfile, manifest and image labels",
            "read it from an environment variable, given with `reprobox run --env`",
        )
    # Before anything is resolved: the same check as build, over the same list
    # of files the image copies (read after the requirements, whose errors
    # name the -r line that is wrong).
    left_out: list[str] = []
    files = project_files(cfg, left_out)
    refuse_command_that_cannot_start(cfg, files)
    refuse_written_credentials(cfg, files)

    source = cfg.root / cfg.requirements if cfg.requirements else "--from-env"
    # brk r49 BS 5: the via comments named reprobox's copy, requirements.in.
    requested_by = via_name(cfg.requirements)

    def resolve(lines: Sequence[str], indexes: PackageIndexes, glibc: str):
        try:
            return resolve_lock(
                lines,
                python=cfg.python,
                glibc=glibc,
                indexes=indexes,
                ca_cert=str(ca_cert) if ca_cert else None,
                resolver=cfg.resolver,
                requested_by=requested_by,
                on_slow=on_slow,
            )
        except IndexRefused as exc:
            raise _index_refused(cfg, exc, index_url, extra_urls) from None
        except RequirementUnparsable as exc:
            # The resolver read reprobox's copy of the lines: name the user's.
            name = requirement_name(exc.requirement)
            where = collected.origins.get(name, str(source))
            raise LockError(f"{where}: {exc.message}", hint=exc.hint) from None
        except LockError as exc:
            local = local_install_not_on_index(exc.message, collected)
            if local is not None:
                raise LockError(f"{source}: {local.message}", hint=local.hint) from None
            raise LockError(
                f"{source}: {exc.message}",
                hint=exc.hint
                or f"check that each name and version exists for Python {cfg.python} "
                "on linux/x86_64 (`pip index versions NAME`)",
            ) from None

    index_url, extra_urls = expanded_indexes(cfg, environ)
    hidden = index_reference_values(cfg, environ)
    project_indexes = PackageIndexes(index_url, extra_urls, hidden)
    versions: dict[str, str] = {}
    pinned = exact_pins(collected.lines)
    unpinned = frameworks_to_pin(collected.lines, pinned)
    if unpinned and (gpu or pins_ask_for_gpu(pinned)):
        # The CUDA table needs the framework's version before the real lock.
        first = resolve(collected.lines, project_indexes, DEFAULT_GLIBC)
        versions = {name: first.pins[name] for name in unpinned if name in first.pins}
    image = plan_image(
        cfg, collected.lines, gpu=gpu, base_cudnn=base_cudnn, versions=versions
    )
    added = [url for url in image.extra_index_urls if url not in cfg.extra_index_urls]
    indexes = PackageIndexes(index_url, (*extra_urls, *added), hidden)
    lock = resolve(image.requirements, indexes, image.glibc)
    check_nvidia_wheels(image, lock.pins)

    env, env_warnings = frozen_environment(cfg, environ)
    env, gpu_env_warnings = strict_gpu_environment(env, cfg.profile)
    vcs_lock = vcs_lock_text(lock.vcs_requirements)
    needs_git = collected.needs_git or lock.needs_git or bool(vcs_lock)
    system_packages = ["git"] if needs_git else []
    # Warnings name files by path; inside the project, relative to it, so the
    # manifest is the same wherever the project is checked out.
    root = f"{cfg.root}/"
    lock_warnings = sorted(
        {
            w.replace(root, "")
            for w in (
                *collected.warnings,
                *lock.warnings,
                *project_indexes.loopback_warnings(),
            )
        }
    )
    base_ref, pinned, digest = image.base_image.partition("@")
    if not pinned:  # a ref pinned by digest in the config is used as written
        digest = (base_digest(base_ref) if base_digest else None) or ""
    dockerfile = render_dockerfile(
        base_image=f"{base_ref}@{digest}" if digest else base_ref,
        command=cfg.command,
        environment_vars=env,
        system_packages=system_packages,
        config_name=cfg.source.name,
        install_python=image.install_python,
        extra_index_urls=added,
        gpu=image.gpu_image(),
        vcs_requirements=bool(vcs_lock),
        python=cfg.python,
        slim=cfg.slim,
    )
    settings = config_settings(cfg)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "reprobox_version": __version__,
        "project": settings["project"],
        "python": settings["python"],
        "platform": "linux/x86_64",
        "base_image": {"ref": image.base_image, "digest": digest or None},
        "packages": {
            "source": collected.source,
            "resolver": lock.resolver,
            "lock_sha256": sha256_bytes(lock.text.encode("utf-8")),
            "vcs_sha256": sha256_bytes(vcs_lock.encode("utf-8")) if vcs_lock else None,
            "pins": dict(sorted(lock.pins.items())),
            "warnings": lock_warnings,
            "system": system_packages,
        },
        "indexes": indexes.redacted(),
        "ca_cert": (
            {"sha256": sha256_bytes(ca_cert.read_bytes())} if ca_cert else None
        ),
        "dockerfile_sha256": sha256_bytes(dockerfile.encode("utf-8")),
        "config_sha256": cfg.digest,
        "requirements_sha256": (
            requirements_digest(cfg.root / cfg.requirements, root=cfg.root)
            if cfg.requirements
            else None
        ),
        "environment": env,
        "seed": settings["seed"],
        "determinism": {
            "profile": settings["determinism.profile"],
            "tf_op_determinism": cfg.profile == "strict"
            or env.get("TF_DETERMINISTIC_OPS") in ("1", "true"),
        },
        "data": fingerprint_data(cfg),
        "metrics": settings["metrics"],
        "host": _host_facts(environ),
        "frameworks": manifest_frameworks(lock.pins, image.gpu),
        "gpu": manifest_gpu(image),
    }
    warnings = lock_warnings + list(image.warnings) + env_warnings + gpu_env_warnings
    # A file the training reads may be among them: said under -q too.
    if left_note := left_out_note(left_out):
        warnings.append(left_note)
    sealed = seal_manifest(manifest)
    # The last guard, after the checks made for each input: nothing of what
    # is written (or printed by --dry-run) may hold a published token.
    texts = {DOCKERFILE_NAME: dockerfile, LOCK_NAME: lock.text, VCS_NAME: vcs_lock}
    refuse_frozen_tokens(cfg, sealed, texts)
    # The image's labels carry the manifest: one too large for them is refused
    # now, before anything is written, not by the build that would follow.
    from reprobox.share import manifest_labels

    manifest_labels(core_manifest_text(sealed), f"{cfg.source}: ")
    return FreezeResult(
        dockerfile=dockerfile,
        lock=lock.text,
        manifest=sealed,
        warnings=warnings,
        vcs_lock=vcs_lock,
        notes=[note for note in (_from_shell_note(cfg, env, environ),) if note],
    )


def _from_shell_note(
    cfg: ProjectConfig, env: Mapping[str, str], environ: Mapping[str, str]
) -> str | None:
    """Say which numerics variables of this shell the image now sets: freezing
    in a shell that exports TF_ENABLE_ONEDNN_OPTS=0 changes the image."""
    taken = [
        f"{name}={shlex.quote(env[name])}"
        for name in BAKED_FROM_HOST
        if name in env
        and environ.get(name) == env[name]
        and name not in cfg.env
        and not (cfg.profile == "strict" and name in STRICT_ENV)
    ]
    if not taken:
        return None
    them = "it" if len(taken) == 1 else "them"
    return (
        f"from this shell, the image sets {', '.join(taken)} (numerics settings); "
        f"unset {them} and freeze again to leave {them} out"
    )


def _index_refused(
    cfg: ProjectConfig,
    exc: IndexRefused,
    index_url: str | None,
    extra_urls: Sequence[str],
) -> ReproboxError:
    """Name the config key of the index that refused access, and its ${NAME}s."""
    if exc.declared is not None and exc.declared == index_url:
        key, written = "packages.index_url", cfg.index_url
    elif exc.declared in extra_urls:
        at = list(extra_urls).index(exc.declared)
        key, written = f"packages.extra_index_urls[{at}]", cfg.extra_index_urls[at]
    else:  # an index reprobox added (a GPU wheel index) or one nobody declared
        return LockError(exc.message, hint=exc.hint)
    names = referenced_variables(written or "")
    fix = exc.hint
    if names and exc.credentials:
        shown = " and ".join(f"${name}" for name in names)
        fix = (
            f"check the token in {shown}: it may be wrong, expired or without "
            "read access to that index"
        )
    return ConfigError(cfg.source, cfg.key(key), exc.problem, fix)


def expanded_indexes(
    cfg: ProjectConfig, environ: Mapping[str, str]
) -> tuple[str | None, tuple[str, ...]]:
    """Return the project's index URLs with ${NAME} credentials filled in."""
    where = cfg.source
    index_url = (
        expand_index_url(cfg.index_url, environ, where) if cfg.index_url else None
    )
    extra = tuple(expand_index_url(u, environ, where) for u in cfg.extra_index_urls)
    return index_url, extra


def index_reference_values(
    cfg: ProjectConfig, environ: Mapping[str, str]
) -> tuple[str, ...]:
    """Return the values the project's index URLs take from ${NAME} references."""
    urls = [cfg.index_url or "", *cfg.extra_index_urls]
    names = sorted({name for url in urls for name in referenced_variables(url)})
    return tuple(environ[name] for name in names if environ.get(name))


def vcs_lock_text(lines: Sequence[str]) -> str:
    """Return the git requirements file, refusing URLs that carry credentials."""
    if not lines:
        return ""
    for line in lines:
        if has_credentials(line.split("@", 1)[-1].strip().removeprefix("git+")):
            raise LockError(
                f"{line.split(' @ ')[0]}: its git URL carries credentials, which "
                "would be written into the image",
                hint="use a public URL, or publish the package to an index",
            )
    header = "# Installed from git at a full commit id; generated by reprobox.\n"
    return header + "".join(line + "\n" for line in sorted(lines))


def _keep_publication(path: Path, result: FreezeResult) -> None:
    """Carry `published` over when freezing again changed nothing of the image.

    A freeze that changes the image drops it: those images are of the build
    it replaced. Their refs go into result.dropped_published, to be said:
    freezing back to that build later does not bring them back.
    """
    # A FIFO there blocked the read forever, a link to /dev/zero never ended.
    refuse_odd_file(path, "manifest", "run `reprobox freeze` again")
    try:
        old = loads_strict(path.read_text(encoding="utf-8"), path)
    except (OSError, ValueError, RecursionError, InputError):
        return  # a damaged manifest keeps nothing: push again
    if not isinstance(old, dict) or not old.get("published"):
        return
    from reprobox.share import check_published

    if core_manifest_text(old) == core_manifest_text(result.manifest):
        # Checked, not carried over as it lies: an entry edited to hold a
        # token (or damaged) is refused here by its field, as push, run and
        # export refuse it; it was kept in the new manifest.
        result.manifest["published"] = check_published(path, old)
        return

    try:
        refs = [entry["ref"] for entry in check_published(path, old)]
    except InputError:
        refs = ["entries of a shape push never writes"]
    result.dropped_published = refs


def write_frozen(
    cfg: ProjectConfig,
    result: FreezeResult,
    on_wait: Callable[[str], None] = lambda message: None,
) -> list[Path]:
    """Write the frozen files atomically; the manifest, which vouches for the
    others by their digests, goes last.

    In turn with pushes (one_share_at_a_time): a push that recorded its
    digest between this freeze's read of `published` and its write would
    otherwise be dropped from the manifest. on_wait is told when it waits.
    """
    with one_share_at_a_time(cfg.state_dir, on_wait, required=False):
        return _write_frozen(cfg, result)


def _write_frozen(cfg: ProjectConfig, result: FreezeResult) -> list[Path]:
    state = cfg.state_dir
    # Sealed by the writer, as run seals each record it writes: the digests
    # are then of the manifest written, whatever changed in result since.
    result.manifest = seal_manifest(result.manifest)
    _keep_publication(state / MANIFEST_NAME, result)
    files = [(state / LOCK_NAME, result.lock)]
    vcs = state / VCS_NAME
    if result.vcs_lock:
        files.append((vcs, result.vcs_lock))
    files += [
        (state / DOCKERFILE_NAME, result.dockerfile),
        (state / MANIFEST_NAME, result.manifest_text),
    ]
    gitignore = state / ".gitignore"
    if not gitignore.exists():
        files.insert(
            0,
            (
                gitignore,
                "# run outputs are large and per machine\nruns/\n"
                "# held by push, export and freeze to take turns\n.share.lock\n",
            ),
        )
    try:
        # All or nothing: a freeze killed among the renames leaves its marker,
        # and every command that loads these files then says so.
        atomic_write_files(
            files,
            state / FREEZE_MARKER,
            kind="freeze marker",
            fix=f"run `reprobox freeze {cfg.root}` again",
        )
    except FileExistsError as exc:
        if exc.filename != str(state / FREEZE_MARKER):
            raise _write_error(exc, state) from None
        raise InputError(
            f"{state}: another reprobox (a `reprobox freeze`, or a push recording "
            "its digest) is writing the frozen files now",
            hint="wait for it to end, then freeze again if needed",
        ) from None
    except OSError as exc:
        raise _write_error(exc, state) from None
    if not result.vcs_lock:
        vcs.unlink(missing_ok=True)
    return [path for path, _ in files if path != gitignore]


def _write_error(exc: OSError, state: Path) -> InputError:
    return InputError(
        f"{exc.filename or state}: cannot write the frozen files: "
        f"{exc.strerror or exc}; nothing was changed",
        hint="free space there (or fix its permissions) and freeze again",
    )
