"""One test of a metric name: config, manifest, record settings agree on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprobox.cli_compare import _check_metric_names
from reprobox.compare.compare_settings import check_record_settings
from reprobox.compare.records import Record
from reprobox.config import load_config
from reprobox.errors import ConfigError, InputError
from reprobox.manifest import check_metrics
from reprobox.metric_names import is_metric_name, metric_name_problem

CMD = 'command = "python train.py"\n'
BLANKS = [" ", "\t", "  \n", "\u3000"]  # "" is refused as an empty string


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("loss", True), ("a=b", True), (" loss", True), ("", False)]
    + [(blank, False) for blank in BLANKS]
    + [(None, False), (1, False)],
)
def test_a_metric_name_is_text_that_is_not_blank(name, accepted):
    assert is_metric_name(name) is accepted


@pytest.mark.parametrize("blank", BLANKS)
def test_freeze_refuses_a_blank_name_in_metrics_compare(tmp_path, blank):
    # brk 37 #2: freeze took [" "], then build/run/push refused the manifest
    # and said to freeze again, which wrote it again: a loop.
    (tmp_path / "reprobox.toml").write_text(
        CMD + f"[metrics]\ncompare = [{json.dumps(blank)}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "metrics.compare"
    assert caught.value.message == (
        f"{tmp_path / 'reprobox.toml'}: metrics.compare: {blank!r} is a blank "
        "metric name"
    )
    assert caught.value.hint == 'name a metric, e.g. compare = ["test_accuracy"]'


@pytest.mark.parametrize("blank", ["", *BLANKS])
def test_freeze_refuses_a_blank_name_in_metrics_tolerances(tmp_path, blank):
    # It showed in compare as "tolerance given for metrics no run compared".
    (tmp_path / "reprobox.toml").write_text(
        CMD + f"[metrics.tolerances]\n{json.dumps(blank)} = {{ abs = 0.1 }}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.key == "metrics.tolerances"
    assert caught.value.message.endswith(f"{blank!r} is a blank metric name")
    assert caught.value.hint == "name a metric, e.g. test_accuracy = { abs = 0.01 }"


def _config_takes(tmp_path: Path, name: str, where: str) -> bool:
    folder = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    if where == "compare":
        body = f"[metrics]\ncompare = [{json.dumps(name)}]\n"
    else:
        body = f"[metrics.tolerances]\n{json.dumps(name)} = {{ abs = 0.1 }}\n"
    (folder / "reprobox.toml").write_text(CMD + body)
    try:
        load_config(folder)
    except ConfigError:
        return False
    return True


def _manifest_takes(name: str, where: str) -> bool:
    metrics = (
        {"compare": [name]}
        if where == "compare"
        else {"tolerances": {name: {"abs": 0.1}}}
    )
    try:
        check_metrics(Path("manifest.json"), {"metrics": metrics})
    except InputError:
        return False
    return True


def _record_takes(name: str, where: str) -> bool:
    settings = (
        {"compare": [name], "tolerances": {}}
        if where == "compare"
        else {"compare": [], "tolerances": {name: {"abs": 0.1}}}
    )
    try:
        check_record_settings(Path("record.json"), {"compare_settings": settings})
    except InputError:
        return False
    return True


@pytest.mark.parametrize("where", ["compare", "tolerances"])
@pytest.mark.parametrize("name", ["loss", "a=b", "", *BLANKS])
def test_freeze_takes_exactly_the_names_later_commands_take(tmp_path, name, where):
    # What freeze writes, build, run, push, verify (the image label) and
    # compare (the record's settings) must all read, and no more.
    took = _config_takes(tmp_path, name, where)
    assert took is is_metric_name(name)
    assert _manifest_takes(name, where) is took
    assert _record_takes(name, where) is took


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("loss", None),
        ("a\u00a0b", None),  # a no-break space is typed, and printed
        ("val loss", None),
        (" ", "is blank"),
        ("a\u200bb", "holds U+200B (zero width space, not printable)"),
        ("a\tb", "holds U+0009 (not printable)"),
        ("\ud800", "holds U+D800 (half of a UTF-16 pair, no character)"),
        ("x\u2028", "holds U+2028 (line separator, not printable)"),
    ],
)
def test_a_metric_name_is_printable_text(name, problem):
    assert metric_name_problem(name) == problem
    assert is_metric_name(name) is (problem is None)


def test_config_manifest_and_flags_refuse_an_unprintable_name(tmp_path):
    (tmp_path / "reprobox.toml").write_text(
        'command = "python train.py"\n[metrics]\ncompare = ["acc\\u200b"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.message.endswith(
        "metrics.compare: 'acc\\u200b' is an unprintable metric name"
    )
    with pytest.raises(InputError) as caught:
        check_metrics("m.json", {"metrics": {"compare": ["a\x07"]}})
    assert caught.value.message == (
        "m.json: metrics.compare holds an unprintable metric name 'a\\x07'; each "
        "item must name a metric"
    )
    record = Record(path=tmp_path / "r.json", data={"metrics": {"a\u200b": 1}})
    with pytest.raises(InputError) as caught:
        _check_metric_names([record], "--metric", ["a\u200b"])
    assert caught.value.message == "--metric 'a\\u200b' is an unprintable metric name"
