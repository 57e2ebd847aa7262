"""What goes into the build context, and the content-derived image tag."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from reprobox.build import RUNTIME_DIR, context_entries, image_tag, staged_context
from reprobox.config import ProjectConfig
from reprobox.errors import ConfigError, InputError
from reprobox.image_files import is_image_file, project_files
from reprobox.manifest import FrozenProject


def _cfg(root: Path, data: tuple[str, ...] = ()) -> ProjectConfig:
    return ProjectConfig(
        root=root,
        source=root / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        data=data,
    )


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _frozen(root: Path) -> FrozenProject:
    state = root / ".reprobox"
    _tree(
        state,
        {
            "Dockerfile": "FROM python:3.11-slim\n",
            "requirements.lock": "numpy==2.0.0\n",
            "manifest.json": '{"schema_version": 1}\n',
        },
    )
    return FrozenProject(
        state_dir=state,
        manifest={"schema_version": 1},
        lock_text="numpy==2.0.0\n",
        dockerfile_text="FROM python:3.11-slim\n",
    )


def _tag(root: Path, cfg: ProjectConfig | None = None) -> str:
    with staged_context(cfg or _cfg(root), _frozen(root)) as ctx:
        return ctx.tag


PROJECT = {
    "reprobox.toml": 'command = "python train.py"\n',
    "train.py": "print('hi')\n",
    "pkg/model.py": "X = 1\n",
}


def test_project_files_skip_state_vcs_caches_and_venvs(tmp_path):
    _tree(
        tmp_path,
        {
            **PROJECT,
            ".reprobox/manifest.json": "{}",
            ".git/config": "[core]\n",
            "__pycache__/train.cpython-311.pyc": "x",
            "pkg/__pycache__/model.cpython-311.pyc": "x",
            "pkg/old.pyc": "x",
            ".venv/bin/python": "x",
            "venv/lib/site.py": "x",
            ".pytest_cache/v/x": "x",
            ".ipynb_checkpoints/nb.ipynb": "{}",
            ".DS_Store": "x",
        },
    )
    assert project_files(_cfg(tmp_path)) == [
        "pkg/model.py",
        "train.py",
    ]


def test_declared_data_is_left_out(tmp_path):
    _tree(tmp_path, {**PROJECT, "data/train.csv": "1\n", "data/readme.txt": "r\n"})
    files = project_files(_cfg(tmp_path, data=("data/train.csv",)))
    assert "data/train.csv" not in files
    assert "data/readme.txt" in files


def test_reproboxignore_patterns_are_honoured(tmp_path):
    _tree(
        tmp_path,
        {
            **PROJECT,
            ".reproboxignore": "# comment\n\n*.log\noutputs/\ndata/*.npy\n",
            "run.log": "x",
            "pkg/deep.log": "x",
            "outputs/model.keras": "x",
            "data/a.npy": "x",
            "data/keep.csv": "x",
        },
    )
    assert project_files(_cfg(tmp_path)) == [
        "data/keep.csv",
        "pkg/model.py",
        "train.py",
    ]


def test_virtualenv_under_any_name_is_left_out(tmp_path):
    _tree(
        tmp_path,
        {
            **PROJECT,
            "env/pyvenv.cfg": "home = /usr/bin\n",
            "env/lib/python3.11/site-packages/x.py": "x",
        },
    )
    assert project_files(_cfg(tmp_path)) == [
        "pkg/model.py",
        "train.py",
    ]


def test_symlink_file_pointing_outside_is_refused_by_name(tmp_path):
    root = tmp_path / "proj"
    _tree(root, PROJECT)
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", root / "pkg" / "leak.txt")
    with pytest.raises(InputError) as info:
        project_files(_cfg(root))
    assert str(info.value).startswith("pkg/leak.txt: symbolic link points outside")
    assert ".reproboxignore" in info.value.hint


def test_symlink_folder_pointing_outside_is_refused_by_name(tmp_path):
    root = tmp_path / "proj"
    _tree(root, PROJECT)
    (tmp_path / "shared").mkdir()
    os.symlink(tmp_path / "shared", root / "shared")
    with pytest.raises(InputError, match="^shared: symbolic link points outside"):
        project_files(_cfg(root))


def test_ignored_symlink_pointing_outside_is_fine(tmp_path):
    root = tmp_path / "proj"
    _tree(root, {**PROJECT, ".reproboxignore": "leak.txt\n"})
    os.symlink("/etc/hostname", root / "leak.txt")
    assert "leak.txt" not in project_files(_cfg(root))


def test_symlink_inside_project_is_kept(tmp_path):
    _tree(tmp_path, PROJECT)
    os.symlink("pkg/model.py", tmp_path / "model.py")
    assert "model.py" in project_files(_cfg(tmp_path))


def test_staged_context_holds_exactly_what_the_dockerfile_copies(tmp_path):
    _tree(tmp_path, {**PROJECT, ".git/HEAD": "ref\n"})
    os.chmod(tmp_path / "train.py", 0o755)
    with staged_context(_cfg(tmp_path), _frozen(tmp_path)) as ctx:
        base = ctx.path
        found = sorted(
            p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()
        )
        runtime = sorted(f"reprobox_runtime/{p.name}" for p in RUNTIME_DIR.glob("*.py"))
        assert found == sorted(
            [
                "Dockerfile",
                "requirements.lock",
                "manifest.json",
                "app/pkg/model.py",
                "app/train.py",
                *runtime,
            ]
        )
        assert (base / "app/train.py").read_text() == PROJECT["train.py"]
        assert os.access(base / "app/train.py", os.X_OK)
        assert ctx.tag == image_tag("proj", ctx.digest)
    assert not base.exists()


def test_image_tag_format():
    digest = hashlib.sha256(b"x").hexdigest()
    assert image_tag("digits", digest) == f"reprobox/digits:{digest[:16]}"


def test_tag_is_stable_for_the_same_content(tmp_path):
    _tree(tmp_path, PROJECT)
    first = _tag(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"noise")
    assert _tag(tmp_path) == first


def test_tag_is_the_same_for_a_copy_in_another_folder(tmp_path):
    _tree(tmp_path / "a", PROJECT)
    _tree(tmp_path / "b", PROJECT)
    assert _tag(tmp_path / "a") == _tag(tmp_path / "b")


def test_one_byte_of_code_changes_the_tag(tmp_path):
    _tree(tmp_path, PROJECT)
    first = _tag(tmp_path)
    (tmp_path / "pkg" / "model.py").write_text("X = 2\n")
    assert _tag(tmp_path) != first


def test_a_new_file_changes_the_tag(tmp_path):
    _tree(tmp_path, PROJECT)
    first = _tag(tmp_path)
    (tmp_path / "extra.py").write_text("")
    assert _tag(tmp_path) != first


def test_making_a_file_executable_changes_the_tag(tmp_path):
    _tree(tmp_path, PROJECT)
    first = _tag(tmp_path)
    os.chmod(tmp_path / "train.py", 0o755)
    assert _tag(tmp_path) != first


def test_changing_declared_data_does_not_change_the_tag(tmp_path):
    _tree(tmp_path, {**PROJECT, "data.csv": "1\n"})
    cfg = _cfg(tmp_path, data=("data.csv",))
    first = _tag(tmp_path, cfg)
    (tmp_path / "data.csv").write_text("2\n")
    assert _tag(tmp_path, cfg) == first


def test_different_trees_never_share_a_tag(tmp_path):
    _tree(tmp_path / "one", {"a": "hello", "b": "x", "train.py": ""})
    _tree(tmp_path / "two", {"train.py": ""})  # the command's script, in both
    (tmp_path / "two" / "a").write_bytes(b"hello\0app/b\0-x")
    assert _tag(tmp_path / "one") != _tag(tmp_path / "two")


def test_absolute_symlink_inside_project_stays_inside_the_context(tmp_path):
    _tree(tmp_path, PROJECT)
    os.symlink(tmp_path / "pkg" / "model.py", tmp_path / "model.py")
    with staged_context(_cfg(tmp_path), _frozen(tmp_path)) as ctx:
        staged = ctx.path / "app" / "model.py"
        target = Path(os.path.realpath(staged))
        assert target.is_relative_to(ctx.path)
        assert target.read_text() == PROJECT["pkg/model.py"]


IGNORE_TREE = {
    **PROJECT,
    "x.log": "x",
    "pkg/y.log": "x",
    "keep.log": "x",
    "#hash.txt": "x",
    "!bang.txt": "x",
    "build/out.bin": "x",
    "pkg/build/out.bin": "x",
    "src/build": "a file named build",
    "sub/deep/a.txt": "x",
    "other/sub/deep/b.txt": "x",
    "docs/a.md": "x",
    "docs/a/b.md": "x",
    "runs/1/m.json": "x",
    "a1.txt": "x",
    "ab.txt": "x",
}
IGNORE_CASES = [
    ("**/*.log", {"x.log", "pkg/y.log", "keep.log"}),
    ("*.log\n!keep.log", {"x.log", "pkg/y.log"}),
    ("!keep.log\n*.log", {"x.log", "pkg/y.log", "keep.log"}),
    ("/sub/deep/", {"sub/deep/a.txt"}),
    ("sub/deep/", {"sub/deep/a.txt"}),
    ("deep/", {"sub/deep/a.txt", "other/sub/deep/b.txt"}),
    ("**/sub/deep", {"sub/deep/a.txt", "other/sub/deep/b.txt"}),
    ("\\#hash.txt", {"#hash.txt"}),
    ("#hash.txt", set()),
    ("\\!bang.txt", {"!bang.txt"}),
    ("build/", {"build/out.bin", "pkg/build/out.bin"}),
    ("build", {"build/out.bin", "pkg/build/out.bin", "src/build"}),
    ("/build", {"build/out.bin"}),
    ("docs/*.md", {"docs/a.md"}),
    ("docs/**/*.md", {"docs/a.md", "docs/a/b.md"}),
    ("runs/**", {"runs/1/m.json"}),
    ("a?.txt", {"a1.txt", "ab.txt"}),
    ("a[0-9].txt", {"a1.txt"}),
    ("a[!0-9].txt", {"ab.txt"}),
    ("*/b.md", set()),  # "*" stops at "/": it cannot stand for docs/a
    ("p?g/y.log", {"pkg/y.log"}),
    ("  # comment \n\n   \n", set()),
    ("*.log\r\n!keep.log\r\n", {"x.log", "pkg/y.log"}),
]


@pytest.mark.parametrize(("lines", "left_out"), IGNORE_CASES)
def test_reproboxignore_reads_like_gitignore(tmp_path, lines, left_out):
    _tree(tmp_path, {**IGNORE_TREE, ".reproboxignore": lines + "\n"})
    expected = sorted(set(IGNORE_TREE) - {"reprobox.toml"} - left_out)
    assert project_files(_cfg(tmp_path)) == expected
    for rel in IGNORE_TREE:  # compare's warning must agree with the walk
        assert is_image_file(tmp_path, rel) == (rel in expected), rel


def test_file_under_an_ignored_folder_cannot_be_put_back(tmp_path):
    lines = "runs/\n!runs/1/m.json\nlogs/*\n!logs/keep.txt\n"
    _tree(
        tmp_path,
        {
            **PROJECT,
            ".reproboxignore": lines,
            "runs/1/m.json": "x",
            "logs/a.txt": "x",
            "logs/keep.txt": "x",
        },
    )
    assert project_files(_cfg(tmp_path)) == [
        "logs/keep.txt",
        "pkg/model.py",
        "train.py",
    ]
    assert not is_image_file(tmp_path, "runs/1/m.json")
    assert is_image_file(tmp_path, "logs/keep.txt")


def test_builtin_list_cannot_be_put_back(tmp_path):
    _tree(tmp_path, {**PROJECT, ".reproboxignore": "!.env\n!.Env\n", ".Env": "T=1"})
    assert project_files(_cfg(tmp_path)) == ["pkg/model.py", "train.py"]
    assert not is_image_file(tmp_path, ".Env")


def test_bad_range_in_reproboxignore_names_the_line(tmp_path):
    _tree(tmp_path, {**PROJECT, ".reproboxignore": "*.log\n[z-a].txt\n"})
    with pytest.raises(InputError, match=r"\.reproboxignore:2: \[z-a\]\.txt: not a"):
        project_files(_cfg(tmp_path))


KEYS = {
    "pgp.asc": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF...\n",
    "box.ppk": "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
    "ssh2.txt": "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nP2/56w==\n",
    "age.txt": "# created: 2024\nAGE-SECRET-KEY-1QQQQ\n",
    "notes.txt": "keep this safe:\n"
    + "x" * 3000
    + "\n-----BEGIN EC PRIVATE KEY-----\n",
}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_private_key_under_any_name_stays_out(tmp_path, name):
    _tree(tmp_path, {**PROJECT, name: KEYS[name]})
    assert project_files(_cfg(tmp_path)) == ["pkg/model.py", "train.py"]
    assert not is_image_file(tmp_path, name)


def test_public_pgp_key_goes_in(tmp_path):
    _tree(tmp_path, {**PROJECT, "pub.asc": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"})
    assert "pub.asc" in project_files(_cfg(tmp_path))


BAD_NAME = os.fsdecode(b"\xff\xfe.txt")


def test_file_name_that_is_not_utf8_is_refused_by_name(tmp_path):
    _tree(tmp_path, {**PROJECT, f"pkg/{BAD_NAME}": "x"})
    with pytest.raises(InputError) as info:  # where `reprobox run` used to crash
        _tag(tmp_path)
    assert info.value.message == r"'pkg/\xff\xfe.txt': file name is not valid UTF-8"
    assert info.value.hint == "rename it, or list it in .reproboxignore"
    assert str(info.value).isprintable()


@pytest.mark.parametrize("lines", [b"*.txt\n", b"\xff\xfe.txt\n", b"/pkg/\n"])
def test_file_name_that_is_not_utf8_is_fine_when_ignored(tmp_path, lines):
    _tree(tmp_path, {**PROJECT, f"pkg/{BAD_NAME}": "x"})
    (tmp_path / ".reproboxignore").write_bytes(lines)
    files = project_files(_cfg(tmp_path))
    assert not any(BAD_NAME in rel for rel in files)
    assert _tag(tmp_path)  # hashing the context no longer trips over it


def _staged_modes(root: Path) -> dict[str, int]:
    with staged_context(_cfg(root), _frozen(root)) as ctx:
        return {
            p.relative_to(ctx.path).as_posix(): p.stat().st_mode & 0o7777
            for p in [ctx.path / "app", *ctx.path.rglob("*")]
        }


def test_staged_modes_are_readable_by_the_training_user(tmp_path):
    _tree(tmp_path, {**PROJECT, "run.sh": "#!/bin/sh\n", "odd.py": "x"})
    os.chmod(tmp_path / "pkg" / "model.py", 0o600)
    os.chmod(tmp_path / "run.sh", 0o700)
    os.chmod(tmp_path / "odd.py", 0o611)  # others may run it, its owner not
    old = os.umask(0o077)  # folders made while staging would be 0700
    try:
        modes = _staged_modes(tmp_path)
    finally:
        os.umask(old)
    assert modes["app/pkg/model.py"] == 0o644
    assert modes["app/run.sh"] == 0o755
    assert modes["app/odd.py"] == 0o644
    assert modes["manifest.json"] == modes["Dockerfile"] == 0o644
    assert modes["app"] == modes["app/pkg"] == modes["reprobox_runtime"] == 0o755


def test_tag_follows_what_is_staged_not_the_source_mode(tmp_path):
    _tree(tmp_path, PROJECT)
    os.chmod(tmp_path / "train.py", 0o600)
    private = _tag(tmp_path)
    os.chmod(tmp_path / "train.py", 0o644)
    assert _tag(tmp_path) == private  # the same image: both go in as 0644
    os.chmod(tmp_path / "train.py", 0o744)
    assert _tag(tmp_path) != private


def test_pattern_with_many_stars_is_matched_in_linear_time(tmp_path):
    # Backtracking took 30+ s for this line; git answers at once.
    stars = "*a" * 12 + "*b"
    names = {f"{'a' * 40}{i:02d}": "x" for i in range(40)}
    _tree(tmp_path, {**PROJECT, **names, ".reproboxignore": stars + "\n"})
    start = time.monotonic()
    files = project_files(_cfg(tmp_path))
    assert is_image_file(tmp_path, "a" * 40 + "00")
    assert time.monotonic() - start < 1.0
    assert set(names) <= set(files)


# Each case is (lines, files, the files git leaves out), checked against
# `git ls-files --others --exclude-standard` by the test after next.
GIT_CASES = [
    ("*a" * 12 + "*b", {"a" * 40, "a" * 12 + "b", "a" * 11 + "b"}, {"a" * 12 + "b"}),
    (
        "foo/**/bar",
        {"foo/bar", "foo/x/bar", "foo/x/y/bar", "foobar", "xfoo/bar"},
        {"foo/bar", "foo/x/bar", "foo/x/y/bar"},
    ),
    ("**/foo", {"foo", "a/foo", "a/b/foo", "a/foox"}, {"foo", "a/foo", "a/b/foo"}),
    ("a/**", {"a/b", "a/c/d", "ab"}, {"a/b", "a/c/d"}),
    ("**", {"a", "b/c"}, {"a", "b/c"}),
    ("a**b", {"axyb", "c/ab", "a/b"}, {"axyb", "c/ab"}),  # "**" in a name is "*"
    ("x/a**b", {"x/axyb", "x/a/b"}, {"x/axyb"}),
    ("a/**\\/b", {"a/b", "a/x/b"}, {"a/x/b"}),  # an escaped "/" after "**"
    ("a[/]b", {"a/b"}, set()),  # a class never matches "/"
    ("[]a]x", {"]x", "ax", "bx"}, {"]x", "ax"}),
    ("[!]a]x", {"]x", "ax", "bx"}, {"bx"}),
    ("[^a]x", {"ax", "bx"}, {"bx"}),
    ("[a-c-e]", {"a", "c", "d", "e", "-"}, {"a", "c", "e", "-"}),
    ("[[:digit:]x]", {"1", "x", "a"}, {"1", "x"}),
    ("[[:]x", {"[x", ":x", "x"}, {"[x", ":x"}),  # "[:" without ":]" is plain
    ("\\*", {"*", "a"}, {"*"}),
    ("?", {"a", "ab", "d/bc"}, {"a", "d/bc"}),  # the folder "d" matches
    ("a\\ ", {"a ", "a"}, {"a "}),  # an escaped trailing space is kept
    ("a  ", {"a ", "a"}, {"a"}),  # plain trailing spaces are not
    (" lead", {" lead", "lead"}, {" lead"}),  # leading spaces are
    ("foo//\n//foo\n!\n/", {"foo/x"}, set()),  # lines that match nothing
    (
        "*.txt\n!a.txt\n[ab].txt",
        {"a.txt", "b.txt", "c.txt"},
        {"a.txt", "b.txt", "c.txt"},
    ),
]


@pytest.mark.parametrize(("lines", "files", "left_out"), GIT_CASES)
def test_reproboxignore_leaves_out_what_git_does(tmp_path, lines, files, left_out):
    _tree(tmp_path, {**PROJECT, **dict.fromkeys(files, "x")})
    (tmp_path / ".reproboxignore").write_text(lines + "\n")
    kept = [rel for rel in project_files(_cfg(tmp_path)) if rel in files]
    assert kept == sorted(files - left_out)
    for rel in files:
        assert is_image_file(tmp_path, rel) == (rel not in left_out), rel


def _git_keeps(root: Path, env: dict[str, str]) -> list[str]:
    """Return the files git would add: untracked and not ignored."""
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True, env=env)
    listed = subprocess.run(
        [*git, "ls-files", "-z", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
        env=env,
    ).stdout.decode()
    return sorted(listed.split("\0"))


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize(("lines", "files", "left_out"), GIT_CASES)
def test_git_agrees_with_the_table(tmp_path, lines, files, left_out):
    home = tmp_path / "home"
    home.mkdir()
    root = tmp_path / "proj"
    _tree(root, {**PROJECT, **dict.fromkeys(files, "x")})
    for name in (".gitignore", ".reproboxignore"):
        (root / name).write_text(lines + "\n")
    # No user or system git settings: a global excludes file would skew it.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    kept_by_git = [rel for rel in _git_keeps(root, env) if rel in files]
    assert kept_by_git == sorted(files - left_out)
    assert [rel for rel in project_files(_cfg(root)) if rel in files] == kept_by_git


def test_byte_order_mark_before_the_first_line_is_skipped(tmp_path):
    _tree(tmp_path, {**PROJECT, "a.log": "x", "b.txt": "x"})
    (tmp_path / ".reproboxignore").write_bytes(b"\xef\xbb\xbf*.log\nb.txt\n")
    assert project_files(_cfg(tmp_path)) == ["pkg/model.py", "train.py"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("data[0-9", "no closing ]"),
        ("[[:word:]]", "unknown character class [:word:]"),
        ("name\\", "ends in a lone backslash"),
    ],
)
def test_line_git_would_never_match_names_the_line(tmp_path, line, why):
    _tree(tmp_path, {**PROJECT, ".reproboxignore": f"*.log\n{line}\n"})
    with pytest.raises(InputError) as info:
        project_files(_cfg(tmp_path))
    assert info.value.message.endswith(f":2: {line}: not a valid pattern ({why})")


CERTIFICATE = (
    "-----BEGIN CERTIFICATE-----\n"
    + "MIIDdzCCAl+gAwIBAgIEbVYtCjANBgkqhkiG9w0BAQsFADBs\n" * 200
    + "-----END CERTIFICATE-----\n"
)
PKCS8 = (
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("server.pem", CERTIFICATE + PKCS8),  # a chain, then its key
        ("big.txt", "x" * ((1 << 20) - len(PKCS8)) + PKCS8),  # 1 MiB: the last bytes
    ],
    ids=["certificates-first", "key-at-1-MiB"],
)
def test_private_key_past_the_first_8_kib_stays_out(tmp_path, name, text):
    assert len(text) > 9000
    _tree(tmp_path, {**PROJECT, name: text})
    assert project_files(_cfg(tmp_path)) == ["pkg/model.py", "train.py"]
    assert not is_image_file(tmp_path, name)


ED25519_PKCS8 = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIHbQ3lEz6wbXXcDxvRgJj2V6mQk5tDbS0p2bq3jVdZ8F\n"
    "-----END PRIVATE KEY-----\n"
)


def test_a_private_key_in_code_is_refused_on_its_line_not_left_out(tmp_path):
    # Left out, settings.py went missing and the run failed importing it.
    from reprobox.image_inputs import refuse_written_credentials

    text = "X = 1\n" * 2000 + f'KEY = """{ED25519_PKCS8}"""\n'
    _tree(tmp_path, {**PROJECT, "settings.py": text})
    files = project_files(_cfg(tmp_path))
    assert "settings.py" in files
    with pytest.raises(InputError) as info:
        refuse_written_credentials(_cfg(tmp_path), files)
    assert info.value.message.startswith(
        f"{tmp_path / 'settings.py'}:2001: holds a credential (a private key)"
    )
    assert "MC4CAQ" not in str(info.value)


def test_a_key_header_quoted_alone_in_docs_is_no_key(tmp_path):
    from reprobox.image_inputs import refuse_written_credentials

    note = "Paste the key that starts with -----BEGIN RSA PRIVATE KEY----- here.\n"
    _tree(tmp_path, {**PROJECT, "README.md": note})
    files = project_files(_cfg(tmp_path))
    assert "README.md" in files
    refuse_written_credentials(_cfg(tmp_path), files)


@pytest.mark.parametrize("boundary", [1 << k for k in range(12, 20)])
def test_key_marker_split_between_two_reads_is_found(tmp_path, boundary):
    # Whatever the read size, some power of two puts "PRIVATE KEY-----" across it.
    head = "-----BEGIN EC "
    text = "x" * (boundary - 8 - len(head)) + head + "PRIVATE KEY-----\n"
    _tree(tmp_path, {**PROJECT, "blob.txt": text})
    assert not is_image_file(tmp_path, "blob.txt")


def test_staged_tag_and_code_match_the_pre_build_hash(tmp_path):
    """No-op detection hashes the project; the build hashes its copy: same tag."""
    from reprobox.build import _hash_tree, context_entries, context_tag

    _tree(tmp_path, PROJECT)
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    (tmp_path / "link.py").symlink_to("pkg/model.py")
    cfg, frozen = _cfg(tmp_path), _frozen(tmp_path)
    entries = context_entries(cfg, frozen)
    with staged_context(cfg, frozen, entries) as ctx:
        assert (ctx.tag, ctx.digest) == context_tag(cfg, entries)
        own = [entry for entry in entries if entry[0].startswith("app/")]
        assert ctx.code == _hash_tree(tmp_path.resolve(), own)


def test_a_file_edited_while_staging_gives_the_tag_of_what_was_copied(
    tmp_path, monkeypatch
):
    """The tag must name the bytes in the image, not what the tree held before."""
    import shutil as shutil_module

    from reprobox.build import context_entries, context_tag

    _tree(tmp_path, PROJECT)
    cfg, frozen = _cfg(tmp_path), _frozen(tmp_path)
    entries = context_entries(cfg, frozen)
    before, _ = context_tag(cfg, entries)
    real_copy = shutil_module.copy2

    def copy_then_edit(src, dst, *args, **kwargs):
        if str(src).endswith("train.py"):
            Path(src).write_text("print('edited while building')\n")
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr("reprobox.build.shutil.copy2", copy_then_edit)
    with staged_context(cfg, frozen, entries) as ctx:
        staged = (ctx.path / "app" / "train.py").read_text()
        assert staged == "print('edited while building')\n"
        assert ctx.tag != before
        monkeypatch.undo()
        assert ctx.tag == context_tag(cfg, context_entries(cfg, frozen))[0]


def test_a_build_refuses_a_script_removed_since_freeze(tmp_path):
    # Freeze took it; without it the image would start nothing.
    _tree(tmp_path, {"pkg/model.py": "X = 1\n"})
    with pytest.raises(ConfigError) as caught:
        context_entries(_cfg(tmp_path), _frozen(tmp_path))  # what a build stages
    assert caught.value.message == (
        f"{tmp_path / 'reprobox.toml'}: command: runs 'train.py', which is not in "
        "the project (no such file), so the run could not start it"
    )


def test_the_staged_copy_is_readable_by_its_owner_alone(tmp_path):
    _tree(tmp_path, {"train.py": "x = 1\n"})
    with staged_context(_cfg(tmp_path), _frozen(tmp_path)) as ctx:
        assert ctx.path.stat().st_mode & 0o777 == 0o700
        assert (ctx.path / "app").stat().st_mode & 0o777 == 0o755  # as COPY needs


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda path: path.mkdir(), "is not a file"),
        (lambda path: os.mkfifo(path), "is not a file"),
        (lambda path: path.write_bytes(b"*.log\n\x00\x01\x02"), "holds NUL bytes"),
    ],
)
def test_an_ignore_file_that_is_no_text_file_is_refused(tmp_path, make, problem):
    _tree(tmp_path, {**PROJECT, "run.log": "x"})
    make(tmp_path / ".reproboxignore")
    with pytest.raises(InputError) as info:
        project_files(_cfg(tmp_path))
    assert info.value.message == f"{tmp_path / '.reproboxignore'}: {problem}" + (
        ", so none of its rules could be read"
        if problem == "is not a file"
        else ", so it is not the text file of patterns it should be"
    )


@pytest.mark.parametrize(
    "target, problem",
    [
        ("/etc/passwd", "symbolic link points outside the project (/etc/passwd)"),
        ("nothing", "symbolic link points at nothing"),
        (".reproboxignore", "symbolic link loops (it leads back to itself)"),
    ],
    ids=["outside", "dangling", "loop"],
)
def test_a_linked_ignore_file_leading_out_of_the_project_is_refused(
    tmp_path, target, problem
):
    # /etc/passwd was read as the project's rules, silently.
    _tree(tmp_path, PROJECT)
    (tmp_path / ".reproboxignore").symlink_to(target)
    with pytest.raises(InputError) as info:
        project_files(_cfg(tmp_path))
    assert info.value.message.startswith(f"{tmp_path / '.reproboxignore'}: {problem}")


def test_a_linked_ignore_file_inside_the_project_is_followed(tmp_path):
    _tree(tmp_path, {**PROJECT, "run.log": "x", "rules/ignore": "*.log\n"})
    (tmp_path / ".reproboxignore").symlink_to("rules/ignore")
    assert "run.log" not in project_files(_cfg(tmp_path))


PGP_KEY = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
    + "lQOYBFZx8Cv7Bn2Mq9Lp4Rt6Wy1KlQOYBFZx8Cv7Bn2Mq9Lp4Rt6Wy1KAQgAs8\n" * 3
    + "-----END PGP PRIVATE KEY BLOCK-----\n"
)
SSH2_KEY = (
    "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n"
    + "P2/56wAAA+oAAAA7aWYtbW9kbntzaWdue3JzYS1wa2NzMS1zaGExfSxlbmNyeXB0\n" * 2
    + "---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"
)
PPK_KEY = (
    "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\n"
    "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIDx0\nAAAA\n"
    "Private-Lines: 1\nAAAAIBmb3ZlcnlzZWNyZXRrZXlieXRlc3h4eHh4\n"
    "Private-MAC: 0123abcd\n"
)


@pytest.mark.parametrize(
    "key", [PGP_KEY, SSH2_KEY, PPK_KEY], ids=["pgp", "ssh2", "ppk"]
)
def test_every_kind_of_private_key_in_code_is_refused_on_its_line(tmp_path, key):
    # brk r47 (BO 1): only a PEM key was found in code; a PGP, ssh.com or
    # PuTTY key written in a .py file went into the image.
    from reprobox.image_inputs import refuse_written_credentials

    _tree(tmp_path, {**PROJECT, "keys.py": f'X = 1\nKEY = """{key}"""\n'})
    files = project_files(_cfg(tmp_path))
    with pytest.raises(InputError) as info:
        refuse_written_credentials(_cfg(tmp_path), files)
    assert info.value.message.startswith(
        f"{tmp_path / 'keys.py'}:2: holds a credential (a private key)"
    )


@pytest.mark.parametrize(
    "value",
    [
        "-----BEGIN PGP PRIVATE KEY BLOCK----- lQOYBFZx8Cv7Bn2Mq9Lp4Rt6Wy1K",
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ---- P2/56wAAA+oAAAA7aWYt",
        "PuTTY-User-Key-File-3: ssh-ed25519",
        "AGE-SECRET-KEY-1QQ8Z4TQVY0PMQJ8FS29VK6GWZ4LWE",
    ],
)
def test_every_kind_of_private_key_is_a_secret_value(value):
    # brk r47 (BO 1): --env and [env] values of these kinds were kept in clear.
    from reprobox.envvars import looks_secret

    assert looks_secret("SIGNING", value)
    assert not looks_secret("SIGNING", "a plain value")


# Made up: an age identity in bech32's lower case, as the breaker wrote one.
AGE_LOWER = (
    "age-secret-key-1qqpzry9x8gf2tvdw0s3jn54khce6mua7lqpzry9x8gf2tvdw0s3jn54khce"
)


@pytest.mark.parametrize(
    "value",
    [AGE_LOWER, AGE_LOWER.upper(), "AGE-SECRET-KEY-1qQPZRY9X8GF2TVDW0S3JN54KHCE"],
    ids=["lower", "upper", "mixed"],
)
def test_an_age_key_in_any_case_is_a_secret_value_hidden_whole(value):
    # brk r48 (BQ 1): a lower-case age key given with --env raised IndexError
    # (its marker was matched in any case, then read as an HTTP header).
    from reprobox.envvars import looks_secret, value_secret_parts

    assert looks_secret("SIGNING", value)
    assert value in list(value_secret_parts(value))


def test_a_lower_case_age_key_in_code_is_refused_on_its_line(tmp_path):
    # brk r48 (BQ 2): only the upper-case key was refused; the same key in
    # lower case, which bech32 reads alike, went into the image.
    from reprobox.image_inputs import refuse_written_credentials

    _tree(tmp_path, {**PROJECT, "cfg.py": f'X = 1\nK = "{AGE_LOWER}"\n'})
    files = project_files(_cfg(tmp_path))
    with pytest.raises(InputError) as info:
        refuse_written_credentials(_cfg(tmp_path), files)
    assert info.value.message.startswith(
        f"{tmp_path / 'cfg.py'}:2: holds a credential (a token of a published format)"
    )


def test_a_file_holding_a_lower_case_age_key_is_left_out(tmp_path):
    # As the upper-case key's file is: a key file, whatever its name.
    _tree(tmp_path, {**PROJECT, "notes.txt": AGE_LOWER + "\n", "a.txt": "plain\n"})
    files = project_files(_cfg(tmp_path))
    assert "notes.txt" not in files
    assert "a.txt" in files
