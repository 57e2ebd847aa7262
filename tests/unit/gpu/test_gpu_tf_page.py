"""The tested-configurations parser and the refresh script."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reprobox.errors import InputError
from reprobox.gpu.tf_page import (
    merge_series,
    parse_tested_configurations,
    refresh_tensorflow_rows,
)

FIXTURES = Path(__file__).parent / "fixtures"
PAGE = FIXTURES / "tested_configs.html"
REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "refresh-cuda-table"


def _rows():
    return parse_tested_configurations(PAGE.read_text())


def test_parser_reads_only_the_linux_gpu_table_of_tensorflow_2():
    firsts = [row["first"] for row in _rows()]
    assert firsts == ["2.1", "2.4", "2.5", "2.14", "2.16", "2.17", "2.18", "2.21"]


def test_parser_reads_each_cell():
    by_first = {row["first"]: row for row in _rows()}
    assert by_first["2.21"] == {
        "first": "2.21",
        "last": "2.21",
        "python": ["3.10", "3.13"],
        "cuda": "12.5",
        "cudnn": "9.3",
        "pip_cuda": True,
        "nvidia_wheels": "ranges",
    }
    assert by_first["2.18"]["nvidia_wheels"] == "pinned"
    assert by_first["2.5"]["pip_cuda"] is False
    assert by_first["2.5"]["nvidia_wheels"] is None
    assert by_first["2.1"]["python"] == ["3.5", "3.7"]  # the 2.7 part is dropped


def test_merge_joins_consecutive_identical_minors_only():
    merged = merge_series(_rows())
    spans = [(row["first"], row["last"]) for row in merged]
    assert ("2.16", "2.17") in spans
    # 2.18 and 2.21 differ (python, nvidia wheels); 2.4 and 2.5 differ in CUDA
    assert ("2.18", "2.18") in spans and ("2.21", "2.21") in spans


def test_page_without_a_linux_gpu_table_is_refused():
    with pytest.raises(InputError, match="Linux GPU table"):
        parse_tested_configurations("<h3>Linux</h3><h4>CPU</h4><table></table>")


def test_bad_cuda_cell_is_refused():
    html = PAGE.read_text().replace("<td>12.3</td>", "<td>twelve</td>", 1)
    with pytest.raises(InputError, match="twelve"):
        parse_tested_configurations(html)


def test_refresh_keeps_releases_the_page_does_not_list():
    current = [
        {
            "first": "2.19",
            "last": "2.19",
            "python": ["3.9", "3.12"],
            "cuda": "12.5",
            "cudnn": "9.3",
            "pip_cuda": True,
            "nvidia_wheels": "pinned",
        },
    ]
    rows, changes = refresh_tensorflow_rows(current, _rows())
    spans = [(row["first"], row["last"]) for row in rows]
    assert ("2.18", "2.19") in spans
    assert any(c.startswith("add tensorflow 2.21:") for c in changes)
    assert not any("2.19" in c for c in changes)


def _run_script(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_script_writes_a_stable_table(tmp_path):
    packaged = REPO / "reprobox" / "data" / "cuda_table.json"
    target = tmp_path / "cuda_table.json"
    target.write_text(packaged.read_text())
    proc = _run_script(PAGE, "--table", target)
    assert proc.returncode == 0, proc.stderr
    first = target.read_bytes()
    data = json.loads(first)
    assert (
        first.decode()
        == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    # the fixture page agrees with the packaged rows it lists, so nothing changes
    assert first == packaged.read_bytes()
    assert "table unchanged" in proc.stderr
    again = _run_script(PAGE, "--table", target)
    assert again.returncode == 0 and target.read_bytes() == first


def test_script_reports_and_checks_a_change(tmp_path):
    target = tmp_path / "cuda_table.json"
    target.write_text((REPO / "reprobox" / "data" / "cuda_table.json").read_text())
    page = tmp_path / "page.html"
    page.write_text(
        PAGE.read_text().replace(
            "<td>tensorflow-2.14.0</td><td>3.9-3.11</td><td>Clang 16.0.0</td>"
            "<td>Bazel 6.1.0</td><td>8.7</td>",
            "<td>tensorflow-2.14.0</td><td>3.9-3.11</td><td>Clang 16.0.0</td>"
            "<td>Bazel 6.1.0</td><td>8.9</td>",
        )
    )
    before = target.read_bytes()
    check = _run_script(page, "--table", target, "--check")
    assert check.returncode == 1 and target.read_bytes() == before
    assert (
        "change tensorflow 2.14: python 3.9-3.11, CUDA 11.8, cuDNN 8.9" in check.stderr
    )
    write = _run_script(page, "--table", target)
    assert write.returncode == 0
    rows = json.loads(target.read_text())["tensorflow"]
    assert {"2.14": "8.9"}.items() <= {r["first"]: r["cudnn"] for r in rows}.items()


def test_script_refuses_a_page_without_the_table(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body>nothing</body></html>")
    proc = _run_script(page, "--table", REPO / "reprobox" / "data" / "cuda_table.json")
    assert proc.returncode == 2
    assert "no Linux GPU table" in proc.stderr
