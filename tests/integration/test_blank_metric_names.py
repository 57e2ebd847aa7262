"""A blank metric name is refused at freeze, not by every command after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PROJECT_LABEL = "org.reprobox.project"
SLEEPER = Path(__file__).resolve().parent / "projects" / "sleeper"


@pytest.mark.parametrize(
    ("metrics", "key"),
    [
        ('[metrics]\ncompare = [" "]\n', "metrics.compare"),
        ('[metrics]\ncompare = ["\\t"]\n', "metrics.compare"),
        ('[metrics.tolerances]\n" " = { abs = 0.1 }\n', "metrics.tolerances"),
    ],
)
def test_freeze_refuses_a_blank_metric_name_and_writes_nothing(
    cli, tmp_path, engine_cleanup, docker_client, metrics, key
):
    # brk 37 #2: freeze took compare = [" "]; build, run and push then refused
    # the manifest and said to freeze again, which wrote the same: a loop.
    path, name = cli.copy_project(SLEEPER, tmp_path, "sleeper")
    engine_cleanup.add(name)
    config = path / "reprobox.toml"
    config.write_text(config.read_text() + metrics)

    froze = cli.run("freeze", str(path), check=False)
    assert froze.returncode == 2, froze.describe()
    assert "Traceback" not in froze.stderr
    [line] = froze.stderr.strip().splitlines()
    assert line.startswith(f"reprobox: error: {config}: {key}: "), line
    assert "is a blank metric name (name a metric, e.g. " in line
    assert not (path / ".reprobox").exists()

    built = cli.run("build", str(path), "--json", check=False)
    assert built.returncode == 2, built.describe()
    assert "Traceback" not in built.stderr
    made = docker_client.images.list(filters={"label": f"{PROJECT_LABEL}={name}"})
    assert made == [], json.dumps([image.tags for image in made])
