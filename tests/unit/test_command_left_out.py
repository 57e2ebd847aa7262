"""A command whose script the image would not hold is refused at freeze and build."""

from __future__ import annotations

from pathlib import Path

import pytest
from command_projects import project, refused


def test_a_script_reproboxignore_leaves_out_is_refused_naming_the_file(tmp_path):
    # bv 2: freeze and build took it; the run failed, exit 1, "can't open file".
    root = project(
        tmp_path,
        "python train.py",
        {"train.py": "print(1)\n", ".reproboxignore": "*.py\n"},
    )
    error = refused(root)
    assert error is not None
    assert error.message == (
        f"{root / 'reprobox.toml'}: command: runs 'train.py', which is not copied "
        "into the image (.reproboxignore leaves it out), so the run could not "
        "start it"
    )
    assert error.hint == "remove the .reproboxignore line that matches it"


@pytest.mark.parametrize(
    "command",
    [
        # bw 3: the list form README recommends, and launchers.
        ["sh", "-c", "python train.py"],
        "accelerate launch train.py",
        "torchrun --nproc_per_node=1 train.py",
    ],
)
def test_a_script_started_through_a_shell_or_launcher_is_found(tmp_path, command):
    files = {"train.py": "print(1)\n", ".reproboxignore": "train.py\n"}
    error = refused(project(tmp_path, command, files))
    assert error is not None and "runs 'train.py'" in error.message


def test_a_module_whose_folder_is_left_out_is_refused(tmp_path):
    root = project(
        tmp_path,
        "python -m pkg.cli --epochs 3",
        {"pkg/cli.py": "print(1)\n", ".reproboxignore": "pkg/\n"},
    )
    error = refused(root)
    assert error is not None and "runs 'pkg/cli.py'" in error.message


@pytest.mark.parametrize(
    ("command", "files"),
    [
        ("python train.py", {"train.py": "print(1)\n", ".reproboxignore": "data/\n"}),
        # A negation puts it back, as git reads it.
        (
            "python train.py",
            {"train.py": "x\n", ".reproboxignore": "*.py\n!train.py\n"},
        ),
        # Not in the project at all: an installed program, or a script made
        # elsewhere; nothing here says the image lacks what it needs.
        ("python -m pkg.cli", {".reproboxignore": "pkg/\n"}),
        ("python -c 'print(1)'", {}),
        ("bash run.sh", {"run.sh": "echo hi\n"}),
    ],
)
def test_a_command_the_image_holds_is_taken(tmp_path, command, files):
    assert refused(project(tmp_path, command, files)) is None


def _folder(root: Path) -> None:
    (root / "x.py").mkdir()


def _broken_link(root: Path) -> None:
    (root / "x.py").symlink_to("gone.py")


NO_FILE = "not in the project (no such file)"


@pytest.mark.parametrize(
    ("command", "make", "rel", "what", "fix"),
    [
        # The run failed in the container, exit 1: "can't open file".
        ("python missing.py", None, "missing.py", NO_FILE, "create it"),
        ("python src/missing.py", None, "src/missing.py", NO_FILE, "create it"),
        ("bash missing.sh", None, "missing.sh", NO_FILE, "create it"),
        # Named as written, ./ and all.
        ("./missing.sh --fast", None, "./missing.sh", NO_FILE, "create it"),
        (
            "torchrun --nproc_per_node 2 missing.py",
            None,
            "missing.py",
            NO_FILE,
            "create it",
        ),
        (
            ["sh", "-c", "python missing.py | tee log"],
            None,
            "missing.py",
            NO_FILE,
            "create it",
        ),
        (
            "python x.py",
            _folder,
            "x.py",
            "a folder with no __main__.py, not a script",
            "name the script itself",
        ),
        (
            "python x.py",
            _broken_link,
            "x.py",
            "not in the project (it is a link to a missing file)",
            "point the link at the script",
        ),
        (
            "python ../train.py",
            None,
            "../train.py",
            "not in the project (its path leads out of the project folder)",
            "move the script into the project",
        ),
    ],
)
def test_a_script_the_project_lacks_is_refused_naming_it(
    tmp_path, command, make, rel, what, fix
):
    root = tmp_path / "p"
    root.mkdir()
    (tmp_path / "train.py").write_text("print(1)\n")  # beside the project, not in it
    project(root, command, {})
    if make:
        make(root)
    error = refused(root)
    assert error is not None
    assert error.message == (
        f"{root / 'reprobox.toml'}: command: runs {rel!r}, which is {what}, so the "
        "run could not start it"
    )
    assert error.key == "command" and fix in error.hint and "command" in error.hint


def test_the_fix_names_the_key_as_pyproject_spells_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n[tool.reprobox]\ncommand = "python missing.py"\n'
    )
    error = refused(tmp_path)
    assert error is not None
    assert error.message.startswith(
        f"{tmp_path / 'pyproject.toml'}: tool.reprobox.command: runs 'missing.py'"
    )
    assert error.hint == "create it, or fix the path in tool.reprobox.command"


def _main_folder(root: Path) -> None:
    (root / "app").mkdir()
    (root / "app" / "__main__.py").write_text("print(1)\n")


@pytest.mark.parametrize(
    ("command", "make"),
    [
        ("python train.py", lambda root: (root / "train.py").write_text("x\n")),
        ("python -m pkg.train", None),  # installed with the requirements
        ("python /opt/tools/train.py", None),  # in the image, not the project
        ("train --epochs 3", None),  # a console script on PATH
        ("train.py", None),  # no slash: looked up on PATH too
        ("python app", _main_folder),  # Python runs a folder's __main__.py
        (["python", "$SCRIPT"], None),
        (["sh", "-c", "python ${SCRIPT:-train.py}"], None),
        (["sh", "-c", "python *.py"], None),
        (["sh", "-c", "python ~/train.py"], None),
        ("bash -o pipefail run.sh", lambda root: (root / "run.sh").write_text("x\n")),
        ("python -uc 'print(1)'", None),
        ("accelerate launch -m pkg.train --out x.py", None),
    ],
)
def test_a_command_whose_script_may_live_elsewhere_is_taken(tmp_path, command, make):
    project(tmp_path, command, {})
    if make:
        make(tmp_path)
    assert refused(tmp_path) is None


@pytest.mark.parametrize(
    ("command", "written", "named"),
    [
        # brk r35: "python train.py/" passed freeze, as train.py is a file; the
        # run then failed, exit 2: "can't open file 'train.py/'".
        ("python train.py/", "train.py/", "train.py"),
        ("python train.py/.", "train.py/.", "train.py"),
        ("python notes.txt/../train.py", "notes.txt/../train.py", "train.py"),
        ("python gone/../train.py", "gone/../train.py", "train.py"),
        (["sh", "-c", "./run.sh/ --fast"], "./run.sh/", "run.sh"),
    ],
)
def test_a_script_named_in_a_way_the_system_cannot_open_is_refused(
    tmp_path, command, written, named
):
    files = {"train.py": "print(1)\n", "notes.txt": "", "run.sh": "true\n"}
    root = project(tmp_path, command, files)
    error = refused(root)
    assert error is not None
    assert error.message == (
        f"{root / 'reprobox.toml'}: command: runs {written!r}, which names no file "
        f"as written (only {named!r}, its tidied form, is one), so the run could "
        "not start it"
    )
    assert error.hint == f"write {named!r} in command"


def test_a_script_path_the_system_can_open_is_taken_as_written(tmp_path):
    (tmp_path / "src").mkdir()
    files = {"src/train.py": "print(1)\n"}
    assert refused(project(tmp_path, "python ./src/../src/train.py", files)) is None
    # A Python-run folder keeps its slash: python pkg/ runs pkg/__main__.py.
    root = tmp_path / "q"
    root.mkdir()
    assert refused(project(root, "python pkg/", {"pkg/__main__.py": ""})) is None


def _empty_sub(root: Path) -> None:
    (root / "sub").mkdir()


def _ignored_sub(root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "notes.md").write_text("x\n")
    (root / ".reproboxignore").write_text("sub/\n")


def _link_into_ignored(root: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "train2.py").write_text("print(1)\n")
    (root / "run.py").symlink_to("src/train2.py")
    (root / ".reproboxignore").write_text("src/\n")


@pytest.mark.parametrize(
    ("command", "make", "written"),
    [
        # brk r36 (AV 4, AW 3): freeze and build took these; the run failed,
        # "can't open file '/app/sub/../train.py'": the image holds files, and
        # a folder with none the image gets is not there.
        ("python sub/../train.py", _empty_sub, "sub/../train.py"),
        ("python sub/../train.py", _ignored_sub, "sub/../train.py"),
        ("python run.py", _link_into_ignored, "run.py"),
        # The image's workdir is /app: an absolute path there is a project path.
        ("python /app/nosuch.py", None, "/app/nosuch.py"),
    ],
)
def test_a_script_the_image_would_not_reach_is_refused(
    tmp_path, command, make, written
):
    (tmp_path / "train.py").write_text("print(1)\n")
    if make:
        make(tmp_path)
    error = refused(project(tmp_path, command, {}))
    assert error is not None
    assert f"runs {written!r}" in error.message
    assert error.message.endswith("so the run could not start it")


def test_an_app_path_the_image_holds_is_taken(tmp_path):
    assert (
        refused(project(tmp_path, "python /app/train.py", {"train.py": "1\n"})) is None
    )


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        # brk r36 (AW 8h): passed freeze; Python then said "Argument expected
        # for the -m option" and the run failed.
        ("python -u -m", "-m"),
        ("python -m", "-m"),
        ("python3 -c", "-c"),
        ("python -Wignore -m", "-m"),
        ("env A=1 python -X", "-X"),
    ],
)
def test_a_python_option_left_without_its_value_is_refused(tmp_path, command, flag):
    error = refused(project(tmp_path, command, {"train.py": "1\n"}))
    assert error is not None
    assert error.message.endswith(
        f"command: ends on Python's {flag} with nothing after it, so Python "
        "would not start"
    )


@pytest.mark.parametrize(
    "command",
    ["python -m pkg", "python -mpkg", "python -c 'print(1)'", "python -u train.py"],
)
def test_python_options_with_their_values_are_taken(tmp_path, command):
    files = {"train.py": "1\n", "pkg/__init__.py": "", "pkg/__main__.py": ""}
    assert refused(project(tmp_path, command, files)) is None


@pytest.mark.parametrize(
    ("command", "example"),
    [
        # brk r37 (AY 4): -c was told "e.g. python -m package".
        ("python -m", "python -m package"),
        ("python -c", "python -c 'print(1)'"),
        ("python -X", "python -X dev"),
        ("python --check-hash-based-pycs", "python --check-hash-based-pycs VALUE"),
    ],
)
def test_the_fix_for_a_python_option_without_value_fits_the_option(
    tmp_path, command, example
):
    error = refused(project(tmp_path, command, {"train.py": "1\n"}))
    assert error is not None
    assert error.hint.startswith(
        f"give {command.split()[-1]} its value (e.g. {example})"
    )


@pytest.mark.parametrize(
    "command",
    [
        # brk r37 (AY 5): /app is the image's workdir, however it is spelt.
        "python /app/train.py",
        "python //app/train.py",
        "python /./app/train.py",
        "python /app/./train.py",
        # /.. is /: a ".." out of /app, then "app", is back in /app.
        "python /app/../app/train.py",
        "python /app/../../app/./train.py",
        "python ../app/train.py",
        "python /app/src/../train.py",  # src/ holds a file the image gets
        # Out of /app: a file of the image, not the project's.
        "python /app/../etc/x.py",
        "python /opt/tools/x.py",
    ],
)
def test_a_path_that_walks_into_app_to_a_script_is_taken(tmp_path, command):
    files = {"train.py": "1\n", "src/util.py": "1\n"}
    assert refused(project(tmp_path, command, files)) is None


def _empty(root: Path) -> None:
    (root / "sub").mkdir()


def _left_out(root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "notes.md").write_text("x\n")
    (root / ".reproboxignore").write_text("sub/\n")


def _dangling(root: Path) -> None:
    (root / "sub").symlink_to("gone")


UNREACHED = (
    "which the image would not reach: a folder on its way, or where a link on "
    "it points, holds no file the image gets (empty, or left out), so the run "
    "could not start it"
)
NOT_AS_WRITTEN = (
    "which names no file as written (only '/app/train.py', its tidied form, is "
    "one), so the run could not start it"
)


@pytest.mark.parametrize(
    ("command", "make", "message", "hint"),
    [
        # brk r38 (BA 2): /app/sub/../train.py was tidied to train.py before it
        # was checked; the run then failed, "can't open file".
        (
            "python /app/sub/../train.py",
            _empty,
            f"runs '/app/sub/../train.py' (the project's 'train.py'), {UNREACHED}",
            "name the script by its own path ('/app/train.py') in command, or "
            "copy what it needs into the image",
        ),
        (
            "python /app/sub/../train.py",
            _left_out,
            f"runs '/app/sub/../train.py' (the project's 'train.py'), {UNREACHED}",
            "name the script by its own path ('/app/train.py') in command, or "
            "copy what it needs into the image",
        ),
        (
            "python /app/sub/../../app/train.py",
            _empty,
            "runs '/app/sub/../../app/train.py' (the project's 'train.py'), "
            f"{UNREACHED}",
            "name the script by its own path ('/app/train.py') in command, or "
            "copy what it needs into the image",
        ),
        (
            "python /app/sub/../train.py",
            None,
            f"runs '/app/sub/../train.py', {NOT_AS_WRITTEN}",
            "write '/app/train.py' in command",
        ),
        (
            "python /app/sub/../train.py",
            _dangling,
            f"runs '/app/sub/../train.py', {NOT_AS_WRITTEN}",
            "write '/app/train.py' in command",
        ),
        (
            "python //app/train.py/",
            None,
            f"runs '//app/train.py/', {NOT_AS_WRITTEN}",
            "write '/app/train.py' in command",
        ),
        # Named as written, not as the project path it gave ('.', 'nope.py').
        (
            "python /app",
            None,
            "runs '/app' (the project folder), which is a folder with no "
            "__main__.py, not a script, so the run could not start it",
            "name the script itself in command",
        ),
        (
            "python //app/nope.py",
            None,
            "runs '//app/nope.py' (the project's 'nope.py'), which is not in the "
            "project (no such file), so the run could not start it",
            "create it, or fix the path in command",
        ),
        (
            "python /app/../app/nope.py",
            None,
            "runs '/app/../app/nope.py' (the project's 'nope.py'), which is not in "
            "the project (no such file), so the run could not start it",
            "create it, or fix the path in command",
        ),
    ],
)
def test_a_path_into_app_is_judged_part_by_part_and_named_as_written(
    tmp_path, command, make, message, hint
):
    root = project(tmp_path, command, {"train.py": "1\n"})
    if make:
        make(root)
    error = refused(root)
    assert error is not None
    assert error.message == f"{root / 'reprobox.toml'}: command: {message}"
    assert error.hint == hint


def test_a_script_under_app_that_the_image_leaves_out_is_named_as_written(
    tmp_path,
):
    files = {"train.py": "1\n", ".reproboxignore": "train.py\n"}
    error = refused(project(tmp_path, "python /app/./train.py", files))
    assert error is not None
    assert error.message == (
        f"{tmp_path / 'reprobox.toml'}: command: runs '/app/./train.py' (the "
        "project's 'train.py'), which is not copied into the image "
        "(.reproboxignore leaves it out), so the run could not start it"
    )


def test_a_python_run_app_folder_is_taken(tmp_path):
    assert refused(project(tmp_path, "python /app", {"__main__.py": "1\n"})) is None


@pytest.mark.parametrize(
    ("command", "detour", "fix"),
    [
        # brk r38 (BA 2): a folder outside /app may not be in the base image.
        (
            "python /nonexist/../app/train.py",
            "/nonexist",
            "'/app/train.py' or 'train.py'",
        ),
        ("python /tmp/../app/train.py", "/tmp", "'/app/train.py' or 'train.py'"),
        ("python /tmp/../app/nope.py", "/tmp", "'/app/nope.py' or 'nope.py'"),
        ("python /usr/lib/../../app/train.py", "/usr", "'/app/train.py' or 'train.py'"),
        ("python /app/../tmp/../app/train.py", "/tmp", "'/app/train.py' or 'train.py'"),
        ("python ../tmp/../app/src/x.py", "/tmp", "'/app/src/x.py' or 'src/x.py'"),
        (
            ["sh", "-c", "python /tmp/../app/train.py"],
            "/tmp",
            "'/app/train.py' or 'train.py'",
        ),
    ],
)
def test_a_path_into_app_through_a_folder_outside_it_is_refused(
    tmp_path, command, detour, fix
):
    written = (command if isinstance(command, str) else command[2]).split()[-1]
    error = refused(project(tmp_path, command, {"train.py": "1\n"}))
    assert error is not None
    assert error.message == (
        f"{tmp_path / 'reprobox.toml'}: command: runs {written!r}, which goes "
        f"through {detour!r}, a folder outside /app, before it enters /app: "
        "whether the image has that folder is not known here, so the run might "
        "not start it"
    )
    assert error.hint == f"write {fix} in command"


def _linked_folders(root: Path) -> None:
    for name in ("sub", "ign"):
        (root / name).mkdir()
        (root / name / "t.py").write_text("print(1)\n")
    (root / "lnk").symlink_to("sub")
    (root / "lnkign").symlink_to("ign")
    (root / ".reproboxignore").write_text("ign/\n")


@pytest.mark.parametrize("command", ["python lnk/t.py", "python /app/lnk/t.py"])
def test_a_script_reached_through_a_linked_folder_is_taken(tmp_path, command):
    # brk r39 (BB 1): lnk -> sub, sub/t.py in the image: freeze refused
    # 'lnk/t.py' as "not copied into the image (it reads as a credential file)".
    project(tmp_path, command, {})
    _linked_folders(tmp_path)
    assert refused(tmp_path) is None


def test_a_script_through_a_link_into_a_left_out_folder_names_where_it_leads(
    tmp_path,
):
    # The reason is the file the link leads to: .reproboxignore leaves it out.
    project(tmp_path, "python lnkign/t.py", {})
    _linked_folders(tmp_path)
    error = refused(tmp_path)
    assert error is not None
    assert error.message.endswith(
        "command: runs 'lnkign/t.py', which leads to 'ign/t.py', a file not copied "
        "into the image (.reproboxignore leaves it out), so the run could not "
        "start it"
    )
    assert error.hint == "remove the .reproboxignore line that matches it"
