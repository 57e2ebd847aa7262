"""A token filled into an index URL's path is shown as *** like one in its user."""

from __future__ import annotations

from pathlib import Path

from reprobox.config import load_config
from reprobox.freeze import expanded_indexes, index_reference_values
from reprobox.lock import PackageIndexes

TOKEN = "brkaPATHTOK/+x"


def project(tmp_path: Path, urls: str) -> Path:
    (tmp_path / "reprobox.toml").write_text(
        f'command = "python train.py"\n[packages]\nextra_index_urls = [{urls}]\n'
    )
    return tmp_path


def indexes_of(tmp_path, urls, environ):
    cfg = load_config(project(tmp_path, urls))
    hidden = index_reference_values(cfg, environ)
    return PackageIndexes(*expanded_indexes(cfg, environ), hidden)


def test_a_path_token_is_hidden_in_the_manifest_and_warnings(tmp_path):
    environ = {"FURY": TOKEN}
    indexes = indexes_of(tmp_path, '"http://127.0.0.1:18731/${FURY}/simple/"', environ)
    assert indexes.extra_index_urls == (f"http://127.0.0.1:18731/{TOKEN}/simple/",)
    assert indexes.redacted() == {
        "extra_index_urls": ["http://127.0.0.1:18731/***/simple/"],
        "index_url": None,
    }
    (warning,) = indexes.loopback_warnings()
    assert TOKEN not in warning
    assert TOKEN not in repr(indexes)
    assert indexes.scrub(f"error: GET http://127.0.0.1:18731/{TOKEN}/simple/six") == (
        "error: GET http://127.0.0.1:18731/***/simple/six"
    )


def test_a_user_token_is_hidden_in_its_quoted_form_too(tmp_path):
    environ = {"PYPI_TOKEN": TOKEN}
    indexes = indexes_of(
        tmp_path, '"https://__token__:${PYPI_TOKEN}@h.example/simple/"', environ
    )
    assert indexes.redacted()["extra_index_urls"] == ["https://***@h.example/simple/"]
    assert "brkaPATHTOK" not in indexes.scrub(str(indexes.extra_index_urls))


def test_urls_without_references_are_shown_as_before(tmp_path):
    indexes = indexes_of(tmp_path, '"https://h.example/simple/"', {"X": "simple"})
    assert indexes.hidden == ()
    assert indexes.redacted()["extra_index_urls"] == ["https://h.example/simple/"]
