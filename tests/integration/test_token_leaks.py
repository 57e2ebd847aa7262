"""Tokens of published formats reach no frozen file, label, layer or history.

The sleeper project, copied under a unique name, is given one way each for a
token to slip in (round 33): tar archives holding a token file, a .netrc or a
key; a token as an [env] name, a metric name, and in an index URL's path. An
archive must stay out of the image (the token is in no file of `docker save`);
a config that carries a token is refused at freeze, exit 2, nothing written.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from conftest import TEST_PROJECTS
from test_secrets import saved_image_hits

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# Made up for this test: the shape of a GitHub token.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
NETRC_PASSWORD = "Zx81kQ93mWnetrcpw"


def _tar(path: Path, members: dict[str, str], mode: str) -> None:
    with tarfile.open(path, mode) as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _sleeper(cli, tmp_path, engine_cleanup) -> tuple[Path, str]:
    path, name = cli.copy_project(TEST_PROJECTS / "sleeper", tmp_path, "sleeper")
    engine_cleanup.add(name)
    return path, name


def test_tars_of_credentials_stay_out_of_the_image(
    cli, tmp_path, engine_cleanup, docker_client
):
    path, _ = _sleeper(cli, tmp_path, engine_cleanup)
    _tar(path / "backup.tar", {"cfg/gh.txt": TOKEN + "\n"}, "w")
    _tar(
        path / "home.tgz",
        {"u/.netrc": f"machine h login u password {NETRC_PASSWORD}"},
        "w:gz",
    )
    _tar(path / "samples.tar.xz", {"s/0.txt": "a cat sat\n"}, "w:xz")
    cli.run("-q", "freeze", str(path), timeout=600)
    built = json.loads(cli.run("build", str(path), "--json", timeout=600).stdout)

    wanted = {
        "token": TOKEN.encode(),
        "backup.tar": b"backup.tar",
        "home.tgz": b"home.tgz",
        "ordinary archive": b"samples.tar.xz",
    }
    found, files = saved_image_hits(docker_client, built["image_id"], wanted)
    assert files > 10
    # The ordinary archive is found: the search reads the project's layer.
    assert [hit for hit in found if not hit.startswith("ordinary archive")] == []
    assert any(hit.startswith("ordinary archive in layer") for hit in found)
    image = docker_client.images.get(built["image_id"])
    history = json.dumps(docker_client.api.history(image.id))
    assert TOKEN not in json.dumps(image.attrs) and TOKEN not in history


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (f'\n[env]\n{TOKEN} = "1"\n', "env.ghp_*** (40 characters)"),
        (f'\n[metrics]\ncompare = ["{TOKEN}"]\n', "metrics.compare[0]"),
        # Round 34: a token after - or + was no token (its shape allows neither).
        (f'\n[metrics]\ncompare = ["m-{TOKEN}"]\n', "metrics.compare[0]"),
        (f'\n[metrics]\ncompare = ["x+{TOKEN}-y"]\n', "metrics.compare[0]"),
    ],
)
def test_a_config_carrying_a_token_is_refused_writing_nothing(
    cli, tmp_path, engine_cleanup, extra, named
):
    path, _ = _sleeper(cli, tmp_path, engine_cleanup)
    config = path / "reprobox.toml"
    config.write_text(config.read_text() + extra)
    result = cli.run("-q", "freeze", str(path), timeout=600, check=False)
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith(f"reprobox: error: {config}: "), result.describe()
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert TOKEN not in result.stdout + result.stderr
    assert not (path / ".reprobox").exists()


@pytest.mark.parametrize("escaped", [False, True, "twice"])
def test_a_token_in_an_index_url_path_is_refused(
    cli, tmp_path, engine_cleanup, escaped
):
    # brk r43 (BG 4): percent-escaped (%67hp_...), the token went through.
    path, _ = _sleeper(cli, tmp_path, engine_cleanup)
    config = path / "reprobox.toml"
    # brk r44 (BI 5): escaped twice (%2567hp_...), it passed the check.
    prefix = {False: "", True: "%", "twice": "%25"}[escaped]
    written = f"{prefix}{ord(TOKEN[0]):x}{TOKEN[1:]}" if escaped else TOKEN
    url = f"https://127.0.0.1/{written}/simple/"
    config.write_text(config.read_text() + f'index_url = "{url}"\n')
    result = cli.run("-q", "freeze", str(path), timeout=600, check=False)
    assert result.returncode == 2, result.describe()
    assert f"{config}: packages.index_url: holds a token" in result.stderr
    assert "write ${NAME}" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert written not in result.stdout + result.stderr
    assert not (path / ".reprobox").exists()


def test_no_refusal_or_progress_line_shows_a_token(cli, tmp_path, engine_cleanup):
    # Round 34 (AR 4): `name = "ghp_..."` was refused with the fix
    # `use name = "ghp-..."`, and a requirements file named after a token was
    # shown in the progress line.
    path, _ = _sleeper(cli, tmp_path, engine_cleanup)
    config = path / "reprobox.toml"
    plain = config.read_text()
    config.write_text(f'name = "{TOKEN}"\n' + plain.replace("name = ", "# name = "))
    named = cli.run("freeze", str(path), timeout=600, check=False)
    assert named.returncode == 2, named.describe()
    assert "looks like a token of a published format" in named.stderr
    assert TOKEN[4:].lower() not in (named.stdout + named.stderr).lower()
    (path / f"{TOKEN}.txt").write_text("six\n")
    config.write_text(plain.replace('"requirements.txt"', f'"{TOKEN}.txt"'))
    listed = cli.run("freeze", str(path), "--dry-run", timeout=600, check=False)
    assert "ghp_***.txt" in listed.stderr, listed.describe()
    assert TOKEN not in listed.stdout + listed.stderr
