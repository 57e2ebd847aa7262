"""A script's last output without a newline reaches the log, the record and
the terminal, however soon the container ends after printing it.

The engine's follow stream can end before the log driver keeps a last piece
with no newline; a run reads the engine's log again once the container has
stopped. Each case runs several times, since the loss was a race.
"""

from __future__ import annotations

import json
import secrets

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TRIES = 5
FINAL = "ERROR: final words"
TOKEN = "tok-5f0c9e1d2b3a4f5e"
SCRIPT = """\
import os, sys

stream = sys.stderr if os.environ.get("LAST_STREAM") == "stderr" else sys.stdout
print("first line", flush=True)
stream.write("ERROR: final words")
stream.flush()
if os.environ.get("API_TOKEN"):  # a secret split over two writes, at the very end
    token = os.environ["API_TOKEN"]
    stream.write(" " + token[:7])
    stream.flush()
    stream.write(token[7:])
    stream.flush()
sys.exit(int(os.environ["LAST_EXIT"]))
"""


@pytest.fixture(scope="module")
def last_words_project(tmp_path_factory, cli, engine_cleanup):
    """Return a built project whose script ends its output with no newline."""
    name = engine_cleanup.add(f"last-words-it-{secrets.token_hex(3)}")
    project = tmp_path_factory.mktemp("last-words") / name
    project.mkdir()
    (project / "reprobox.toml").write_text(
        f'name = "{name}"\ncommand = "python train.py"\npython = "3.11"\n'
        f'base_image = "{cli.base_image}"\n'
    )
    (project / "requirements.txt").write_text("six==1.17.0\n")
    (project / "train.py").write_text(SCRIPT)
    cli.run("freeze", str(project), timeout=300)
    cli.run("build", str(project), timeout=600)
    return project


def _run_case(cli, project, *env: str):
    """Run the script TRIES times; return (result, log, record) of each."""
    runs = []
    folder = project / ".reprobox" / "runs"
    for _ in range(TRIES):
        before = set(folder.glob("*/record.json"))
        args = ["run", str(project)]
        for item in env:
            args += ["--env", item]
        result = cli.run(*args, check=False, timeout=300)
        [made] = set(folder.glob("*/record.json")) - before
        record = json.loads(made.read_text())
        log = (made.parent / "container.log").read_text()
        runs.append((result, log, record))
    return runs


@pytest.mark.parametrize("secret", [False, True], ids=["plain", "secret"])
def test_a_failing_scripts_last_stdout_piece_is_kept(cli, last_words_project, secret):
    env = ["LAST_STREAM=stdout", "LAST_EXIT=1"]
    end = FINAL
    if secret:
        env.append(f"API_TOKEN={TOKEN}")
        end = FINAL + " ***"

    runs = _run_case(cli, last_words_project, *env)

    logs = [log for _, log, _ in runs]
    tails = [record["error"]["log_tail"] for _, _, record in runs]
    assert [record["status"] for _, _, record in runs] == ["failed"] * TRIES
    assert logs == [f"first line\n{end}"] * TRIES, logs
    assert tails == [f"first line\n{end}"] * TRIES, tails
    for result, _, _ in runs:
        assert f"\n{end}\n" in result.stderr, result.describe()
        assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("secret", [False, True], ids=["plain", "secret"])
def test_a_succeeding_scripts_last_stderr_piece_is_kept(
    cli, last_words_project, secret
):
    env = ["LAST_STREAM=stderr", "LAST_EXIT=0"]
    end = FINAL
    if secret:
        env.append(f"API_TOKEN={TOKEN}")
        end = FINAL + " ***"

    runs = _run_case(cli, last_words_project, *env)

    logs = [log for _, log, _ in runs]
    assert [record["status"] for _, _, record in runs] == ["succeeded"] * TRIES
    assert logs == [f"first line\n{end}"] * TRIES, logs
    for result, _, _ in runs:
        assert result.returncode == 0, result.describe()
        assert f"\n{end}\n" in result.stderr, result.describe()
        assert TOKEN not in result.stdout + result.stderr
