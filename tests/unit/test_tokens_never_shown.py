"""reprobox never shows a published token on stderr, nor a form made of it.

Refusals quoted what the user wrote: `name = "ghp_..."` was refused as having
capitals with the fix `use name = "ghp-..."` (the token lower-cased), and a
requirements file named after one was shown in the progress line (breaker AR,
round 34). Every stderr line now goes out with such tokens cut to ghp_***.
"""

from __future__ import annotations

import pytest

from reprobox import cli
from reprobox.config import load_config
from reprobox.credential_lines import hide_published_tokens
from reprobox.errors import ConfigError

# Made up for these tests: the shape of a GitHub token.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"


def test_a_token_in_a_line_is_cut_to_its_prefix():
    assert hide_published_tokens(f"freezing /p ({TOKEN}.txt)") == (
        "freezing /p (ghp_***.txt)"
    )
    assert hide_published_tokens("no token here, 0123456789abcdef0123") == (
        "no token here, 0123456789abcdef0123"
    )


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_warnings_and_errors_hide_it(capsys, monkeypatch, quiet):
    monkeypatch.setitem(cli._state, "quiet", quiet)
    cli.say(f"freezing /p ({TOKEN}.txt)")
    cli.warn(f"image 127.0.0.1:5000/{TOKEN}:1 is odd")
    said = capsys.readouterr().err
    assert TOKEN not in said
    assert "127.0.0.1:5000/ghp_***:1" in said


@pytest.mark.parametrize("where", ["name key", "folder"])
def test_a_token_as_the_project_name_is_refused_offering_no_form_of_it(tmp_path, where):
    root = tmp_path / (TOKEN if where == "folder" else "p")
    root.mkdir()
    name = f'name = "{TOKEN}"\n' if where == "name key" else ""
    (root / "reprobox.toml").write_text(name + 'command = "python t.py"\n')
    with pytest.raises(ConfigError) as info:
        load_config(root)
    said = info.value.message + info.value.hint
    assert "looks like a token of a published format" in said
    # The config's path names the folder (stderr cuts it to ghp_***); nothing
    # else may hold the token, or the name made of it by lower-casing.
    rest = said.replace(str(root), "")
    assert TOKEN[4:].lower() not in rest.lower()
