"""A token the script writes as a name, or a project file's name, never
reaches a record, a sealed image's label, a bundle or an image's layers."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
from mine_runs import finish_succeeded, succeeded_record, write_run
from six_projects import project

from reprobox import freeze as freeze_module
from reprobox.cli_share import _reference_record
from reprobox.config import load_config
from reprobox.container_files import read_script_metrics
from reprobox.credential_lines import hide_published_tokens
from reprobox.errors import InputError
from reprobox.freeze import freeze_project
from reprobox.frozen_tokens import token_fields, without_tokens
from reprobox.image_files import project_files
from reprobox.lock import LockResult
from reprobox.share import seal_image

# Made up for these tests: the shapes of a GitHub token and an AWS key id.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
AWS_ID = "AKIA" + "Z7QW3ERT5YU8IO2P"
SHOWN = "ghp_*** (40 characters)"
METRICS_FILE = "the metrics file ($REPROBOX_METRICS)"
LEFT_OUT = "holds a token of a published format (ghp_..., AKIA...); left out"


def test_without_tokens_drops_keys_and_texts_and_keeps_the_rest():
    doc = {
        "a": [{"b": "x"}, {"b": f"see {TOKEN}", "c": 1}],
        TOKEN: {"inner": 2},
        "notes": ["fine", TOKEN],
    }
    kept, paths = without_tokens(doc)
    assert kept == {"a": [{"b": "x"}, {"c": 1}], "notes": ["fine"]}
    assert paths == ["a[1].b", SHOWN, "notes[1]"]
    assert list(token_fields(doc)) == paths


def test_hide_published_tokens_cuts_each_token_and_keeps_the_rest():
    assert hide_published_tokens(f"{AWS_ID}/{TOKEN}.txt") == "AKIA***/ghp_***.txt"
    assert hide_published_tokens("data/train.csv") == "data/train.csv"


def test_a_token_metric_name_is_left_out_with_a_shortened_warning(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({TOKEN: 1.0, "acc": 0.9, f"{AWS_ID} acc": "text"}))
    kept, warnings = read_script_metrics(path)
    assert kept == {"acc": 0.9}
    assert warnings == [
        f"metric {SHOWN} in {METRICS_FILE} {LEFT_OUT}",
        f"metric AKIA*** acc (24 characters) in {METRICS_FILE} {LEFT_OUT}",
    ]


def test_a_finished_record_holds_no_token_the_container_wrote(tmp_path):
    capture = {
        "python": {"version": "3.11.9"},
        "history": [{"epochs": [{"epoch": 0, "loss": 0.5, TOKEN: 1.0}]}],
        "evaluations": [{"results": {"acc": 0.8, AWS_ID: 2.0}}],
        "hook_errors": [f"hook failed near {TOKEN}", "plain"],
        "packages": {"six": "1.17.0", "tool": f"from {TOKEN}"},
    }
    (tmp_path / "capture.json").write_text(json.dumps(capture))
    (tmp_path / "metrics.json").write_text(json.dumps({TOKEN: 1.0, "acc": 0.9}))
    record = {"warnings": []}
    finish_succeeded(record, tmp_path)
    assert list(token_fields(record)) == []
    assert TOKEN not in json.dumps(record) and AWS_ID not in json.dumps(record)
    assert record["metrics"] == {"acc": 0.9, "eval_acc": 0.8, "loss": 0.5}
    assert record["history"] == [{"epochs": [{"epoch": 0, "loss": 0.5}]}]
    assert record["machine"]["packages"] == {"six": "1.17.0"}
    assert record["warnings"] == [
        f"metric {SHOWN} in {METRICS_FILE} {LEFT_OUT}",
        f"capture.json field history[0].epochs[0].{SHOWN} {LEFT_OUT}",
        f"capture.json field evaluations[0].results.AKIA*** (20 characters) {LEFT_OUT}",
        f"capture.json field hook_errors[0] {LEFT_OUT}",
        f"capture.json field packages.tool {LEFT_OUT}",
        "plain",
    ]


def _run(state, **changes) -> os.PathLike:
    return write_run(
        state, succeeded_record(metrics={TOKEN: 1.0, "acc": 0.9}, **changes)
    )


def test_push_and_export_refuse_a_record_holding_a_token(tmp_path):
    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    path = _run(cfg.state_dir)
    expected = (
        f"{path}: the record's field metrics.{SHOWN} holds a token of a "
        "published format (ghp_..., hf_..., AKIA...), which sealing would write into "
        "the image label and the bundle; refused, nothing was shared"
    )
    for chosen in (None, path):  # the newest run of the build, or --reference
        with pytest.raises(InputError) as info:
            _reference_record(cfg, "sha256:" + "a" * 64, chosen)
        assert info.value.message == expected
        assert TOKEN not in str(info.value) + str(info.value.hint)


def test_seal_image_refuses_a_token_before_it_asks_the_engine():
    record = {"run_id": "r1", "log_tail": f"pushed with {TOKEN}"}
    with pytest.raises(InputError) as info:
        seal_image(None, "sha256:" + "a" * 64, record, "proj:x-sealed")
    assert info.value.message.startswith(
        "the record of run r1: the record's field log_tail holds a token"
    )


PROJECT = {
    "reprobox.toml": 'command = "python train.py"\n',
    "train.py": "print('hi')\n",
}


def _tree(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _cfg(root):
    return load_config(root)


@pytest.mark.parametrize(
    ("rel", "shown"),
    [
        (f"{TOKEN}.txt", "ghp_***.txt"),
        (f"{AWS_ID}/notes.md", "AKIA***/notes.md"),
        (f"pkg/{AWS_ID}/{TOKEN}", "pkg/AKIA***/ghp_***"),
    ],
)
def test_a_file_or_folder_named_with_a_token_is_refused(tmp_path, rel, shown):
    _tree(tmp_path, {**PROJECT, rel: "hello\n"})
    with pytest.raises(InputError) as info:
        project_files(_cfg(tmp_path))
    assert info.value.message == (
        f"{shown}: its name holds a token of a published format (ghp_..., "
        "AKIA...), which would go into the image's layers with it; refused"
    )
    assert info.value.hint == "rename it, or list it in .reproboxignore"


def test_a_token_name_listed_in_reproboxignore_stays_out(tmp_path):
    ignore = f"{TOKEN}.txt\n{AWS_ID}/\n"
    files = {**PROJECT, ".reproboxignore": ignore, f"{TOKEN}.txt": "x"}
    _tree(tmp_path, {**files, f"{AWS_ID}/a.txt": "y"})
    assert project_files(_cfg(tmp_path)) == ["train.py"]


def test_freeze_refuses_a_token_named_file_and_writes_nothing(tmp_path, monkeypatch):
    def resolve(lines, **kwargs):
        return LockResult(
            text="six==1.17.0\n",
            pins={"six": "1.17.0"},
            warnings=(),
            needs_git=False,
            resolver="fake 1",
        )

    monkeypatch.setattr(freeze_module, "resolve_lock", resolve)
    root = project(tmp_path)
    (root / f"{TOKEN}.txt").write_text("x")
    with pytest.raises(InputError, match=r"^ghp_\*\*\*\.txt: its name holds a token"):
        freeze_project(load_config(root), environ=os.environ)
    assert not (root / ".reprobox" / "manifest.json").exists()
