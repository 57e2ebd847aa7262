"""A command's script path is judged against what the image holds, as run finds it.

The image gets files, not folders: a folder on the way that holds no file the
image gets is not in /app, so `python sub/../train.py` cannot start there even
though the project folder has sub/. freeze must refuse exactly what the
container cannot open, and take what it can.
"""

from __future__ import annotations

import pytest
from conftest import TEST_PROJECTS


def _set_command(project, command: str) -> None:
    config = project / "reprobox.toml"
    text = config.read_text().replace(
        'command = "python train.py"', f"command = {command!r}", 1
    )
    config.write_text(text)


def _runs_to_its_end(cli, project) -> None:
    """Run project once; its one run must start the script and finish it."""
    done = cli.run(
        "-q",
        "run",
        str(project),
        "--env",
        "SLEEPER_SECONDS=0",
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    logs = list((project / ".reprobox" / "runs").glob("*/container.log"))
    assert len(logs) == 1 and "sleeper done" in logs[0].read_text()


@pytest.mark.integration
def test_a_path_through_a_folder_the_image_holds_runs(cli, engine_cleanup, tmp_path):
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (project / "src").mkdir()
    (project / "src" / "helpers.py").write_text("X = 1\n")
    _set_command(project, "python ./src/../train.py")
    cli.run("-q", "freeze", str(project), timeout=600)
    _runs_to_its_end(cli, project)


@pytest.mark.integration
def test_a_path_through_a_folder_the_image_lacks_is_refused_at_freeze(cli, tmp_path):
    project, _ = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    (project / "sub").mkdir()  # empty: the image gets no sub/
    _set_command(project, "python sub/../train.py")
    done = cli.run("-q", "freeze", str(project), timeout=600, check=False)
    assert done.returncode == 2
    assert (
        "command: runs 'sub/../train.py', which the image would not reach"
        in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert not (project / ".reprobox" / "manifest.json").exists()


@pytest.mark.integration
def test_an_app_path_through_a_folder_the_image_lacks_is_refused_at_freeze(
    cli, tmp_path
):
    # brk r38 (BA 2): /app/sub/../train.py was tidied to train.py, so freeze
    # took it; the run then failed, "can't open file '/app/sub/../train.py'".
    project, _ = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    (project / "sub").mkdir()  # empty: the image gets no sub/
    _set_command(project, "python /app/sub/../train.py")
    done = cli.run("-q", "freeze", str(project), timeout=600, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert (
        "command: runs '/app/sub/../train.py' (the project's 'train.py'), which "
        "the image would not reach" in lines[0]
    )
    assert not (project / ".reprobox").exists()


@pytest.mark.integration
def test_an_app_path_that_leaves_app_and_comes_back_runs(cli, engine_cleanup, tmp_path):
    # /app/.. is /: the run opens /app/train.py, so freeze must take it.
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    _set_command(project, "python /app/../app/train.py")
    cli.run("-q", "freeze", str(project), timeout=600)
    _runs_to_its_end(cli, project)


@pytest.mark.integration
def test_a_script_reached_through_a_linked_folder_runs(cli, engine_cleanup, tmp_path):
    # brk r39 (BB 1): lnk -> src: freeze refused 'lnk/train.py' as "not copied
    # into the image (it reads as a credential file)"; the image holds the link
    # and src/train.py, so the run opens it.
    project, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    (project / "src").mkdir()
    (project / "src" / "train.py").write_text((project / "train.py").read_text())
    (project / "lnk").symlink_to("src")
    _set_command(project, "python lnk/train.py")
    cli.run("-q", "freeze", str(project), timeout=600)
    _runs_to_its_end(cli, project)
