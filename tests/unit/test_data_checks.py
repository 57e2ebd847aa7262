"""Data entries that name what the image must hold are refused."""

from __future__ import annotations

import pytest

from reprobox.command_words import (
    ScriptPath,
    command_files,
    command_paths,
    command_scripts,
)
from reprobox.config import load_config
from reprobox.errors import ConfigError


@pytest.mark.parametrize(
    "command, files",
    [
        (["python", "train.py"], ["train.py"]),
        (
            ["python3.11", "-u", "-W", "ignore", "src/../train.py", "--epochs", "3"],
            ["train.py"],
        ),
        (["python", "-m", "pkg.train"], ["pkg/train.py", "pkg/train/__main__.py"]),
        (["python", "-mtrainer"], ["trainer.py", "trainer/__main__.py"]),
        (["python", "-c", "import x"], []),
        (["/usr/bin/env", "-u", "B", "A=1", "python", "fit.py"], ["fit.py"]),
        # env ends its options at the first NAME=value: it would run "-u".
        (["env", "A=1", "-u", "B", "python", "fit.py"], []),
        (["bash", "run.sh", "x.py"], ["run.sh"]),
        # bw 3: the first command of a -c string, and what launchers start.
        (["sh", "-c", "python train.py"], ["train.py"]),
        (["bash", "-lc", "python -u fit.py | tee log"], ["fit.py"]),
        (["sh", "-c", "cd src && python train.py"], []),  # relative to src/
        (["sh", "-c", "'unclosed"], []),
        (["accelerate", "launch", "--config_file", "a.yaml", "train.py"], ["train.py"]),
        (["torchrun", "--nproc_per_node=2", "train.py", "--lr", "x.py"], ["train.py"]),
        (
            ["python", "-m", "torch.distributed.run", "--nproc_per_node", "2", "t.py"],
            ["t.py"],
        ),
        (["./run.sh", "train.py"], ["run.sh"]),
        (["python", "/abs/train.py"], []),
        (["make", "train"], []),
        # Options read as Python and the shells read them, not as scripts.
        (["python", "-uc", "import x"], []),
        (["python", "-Wignore", "-Xdev", "t.py"], ["t.py"]),
        (["python", "-um", "pkg"], ["pkg.py", "pkg/__main__.py"]),
        (["python", "--check-hash-based-pycs", "never", "t.py"], ["t.py"]),
        (["python", "--", "t.py"], ["t.py"]),
        (["python", "-"], []),
        (["bash", "-o", "pipefail", "-e", "run.sh"], ["run.sh"]),
        (["bash", "+o", "posix", "--rcfile", "rc.sh", "run.sh"], ["run.sh"]),
        (["sh", "-s", "arg.sh"], []),
        (["bash", "-e", "-c", "python t.py"], ["t.py"]),
        (["accelerate", "launch", "-m", "pkg.train", "--out", "x.py"], []),
    ],
)
def test_the_files_a_command_runs_are_read_from_its_words(command, files):
    assert command_files(command) == files


@pytest.mark.parametrize(
    "command, scripts",
    [
        (["python", "src/train.py"], ["src/train.py"]),
        (["./run.sh"], ["run.sh"]),
        (["torchrun", "--nproc_per_node", "2", "t.py"], ["t.py"]),
        # Found on sys.path or PATH, or named by what a shell would expand.
        (["python", "-m", "pkg.train"], []),
        (["train.py", "--fast"], []),
        (["python", "$SCRIPT"], []),
        (["sh", "-c", "python train_*.py"], []),
        (["sh", "-c", "python `which t.py`"], []),
    ],
)
def test_the_scripts_a_command_runs_by_path_leave_out_modules_and_programs(
    command, scripts
):
    assert command_scripts(command) == scripts


@pytest.mark.parametrize(
    "word, rel, project",
    [
        # brk r38 (BA 2): the parts after /app stay as written, for the walk
        # through the image's files; only project is tidied.
        ("/app/sub/../train.py", "sub/../train.py", "train.py"),
        ("//app/x.py", "x.py", "x.py"),
        ("/app//x.py", "x.py", "x.py"),
        ("/app/./x.py", "./x.py", "x.py"),
        ("/./app/x.py/", "x.py/", "x.py"),
        ("/app", ".", "."),
        ("/app/../app/x.py", "../app/x.py", "x.py"),
        ("/../app/x.py", "x.py", "x.py"),
        ("sub/../train.py", "sub/../train.py", "train.py"),
        ("../app/x.py", "../app/x.py", "x.py"),
        ("../x.py", "../x.py", "../x.py"),  # out of the project: refused apart
    ],
)
def test_a_script_path_keeps_its_parts_from_where_it_enters_app(word, rel, project):
    assert command_paths(["python", word]) == [ScriptPath(word, rel, project, True)]


@pytest.mark.parametrize(
    "word, detour",
    [
        ("/tmp/../app/x.py", "/tmp"),
        ("/nonexist/../app/train.py", "/nonexist"),
        ("/app/../opt/data/../../app/x.py", "/opt"),
        ("../tmp/../app/x.py", "/tmp"),
    ],
)
def test_a_path_into_app_through_another_folder_names_that_folder(word, detour):
    assert command_paths(["python", word]) == [ScriptPath(word, "", "", True, detour)]
    assert command_files(["python", word]) == []


@pytest.mark.parametrize(
    "word",
    ["/app/../etc/x.py", "/opt/x.py", "/", "/tmp/../x.py", "/app/../tmp/../x.py"],
)
def test_a_path_that_ends_outside_app_is_a_file_of_the_image(word):
    assert command_paths(["python", word]) == []


def _project(tmp_path, config: str, files=("train.py", "requirements.txt")):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    (tmp_path / "reprobox.toml").write_text(config)
    return tmp_path


@pytest.mark.parametrize(
    "config, entry, what",
    [
        (
            'command = "python train.py"\ndata = ["train.py"]\n',
            "train.py",
            "the command's script",
        ),
        (
            'command = ["python", "-m", "pkg.fit"]\ndata = ["pkg/fit.py"]\n',
            "pkg/fit.py",
            "the command's script",
        ),
        (
            'command = "python train.py"\ndata = ["./requirements.txt"]\n',
            "requirements.txt",
            "the requirements file the lock is made from",
        ),
    ],
)
def test_a_data_entry_the_image_must_hold_is_refused(tmp_path, config, entry, what):
    root = _project(tmp_path, config, ("train.py", "requirements.txt", "pkg/fit.py"))
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert caught.value.message == (
        f"{root / 'reprobox.toml'}: data: {entry!r} is {what}; data files are "
        "mounted at run time and left out of the image, so the image would not "
        "hold it"
    )
    assert caught.value.hint == (
        f"remove {entry!r} from data: it goes into the image by itself"
    )


def test_data_beside_the_script_and_in_a_module_folder_is_kept(tmp_path):
    root = _project(
        tmp_path,
        'command = ["python", "-m", "pkg.fit"]\ndata = ["pkg/weights.csv", "x.csv"]\n',
        ("pkg/fit.py", "pkg/weights.csv", "x.csv", "requirements.txt"),
    )
    assert load_config(root).data == ("pkg/weights.csv", "x.csv")
