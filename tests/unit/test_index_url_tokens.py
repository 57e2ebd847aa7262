"""Index URLs: no token written anywhere in them, no credential too short to hide."""

from __future__ import annotations

import pytest

from reprobox.config import load_config
from reprobox.errors import ConfigError
from reprobox.freeze import expanded_indexes, index_reference_values
from reprobox.index_urls import shown_url
from reprobox.lock import PackageIndexes
from reprobox.lock.indexes import BuildSecrets
from reprobox.lock.lockfile import check_lock_is_portable

# Made up for these tests: the shapes of GitHub and Hugging Face tokens.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
HF = "hf_" + "Qm3Zx81kW9" * 3
LOCK = (
    "numpy==2.1.0 ; platform_machine == 'x86_64' \\\n"
    "    --hash=sha256:" + "a" * 64 + "\n"
)


def project(tmp_path, key: str, url: str):
    value = f'["{url}"]' if key == "extra_index_urls" else f'"{url}"'
    (tmp_path / "reprobox.toml").write_text(
        f'command = "python train.py"\n[packages]\n{key} = {value}\n'
    )
    return tmp_path


@pytest.mark.parametrize("key", ["index_url", "extra_index_urls"])
@pytest.mark.parametrize(
    "url",
    [
        f"https://127.0.0.1/{TOKEN}/simple/",
        f"https://pypi.fury.io/{HF}/acct/",
        f"https://idx.example/simple/?t={TOKEN}",
        f"https://idx.example/simple/#{TOKEN}",
        # brk r43 (BG 4): percent-escaped, ghp_ read %67hp_ and went through.
        f"https://127.0.0.1:1/%67hp_{TOKEN[4:]}/simple/",
        f"https://127.0.0.1:1/%68%66_{HF[3:]}/simple/",
        # brk r44 (BI 5): escaped twice, %2567hp_ passed the check.
        f"https://127.0.0.1:1/%2567hp_{TOKEN[4:]}/simple/",
    ],
)
def test_a_token_anywhere_in_an_index_url_is_refused(tmp_path, key, url):
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path, key, url))
    text = f"{info.value} {info.value.hint}"
    assert f"packages.{key}: holds a token of a published format" in text
    assert "put it in an environment variable and write ${NAME}" in text
    assert TOKEN not in text and HF not in text


def test_the_same_token_from_a_reference_is_accepted_and_hidden(tmp_path):
    url = "https://127.0.0.1/${IDX_TOKEN}/simple/"
    cfg = load_config(project(tmp_path, "extra_index_urls", url))
    environ = {"IDX_TOKEN": TOKEN}
    indexes = PackageIndexes(
        *expanded_indexes(cfg, environ), index_reference_values(cfg, environ)
    )
    assert indexes.redacted()["extra_index_urls"] == ["https://127.0.0.1/***/simple/"]


def test_an_error_that_shows_an_index_url_hides_a_token_in_its_path():
    assert shown_url(f"https://h/{TOKEN}/simple/") == "https://h/***/simple/"


def test_a_credential_too_short_to_hide_is_refused_naming_it(tmp_path):
    url = "https://__token__:${DPTOK}@127.0.0.1:9/simple/"
    cfg = load_config(project(tmp_path, "extra_index_urls", url))
    with pytest.raises(ConfigError) as info:
        expanded_indexes(cfg, {"DPTOK": "x"})
    assert str(info.value).startswith(
        f"{cfg.source}: index URL needs ${{DPTOK}}, which holds only 1 "
        "character(s): a credential that short cannot be told apart from "
        "ordinary text in the lock and messages (export DPTOK with the whole "
        "token (8 characters or more)"
    )


def test_a_credential_of_the_shortest_length_is_hidden_and_found(tmp_path):
    url = "https://__token__:${DPTOK}@127.0.0.1:9/simple/"
    cfg = load_config(project(tmp_path, "extra_index_urls", url))
    value = "k" * 8  # the shortest accepted
    _, extra = expanded_indexes(cfg, {"DPTOK": value})
    secrets = BuildSecrets({"pip_extra_index_url": extra[0]})
    check_lock_is_portable(LOCK, secrets)  # the value is nowhere in it
    assert secrets.contains_in(LOCK + f"# {value}\n") == ["pip_extra_index_url"]
