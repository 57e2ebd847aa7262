"""Which project files go into the image, and which are left out and why.

reprobox's own list (caches, virtualenvs, .reprobox/, credential files by
name), .reproboxignore, the declared data files and files that hold
credentials are left out; links, special files and names the build could not
carry are refused before anything is staged.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from pathlib import Path

from reprobox.config import ProjectConfig
from reprobox.credential_archives import Finding
from reprobox.credential_files import credential_finding, holds_credentials
from reprobox.credential_lines import hide_published_tokens
from reprobox.errors import InputError
from reprobox.ignore import IgnoreRule, ignore_lines, parse_rule
from reprobox.image_inputs import files_read_by_reprobox
from reprobox.paths import resolve_path
from reprobox.secret_shapes import hide_name_tokens, token_in_name

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
    """Return the one line that tells which credential files stay out, if any:
    a warning at freeze (the run will not find them), a note at each build."""
    if not left_out:
        return None
    shown = ", ".join(_shown(rel) for rel in left_out[:_NOTED_FILES])
    more = len(left_out) - _NOTED_FILES
    if more > 0:
        shown += f" and {more} more"
    return (
        f"left out of the image as credential files: {shown} (pass secrets "
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


def link_text(root: Path, path: Path) -> str:
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
        link_text(root, path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{_shown(rel)}: symbolic link target name is not valid UTF-8",
            hint=f"rename the target, or list the link in {IGNORE_FILE}",
        ) from None


def why_left_out(root: Path, rel: str, what: str) -> tuple[str, str]:
    """Say why the project file at rel stays out of the image, and the fix.

    what names the file in the fix ("script"). The file is known to be left
    out: by reprobox's own list, by .reproboxignore, or as a credential file.
    """
    rules = _ignore_rules(root)
    if _left_out_by_place(root, rel, []) or _ignored(rel, False, []):
        return "reprobox leaves such files out", f"rename or move the {what}"
    if _left_out_by_place(root, rel, rules) or _ignored(rel, False, rules):
        return (
            f"{IGNORE_FILE} leaves it out",
            f"remove the {IGNORE_FILE} line that matches it",
        )
    return "it reads as a credential file", f"move the credential out of the {what}"
