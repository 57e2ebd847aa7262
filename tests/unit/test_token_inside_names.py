"""A token of a published format anywhere inside a name (joined by _ or
letters: loss_ghp_..., xghp_..., hf_..._loss, AKIA..._x) counts as one, for
every kind of name reprobox writes; text keeps the whole-token rule."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from mine_runs import finish_succeeded, succeeded_record, write_run

from reprobox.cli_run import _parse_env
from reprobox.cli_share import _reference_record
from reprobox.config import ProjectConfig, load_config
from reprobox.container_files import read_script_metrics
from reprobox.envvars import frozen_environment
from reprobox.errors import ConfigError, InputError
from reprobox.frozen_tokens import token_fields, without_tokens
from reprobox.image_files import project_files
from reprobox.secret_shapes import hide_name_tokens, token_in_name

# Made up for these tests: the shapes of GitHub, Hugging Face and AWS tokens.
TOKEN = "ghp_" + "Zx81kQ93mW" * 3 + "p7Ld2R"
HF = "hf_" + "Qw7Er5Ty3Ui1" * 2 + "Op9As0Df2G"
AWS_ID = "AKIA" + "Z7QW3ERT5YU8IO2P"
JOINED = {
    f"loss_{TOKEN}": "loss_ghp_***",
    f"x{TOKEN}": "xghp_***",
    f"{HF}_loss": "hf_Q***_loss",
    f"{AWS_ID}_x": "AKIA***_x",
}
METRICS_FILE = "the metrics file ($REPROBOX_METRICS)"
LEFT_OUT = "holds a token of a published format (ghp_..., AKIA...); left out"


def _shortened(name: str) -> str:
    # Cut where the token lies, as the training's output line shows it
    # (brk r45, BL F5: "loss***" there, "loss_ghp_***" in the output).
    return f"{hide_name_tokens(name)} ({len(name)} characters)"


@pytest.mark.parametrize(("name", "hidden"), JOINED.items())
def test_a_token_joined_inside_a_name_counts_and_is_cut_short(name, hidden):
    assert token_in_name(name)
    assert hide_name_tokens(name) == hidden


@pytest.mark.parametrize(
    "name",
    [
        "loss",
        "eval_sparse_categorical_accuracy",
        "task-classification_accuracy_top1",  # sk- followed by words
        "mask-rcnn_resnet50_fpn_coco_bbox_mAP",
        "loss_ghp_" + "x" * 36,  # blanked out, as docs write one
        "data/train-00000-of-00004.parquet",
    ],
)
def test_ordinary_names_hold_no_token(name):
    assert not token_in_name(name)
    assert hide_name_tokens(name) == name


def test_metric_names_with_a_joined_token_are_left_out(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**dict.fromkeys(JOINED, 1.0), "acc": 0.9}))
    kept, warnings = read_script_metrics(path)
    assert kept == {"acc": 0.9}
    assert warnings == [
        f"metric {_shortened(name)} in {METRICS_FILE} {LEFT_OUT}" for name in JOINED
    ]


def test_fit_evaluation_and_capture_keys_with_a_joined_token_are_left_out(tmp_path):
    capture = {
        "python": {"version": "3.11.9"},
        "history": [{"epochs": [{"epoch": 0, "loss": 0.5, f"loss_{TOKEN}": 1.0}]}],
        "evaluations": [{"results": {"acc": 0.8, f"{AWS_ID}_x": 2.0}}],
        f"{HF}_loss": {"a": 1},
    }
    (tmp_path / "capture.json").write_text(json.dumps(capture))
    (tmp_path / "metrics.json").write_text(json.dumps({f"x{TOKEN}": 1.0}))
    record = {"warnings": []}
    finish_succeeded(record, tmp_path)
    text = json.dumps(record)
    assert TOKEN not in text and AWS_ID not in text and HF not in text
    assert list(token_fields(record)) == []
    assert record["metrics"] == {"eval_acc": 0.8, "loss": 0.5}
    field = f"history[0].epochs[0].{_shortened('loss_' + TOKEN)}"
    assert f"capture.json field {field} {LEFT_OUT}" in record["warnings"]


def test_push_and_export_refuse_a_record_key_with_a_joined_token(tmp_path):
    cfg = SimpleNamespace(
        name="mine", state_dir=tmp_path / ".reprobox", compare_metrics=()
    )
    path = write_run(
        cfg.state_dir, succeeded_record(metrics={f"loss_{TOKEN}": 1.0, "acc": 0.9})
    )
    with pytest.raises(InputError) as info:
        _reference_record(cfg, "sha256:" + "a" * 64, path)
    assert info.value.message.startswith(
        f"{path}: the record's field metrics.{_shortened('loss_' + TOKEN)} holds "
        "a token of a published format"
    )
    assert TOKEN not in str(info.value) + str(info.value.hint)


def test_name_fields_count_a_joined_token_and_text_fields_a_whole_one():
    doc = {
        "data": [{"path": f"data/x{TOKEN}.csv"}, {"path": "data/a.csv"}],
        "metrics": {"compare": [f"loss_{TOKEN}", "acc"]},
        "project": {"name": "proj", "command": ["python", "train.py"]},
        "notes": f"see {AWS_ID}",
    }
    kept, paths = without_tokens(doc)
    assert paths == ["data[0].path", "metrics.compare[0]", "notes"]
    assert kept["metrics"] == {"compare": ["acc"]}


def _env_cfg(tmp_path: Path, env: dict[str, str]) -> ProjectConfig:
    return ProjectConfig(
        root=tmp_path,
        source=tmp_path / "reprobox.toml",
        name="proj",
        command=("python", "train.py"),
        env=env,
    )


@pytest.mark.parametrize("name", [f"MY_{AWS_ID}", f"{AWS_ID}_X", f"X{TOKEN}"])
def test_an_env_name_with_a_joined_token_is_refused(tmp_path, name):
    with pytest.raises(ConfigError) as info:
        frozen_environment(_env_cfg(tmp_path, {name: "1"}), {})
    assert (
        "is a credential by its shape (a token of a published format, or a "
        "vendor's prefix and a random run)"
    ) in info.value.message
    assert name not in str(info.value)


@pytest.mark.parametrize("name", [f"loss_{TOKEN}", f"MY_{AWS_ID}", f"x-{TOKEN}"])
def test_a_run_env_name_with_a_joined_token_is_refused(name):
    with pytest.raises(InputError) as info:
        _parse_env([f"{name}=1"])
    assert info.value.message == (
        f"--env {_shortened(name)}: the variable name is a credential by its "
        "shape (a token of a published format, or a vendor's prefix and a random "
        "run), which the run record would keep; nothing was run"
    )


@pytest.mark.parametrize(
    ("rel", "shown"),
    [
        (f"x{TOKEN}.txt", "xghp_***.txt"),
        (f"data_{AWS_ID}_v2/notes.md", "data_AKIA***_v2/notes.md"),
    ],
)
def test_a_project_file_name_with_a_joined_token_is_refused(tmp_path, rel, shown):
    for path, text in {
        "reprobox.toml": 'command = "python train.py"\n',
        "train.py": "print('hi')\n",
        rel: "hello\n",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    with pytest.raises(InputError) as info:
        project_files(load_config(tmp_path))
    assert info.value.message.startswith(f"{shown}: its name holds a token")


def test_a_project_name_with_a_joined_token_is_refused(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        f'command = "python train.py"\nname = "m{TOKEN.lower()}"\n'
    )
    (tmp_path / "train.py").write_text("print('hi')\n")
    with pytest.raises(ConfigError, match="token of a published format"):
        load_config(tmp_path)
