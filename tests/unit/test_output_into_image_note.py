"""The note that a file reprobox writes into a project goes into its image.

report, export and verify's record share it. A file already at the path is
about to be replaced: what it holds must not decide the note. An earlier
bundle that held a key (an image's own test keys do) was taken for a
credential file, so a second export into the project said nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobox import cli
from reprobox.cli import warn_if_it_enters_an_image

# Split so that this file is no key-shaped text itself.
KEY_BYTES = b"-----BEGIN RSA " + b"PRIVATE KEY-----\nMIIB\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "reprobox.toml").write_text('command = "python t.py"\n')
    monkeypatch.chdir(root)
    monkeypatch.setitem(cli._state, "quiet", False)
    return root


def goes_in(root) -> str:
    return (
        f"reprobox: warning: bundle.tar is inside project {root}: the next build "
        "copies it into the image, under a new tag; write it outside the project "
        "or under .reprobox/, or list it in .reproboxignore\n"
    )


def test_an_earlier_bundle_holding_a_key_does_not_silence_the_note(project, capsys):
    (project / "bundle.tar").write_bytes(b"\0" * 512 + KEY_BYTES)
    warn_if_it_enters_an_image(Path("bundle.tar"))
    assert capsys.readouterr().err == goes_in(project)


def test_a_written_file_holding_a_key_is_said_to_be_left_out_only_by_that(
    project, capsys
):
    (project / "bundle.tar").write_bytes(b"\0" * 512 + KEY_BYTES)
    warn_if_it_enters_an_image(Path("bundle.tar"), written=True)
    assert capsys.readouterr().err == (
        f"reprobox: warning: bundle.tar is inside project {project}: the next "
        "build leaves it out of the image, but only because something in it reads "
        "as a credential (see `reprobox freeze` for what); a bundle without one "
        "would go into the image, under a new tag; write it outside the project "
        "or under .reprobox/, or list it in .reproboxignore\n"
    )


def test_a_written_plain_file_goes_into_the_image(project, capsys):
    (project / "bundle.tar").write_bytes(b"\0" * 1024)
    warn_if_it_enters_an_image(Path("bundle.tar"), written=True)
    assert capsys.readouterr().err == goes_in(project)


@pytest.mark.parametrize("written", [False, True])
def test_an_ignored_place_gets_no_note(project, capsys, written):
    (project / ".reproboxignore").write_text("*.tar\n")
    (project / "bundle.tar").write_bytes(b"\0" * 1024)
    warn_if_it_enters_an_image(Path("bundle.tar"), written=written)
    (project / ".reprobox").mkdir()
    warn_if_it_enters_an_image(Path(".reprobox/bundle.tar"), written=written)
    assert capsys.readouterr().err == ""


def test_the_warning_shows_under_quiet_too(project, capsys, monkeypatch):
    # AN 4: `-q export -o bundle.tar` into the project said nothing, yet the
    # next build took the bundle into the image under a new tag.
    monkeypatch.setitem(cli._state, "quiet", True)
    warn_if_it_enters_an_image(Path("bundle.tar"))
    assert capsys.readouterr().err == goes_in(project)


def test_a_stand_in_path_is_judged_but_the_shown_one_is_named(project, capsys):
    # AQ 11: verify --runs-dir named <runs-dir>/record.json, a file it never
    # writes; the rerun's record goes to <runs-dir>/<run id>/record.json.
    warn_if_it_enters_an_image(
        Path("vout/run/record.json"), shown="vout/<run id>/record.json"
    )
    said = capsys.readouterr().err
    assert said.startswith(
        f"reprobox: warning: vout/<run id>/record.json is inside project {project}: "
        "the next build copies it into the image"
    )
