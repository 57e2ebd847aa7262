"""Stage a build context from a frozen project and build its image.

The context holds exactly what the Dockerfile copies: the lock, reprobox's
runtime hook and the project's code (never .reprobox/, .git/, caches,
virtualenvs or the declared data files, which are mounted read-only at run
time). The image tag is a digest of that context, so an unchanged project is
never rebuilt and any change to code, lock or Dockerfile gives a new tag.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import re
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from reprobox import __version__
from reprobox.build_failure import explain_build_failure
from reprobox.config import ProjectConfig
from reprobox.context_folder import context_folder, remove_stale_contexts
from reprobox.credential_archives import Finding
from reprobox.credential_files import credential_finding, holds_credentials
from reprobox.credential_lines import hide_published_tokens
from reprobox.data_checks import ScriptPath, command_paths, python_flag_without_value
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
from reprobox.errors import BuildError, ConfigError, InputError
from reprobox.ignore import IgnoreRule, ignore_lines, parse_rule
from reprobox.image_inputs import files_read_by_reprobox, refuse_written_credentials
from reprobox.image_paths import missing_script, reaches_in_image
from reprobox.lock.indexes import is_loopback_host
from reprobox.lock.requirements_file import (
    PYPROJECT,
    requirements_digest,
    requirements_named,
)
from reprobox.made_tags import OnTagged, report_interrupted_tag
from reprobox.manifest import VCS_NAME, FrozenProject, load_frozen
from reprobox.paths import resolve_path
from reprobox.secret_shapes import hide_name_tokens, token_in_name
from reprobox.share import carries_build_labels, lock_labels, manifest_labels
from reprobox.stopping import raised_by_a_stop
from reprobox.tag_moves import drop_if_untagged

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
IGNORE_FILE = ".reproboxignore"
ALWAYS_IGNORED = (
    ".reprobox",
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    "*.pyc",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    ".DS_Store",
    IGNORE_FILE,
    # The image carries its config as the manifest label; the file itself is
    # not needed there, and what it holds should not travel in a layer.
    "reprobox.toml",
)
# Credentials people keep beside their code; an image is for sharing.
# A hard link to one of these stays out as well.
CREDENTIAL_NAMES = (
    # A trailing * also catches the copies people make: .env-prod, .netrc.bak.
    ".env*",  # .env.local, .env_prod, a .envs/ folder, .envrc
    "*.env",  # prod.env
    ".netrc*",
    "netrc",  # a copy without the dot
    ".pypirc*",
    ".npmrc*",
    ".git-credentials*",
    ".aws",
    ".ssh",
    ".gnupg",
    ".docker",
    ".kube",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "_netrc*",
    ".pgpass*",
    ".htpasswd*",
    "credentials.json",
    "*credentials*.json",
    "service-account*.json",
    "secrets.toml",
    "secrets.yaml",
    "secrets.yml",
    "secrets.json",
    "*.key",
    "*.p12",
    "*.pfx",
    "gcloud",
    ".azure",
    ".boto*",
    ".s3cfg*",
    ".oci",
    ".databrickscfg",
    ".dockercfg*",
    ".kaggle",
    "kaggle.json",
    ".vault-token*",
    ".huggingface",  # hf's token, in its older place
    ".cache",  # caches, hf's token among them (.cache/huggingface/token)
    ".terraformrc",
    ".terraform.d",
    ".my.cnf",
    ".password-store",
    "*.config/gh",
    "*.config/rclone",
    "*.config/pip",  # pip.conf, with an index URL and its password
    "pip.conf",
    "pip.ini",
)
ALWAYS_IGNORED += CREDENTIAL_NAMES
_ALWAYS_IGNORED_LOWER = tuple(p.lower() for p in ALWAYS_IGNORED)
_CREDENTIAL_NAMES_LOWER = tuple(p.lower() for p in CREDENTIAL_NAMES)
# Names that are credentials as files, and may well be code as folders.
ALWAYS_IGNORED_FILES = ("credentials",)  # the AWS shared credentials format


def _ignore_rules(root: Path) -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    ignore = root / IGNORE_FILE
    if ignore.is_symlink():
        # As for any linked project file: a link within the project is
        # followed; one out of it (to /etc/passwd, say) or to nothing is not
        # the project's list of rules, and a loop would read as no rules.
        target = resolve_path(ignore, str(ignore), hint=f"make {IGNORE_FILE} a file")
        if not target.is_relative_to(root.resolve()):
            raise InputError(
                f"{ignore}: symbolic link points outside the project "
                f"({_shown(str(target))})",
                hint=f"copy the file into the project as {IGNORE_FILE}",
            )
        if not target.exists():
            raise InputError(
                f"{ignore}: symbolic link points at nothing ({_shown(str(target))})",
                hint=f"make {IGNORE_FILE} a file, or remove the link",
            )
    if ignore.exists() and not ignore.is_file():
        # A folder (or a FIFO) by that name would be read as no rules at all,
        # and every file the user meant to keep out would go in.
        raise InputError(
            f"{ignore}: is not a file, so none of its rules could be read",
            hint="make it a text file with one pattern a line, as .gitignore",
        )
    if ignore.is_file():
        # surrogateescape: a line can name a file whose name is not UTF-8.
        text = ignore.read_text(encoding="utf-8", errors="surrogateescape")
        if "\0" in text:
            raise InputError(
                f"{ignore}: holds NUL bytes, so it is not the text file of "
                "patterns it should be",
                hint="make it a text file with one pattern a line, as .gitignore",
            )
        for number, line in enumerate(ignore_lines(text), 1):
            try:
                rule = parse_rule(line)
            except re.error as exc:  # a range out of order, as in "[z-a]"
                raise InputError(
                    f"{ignore}:{number}: {_shown(line.strip())}: not a valid "
                    f"pattern ({exc.msg})",
                    hint="fix or remove that line",
                ) from None
            if rule is not None:
                rules.append(rule)
    return rules


def _ignored(rel: str, is_dir: bool, rules: list[IgnoreRule]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    # reprobox's own list ignores case: ".ENV" or "Credentials.json" hold the
    # same secrets, and no "!" line can put them back. The user's
    # .reproboxignore keeps exact case.
    lower_name, lower_rel = name.lower(), rel.lower()
    if any(
        fnmatch.fnmatchcase(lower_name, p) or fnmatch.fnmatchcase(lower_rel, p)
        for p in _ALWAYS_IGNORED_LOWER
    ):
        return True
    if not is_dir and lower_name in ALWAYS_IGNORED_FILES:
        return True
    for rule in reversed(rules):  # the last line that matches decides
        if (is_dir or not rule.dir_only) and rule.matches(rel):
            return not rule.negated
    return False


def _credential_name(rel: str, is_dir: bool) -> bool:
    """Tell whether reprobox's list of credential files names rel, in any case."""
    lower_rel = rel.lower()
    lower_name = lower_rel.rsplit("/", 1)[-1]
    if not is_dir and lower_name in ALWAYS_IGNORED_FILES:
        return True
    return any(
        fnmatch.fnmatchcase(lower_name, p) or fnmatch.fnmatchcase(lower_rel, p)
        for p in _CREDENTIAL_NAMES_LOWER
    )


FileId = tuple[int, int]  # st_dev, st_ino: what every hard link of a file shares


def _links_to_credentials(root: Path, linked: dict[FileId, list[str]]) -> set[str]:
    """Return the files of linked that are hard links to a credential file.

    linked maps a file's identity to the kept paths with more than one link.
    Their other names are looked for everywhere in the project, left-out
    folders included; the walk reads names and stats, never contents (a copy
    by content is caught by reading the kept file itself).
    """
    found: set[str] = set()
    if not linked:
        return found
    under_credentials: dict[str, bool] = {}
    for dirpath, _, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        parent = str(Path(dirpath).parent)
        inside = rel_dir != "." and (
            under_credentials.get(parent, False) or _credential_name(rel_dir, True)
        )
        under_credentials[dirpath] = inside
        for name in filenames:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            paths = linked.get((info.st_dev, info.st_ino))
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if paths and (inside or _credential_name(rel, False)):
                found.update(paths)
    return found


def _file_id(path: Path) -> FileId | None:
    """Return a regular file's identity when it has more than one hard link."""
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
        return None
    return info.st_dev, info.st_ino


def _left_out_folder(root: Path, rel: str, rules: list[IgnoreRule]) -> bool:
    return _ignored(rel, True, rules) or _is_environment(root / rel)


def is_image_file(root: Path, rel: str) -> bool:
    """Tell whether a file at rel (posix, under root) would be copied into the image."""
    rules = _ignore_rules(root)
    full = root / rel
    if full.is_dir():  # a folder, or a link to one, as the walk sees it
        return not _left_out_by_place(root, rel, rules) and not _left_out_folder(
            root, rel, rules
        )
    if _left_out_by_place(root, rel, rules) or _ignored(rel, False, rules):
        return False
    if full.is_symlink():
        return True
    if holds_credentials(full):
        return False
    file_id = _file_id(full)
    return not (file_id and _links_to_credentials(root, {file_id: [rel]}))


def is_image_path(root: Path, rel: str) -> bool:
    """Tell whether a file written at rel would go into the image, by its place.

    What the file there holds now is not asked: it is about to be replaced.
    """
    rules = _ignore_rules(root)
    return not (_left_out_by_place(root, rel, rules) or _ignored(rel, False, rules))


def _left_out_by_place(root: Path, rel: str, rules: list[IgnoreRule]) -> bool:
    # As in the walk: a file under a left-out folder stays out, whatever "!" says.
    parts = rel.split("/")
    return any(
        _left_out_folder(root, "/".join(parts[:i]), rules) for i in range(1, len(parts))
    )


# What a Python option that takes a value looks like given one.
_FLAG_EXAMPLES = {
    "-m": "python -m package",
    "-c": "python -c 'print(1)'",
    "-W": "python -W ignore",
    "-X": "python -X dev",
}


def refuse_command_left_out(cfg: ProjectConfig, files: Sequence[str]) -> None:
    """Refuse a command whose script is not in the project, or not in the image.

    Missing, or left out (by .reproboxignore, say), it is missing from /app,
    and the run fails as training would, exit 1, though nothing was trained.
    """
    root = cfg.root.resolve()
    flag = python_flag_without_value(cfg.command)
    if flag is not None:
        example = _FLAG_EXAMPLES.get(flag, f"python {flag} VALUE")
        raise ConfigError(
            cfg.source,
            cfg.key("command"),
            f"ends on Python's {flag} with nothing after it, so Python would not start",
            f"give {flag} its value (e.g. {example}), or drop it",
        )
    kept = set(files)
    for found in command_paths(cfg.command):
        if found.project in cfg.data:
            continue  # data entries are refused apart (refuse_data_the_image_needs)
        if found.detour:
            if found.by_path:
                _refuse_detour(cfg, found)
            continue
        if found.by_path:
            _refuse_missing_script(cfg, root, found)
        if found.project not in kept and (root / found.project).is_file():
            _refuse_script_left_out(cfg, root, found)
        if found.by_path and reaches_in_image(root, found.rel, kept) is None:
            # The image holds files, not the project's folders: an empty or
            # left-out folder on the way, or a link into one, is not there.
            key = cfg.key("command")
            raise ConfigError(
                cfg.source,
                key,
                f"runs {_as_written(found)}, which the image would not reach: a folder "
                "on its way, or where a link on it points, holds no file the "
                "image gets (empty, or left out), so the run could not start it",
                f"name the script by its own path ({_tidied(found)!r}) in {key}, "
                "or copy what it needs into the image",
            )


def _tidied(found: ScriptPath) -> str:
    """Return the script's path tidied, spelt as the command spells it."""
    if not found.written.startswith("/"):
        return found.project
    return "/app" if found.project == "." else f"/app/{found.project}"


def _as_written(found: ScriptPath) -> str:
    """Return the script's path as the command writes it, for a message; an
    absolute one with the project path it names beside it."""
    if not found.written.startswith("/"):
        return repr(found.written)
    if found.project == ".":
        return f"{found.written!r} (the project folder)"
    return f"{found.written!r} (the project's {found.project!r})"


def _refuse_detour(cfg: ProjectConfig, found: ScriptPath) -> None:
    """Refuse a script path that enters /app through a folder outside it."""
    # /tmp/../app/x.py opens /tmp first: whether the base image has that
    # folder is not known here, and no one needs that spelling.
    key = cfg.key("command")
    # At / a ".." stays at /, as normpath reads it: the path ends in /app.
    absolute = posixpath.join("/app", found.written).lstrip("/")
    absolute = posixpath.normpath(f"/{absolute}")
    project = posixpath.relpath(absolute, "/app")
    raise ConfigError(
        cfg.source,
        key,
        f"runs {found.written!r}, which goes through {found.detour!r}, a folder "
        "outside /app, before it enters /app: whether the image has that folder "
        "is not known here, so the run might not start it",
        f"write {absolute!r} or {project!r} in {key}",
    )


def _refuse_script_left_out(cfg: ProjectConfig, root: Path, found: ScriptPath) -> None:
    """Refuse a script the project has that the image would not get."""
    rel = found.project
    rules = _ignore_rules(root)
    if _left_out_by_place(root, rel, []) or _ignored(rel, False, []):
        why, fix = "reprobox leaves such files out", "rename or move the script"
    elif _left_out_by_place(root, rel, rules) or _ignored(rel, False, rules):
        why = f"{IGNORE_FILE} leaves it out"
        fix = f"remove the {IGNORE_FILE} line that matches it"
    else:
        why = "it reads as a credential file"
        fix = "move the credential out of the script"
    raise ConfigError(
        cfg.source,
        cfg.key("command"),
        f"runs {_as_written(found)}, which is not copied into the image ({why}), so "
        "the run could not start it",
        fix,
    )


def _refuse_missing_script(cfg: ProjectConfig, root: Path, found: ScriptPath) -> None:
    """Refuse a script path, as the command writes it, the project has no script at."""
    there = missing_script(root, found.rel)
    if there is None:
        return
    key = cfg.key("command")
    if there == "not as written":
        # "train.py/": the system opens each part of a path as written.
        named = _tidied(found)
        raise ConfigError(
            cfg.source,
            key,
            f"runs {found.written!r}, which names no file as written (only "
            f"{named!r}, its tidied form, is one), so the run could not start it",
            f"write {named!r} in {key}",
        )
    what, fix = {
        "nothing": (
            "not in the project (no such file)",
            f"create it, or fix the path in {key}",
        ),
        "a folder": (
            "a folder with no __main__.py, not a script",
            f"name the script itself in {key}",
        ),
        "a broken link": (
            "not in the project (it is a link to a missing file)",
            f"point the link at the script, or fix the path in {key}",
        ),
        "outside": (
            "not in the project (its path leads out of the project folder)",
            f"move the script into the project and fix the path in {key}",
        ),
    }[there]
    raise ConfigError(
        cfg.source,
        key,
        f"runs {_as_written(found)}, which is {what}, so the run could not start it",
        fix,
    )


def project_files(cfg: ProjectConfig, left_out: list[str] | None = None) -> list[str]:
    """Return the project files that go into the image, sorted, as posix paths.

    left_out, when given, gets the credential files and folders kept out.
    """
    credentials: list[str] = []
    root = cfg.root.resolve()
    rules = _ignore_rules(root)
    skip = set(cfg.data)
    if cfg.ca_cert:  # the build gets it as a secret; it is not part of the image
        ca = (root / cfg.ca_cert).resolve()
        if ca.is_relative_to(root):
            skip.add(ca.relative_to(root).as_posix())
    found: list[str] = []
    linked: dict[FileId, list[str]] = {}
    # The requirements and what they include, whatever their names: pip reads
    # them, so a credential in one is refused on its line, never left out.
    metadata = set(files_read_by_reprobox(cfg))
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        kept = []
        for d in sorted(dirnames):
            full = Path(dirpath) / d
            if _left_out_folder(root, rel_dir + d, rules):
                if _credential_name(rel_dir + d, True):
                    credentials.append(rel_dir + d + "/")
                continue
            if full.is_symlink():  # copied as a link, never walked into
                _check_link(root, full, rel_dir + d)
                found.append(_check_name(rel_dir + d))
                continue
            kept.append(d)
        dirnames[:] = kept
        for f in sorted(filenames):
            rel = rel_dir + f
            if rel in skip:
                continue
            if _ignored(rel, False, rules):
                if _credential_name(rel, False):
                    credentials.append(rel)
                continue
            full = Path(dirpath) / f
            if full.is_symlink():
                _check_link(root, full, rel)
            else:
                _check_regular(full, rel)
                finding = None if rel in metadata else credential_finding(full)
                if finding is not None:
                    # A key or credential file, any name; in an archive, the member.
                    credentials.append(_credential_at(rel, finding))
                    continue
                if file_id := _file_id(full):
                    linked.setdefault(file_id, []).append(rel)
            found.append(_check_name(rel))
    copies = _links_to_credentials(root, linked)
    if left_out is not None:
        left_out.extend(sorted(credentials + list(copies)))
    return sorted(rel for rel in found if rel not in copies)


# How many left-out credential files a note names before it counts the rest.
_NOTED_FILES = 5


def left_out_note(left_out: list[str]) -> str | None:
    """Return the one line that tells which credential files stay out, if any."""
    if not left_out:
        return None
    shown = ", ".join(_shown(rel) for rel in left_out[:_NOTED_FILES])
    more = len(left_out) - _NOTED_FILES
    if more > 0:
        shown += f" and {more} more"
    return (
        f"note: left out of the image as credential files: {shown} (pass secrets "
        "at run time with `reprobox run --env NAME`)"
    )


def _shown(path: str) -> str:
    """Return a path fit for one line: quoted, with \\x escapes, if it must be,
    and each token of a published format in it, joined to other characters
    or not, cut short (ghp_***)."""
    path = hide_name_tokens(hide_published_tokens(path))
    return path if path.isprintable() else repr(os.fsencode(path))[1:]


def _check_name(rel: str) -> str:
    """Return rel, or refuse it when its name is not UTF-8 (no digest can hold
    it) or holds a token of a published format."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{_shown(rel)}: file name is not valid UTF-8",
            hint=f"rename it, or list it in {IGNORE_FILE}",
        ) from None
    if token_in_name(rel):
        # A name is written into the image's layers, then pushed or exported.
        raise InputError(
            f"{_shown(rel)}: its name holds a token of a published format "
            "(ghp_..., AKIA...), which would go into the image's layers with "
            "it; refused",
            hint=f"rename it, or list it in {IGNORE_FILE}",
        )
    return rel


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a unix socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _credential_at(rel: str, finding: Finding) -> str:
    """Return where a file holds a credential (rel, or rel:member for an
    archive's), or refuse an archive that cannot be read whole: what reprobox
    cannot read, it cannot show free of a credential."""
    where = f"{rel}:{finding.where}" if finding.where else rel
    if finding.unreadable is None:
        return where
    raise InputError(
        f"{_shown(where)}: {finding.unreadable}, so reprobox cannot tell whether "
        "it holds a credential; it cannot go into the image",
        hint=f"unpack it into the project (its files are then checked), or list "
        f"it in {IGNORE_FILE} (or under data, to mount it at run time)",
    )


def _check_regular(path: Path, rel: str) -> None:
    """Refuse a pipe, socket or device: reading one for the digest would hang."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return  # gone meanwhile: the digest says what is wrong with it
    if stat.S_ISREG(mode):
        return
    kind = next((what for test, what in _SPECIAL_FILES if test(mode)), "no file")
    raise InputError(
        f"{_shown(rel)}: {kind}, not a regular file; it cannot go into the image",
        hint=f"remove it, or list it in {IGNORE_FILE}",
    )


def _is_environment(path: Path) -> bool:
    """Tell whether a folder is a virtualenv or conda env, whatever its name."""
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


def _link_text(root: Path, path: Path) -> str:
    """Return a link's target relative to the link, so it works in the image."""
    target = path.resolve()
    return os.path.relpath(target, path.parent.resolve())


def _check_link(root: Path, path: Path, rel: str) -> None:
    target = resolve_path(
        path, _shown(rel), hint=f"point it at a real file, or list it in {IGNORE_FILE}"
    )
    if not target.is_relative_to(root):
        raise InputError(
            f"{_shown(rel)}: symbolic link points outside the project "
            f"({_shown(str(target))})",
            hint=f"copy the file in, or list it in {IGNORE_FILE}",
        )
    try:
        _link_text(root, path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{_shown(rel)}: symbolic link target name is not valid UTF-8",
            hint=f"rename the target, or list the link in {IGNORE_FILE}",
        ) from None


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
            digest.update(_field(b"link:" + _link_text(root, source).encode()))
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
    refuse_command_left_out(cfg, files)
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
                os.symlink(_link_text(cfg.root, source), dest)
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
        on_info(note)
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
        drop_if_untagged(engine, before)
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
