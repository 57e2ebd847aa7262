"""No reprobox code or template sets TF_USE_CUDNN_AUTOTUNE (cases/run/unseeded-shuffle)."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
NAME = "TF_USE_CUDNN_AUTOTUNE"
SETTING = re.compile(
    rf"environ\s*\[\s*['\"]{NAME}['\"]\s*\]\s*="
    rf"|(?:setdefault|putenv|update)\(\s*['\"]{NAME}['\"]"
    rf"|['\"]{NAME}['\"]\s*:"
    rf"|\b{NAME}\s*="
    rf"|\bENV\s+{NAME}\s"
)


def _setting_lines(text):
    return [line for line in text.splitlines() if SETTING.search(line)]


@pytest.mark.parametrize(
    "line",
    [
        'os.environ["TF_USE_CUDNN_AUTOTUNE"] = "0"',
        "env.setdefault('TF_USE_CUDNN_AUTOTUNE', '0')",
        '    "TF_USE_CUDNN_AUTOTUNE": "0",',
        "ENV TF_USE_CUDNN_AUTOTUNE=0",
        "ENV TF_USE_CUDNN_AUTOTUNE 0",
        "docker run -e TF_USE_CUDNN_AUTOTUNE=0 img",
        "dict(TF_USE_CUDNN_AUTOTUNE='0')",
    ],
)
def test_detector_catches_each_way_of_setting_it(line):
    assert _setting_lines(line) == [line]


def test_detector_lets_a_refusal_list_mention_it():
    assert _setting_lines('NEVER_SET = frozenset({"TF_USE_CUDNN_AUTOTUNE"})') == []


def test_no_code_or_template_sets_it():
    roots = [REPO / "reprobox", REPO / "templates"]
    offenders = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix not in (".pyc",):
                text = path.read_text("utf-8", errors="replace")
                offenders += [f"{path}: {line}" for line in _setting_lines(text)]
    assert offenders == []
