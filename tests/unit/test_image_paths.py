"""A script path is followed through the image's files as the system would."""

from __future__ import annotations

import pytest

from reprobox.image_paths import missing_script, reaches_in_image


@pytest.mark.parametrize(
    ("written", "kept", "end"),
    [
        ("train.py", {"train.py"}, "train.py"),
        ("./src/../train.py", {"train.py", "src/a.py"}, "train.py"),
        ("src/../train.py", {"train.py"}, None),  # src holds nothing kept
        ("train.py/", {"train.py"}, None),
        ("train.py/..", {"train.py"}, None),
        ("../train.py", {"train.py"}, None),
        # /app/.. is /, and /.. too: only "app" from there is back in /app.
        ("../app/train.py", {"train.py"}, "train.py"),
        ("..//./../app/train.py", {"train.py"}, "train.py"),
        ("sub/../../app/train.py", {"train.py", "sub/a.py"}, "train.py"),
        ("sub/../../app/train.py", {"train.py"}, None),
        ("../etc/train.py", {"train.py", "etc/train.py"}, None),
        ("pkg", {"pkg/__main__.py"}, "pkg/__main__.py"),
        ("pkg/", {"pkg/__main__.py"}, "pkg/__main__.py"),
        ("pkg", {"pkg/x.py"}, None),
    ],
)
def test_reaches_in_image_follows_the_path_as_the_system_would(
    tmp_path, written, kept, end
):
    assert reaches_in_image(tmp_path, written, kept) == end


def test_a_dot_dot_after_a_link_climbs_from_where_the_link_points(tmp_path):
    # link/../.. is a/b/../.., the project folder: "app" after it is app/x.py.
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to("a/b")
    kept = {"link", "a/b/y.py", "a/x.py", "x.py"}
    assert reaches_in_image(tmp_path, "link/../../app/x.py", kept) is None
    assert reaches_in_image(tmp_path, "link/../../x.py", kept) == "x.py"
    assert reaches_in_image(tmp_path, "link/../x.py", kept) == "a/x.py"


@pytest.mark.parametrize(
    "rel, there",
    [
        ("../app/train.py", None),
        ("../../app/./train.py", None),
        ("../app/nope.py", "nothing"),
        ("../etc/train.py", "outside"),
        ("gone/../train.py", "not as written"),
    ],
)
def test_missing_script_reads_dot_dot_app_as_the_project_folder(tmp_path, rel, there):
    (tmp_path / "train.py").write_text("1\n")
    assert missing_script(tmp_path, rel) == there
