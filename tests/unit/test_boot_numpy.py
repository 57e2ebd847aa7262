"""The boot hook seeds NumPy's default_rng() too, with the real NumPy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import reprobox.runtime.boot
import numpy as np
from numpy.random import default_rng
print(np.random.default_rng().random(), default_rng().random(),
      np.random.default_rng(123).random())
"""


def draw(tmp_path: Path, seed: str | None) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROBOX_")}
    env.update(PYTHONPATH=str(REPO), REPROBOX_OUT=str(tmp_path))
    if seed is not None:
        env["REPROBOX_SEED"] = seed
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [float(x) for x in out.split()]


def test_unseeded_default_rng_repeats_under_a_seed(tmp_path):
    first, second = draw(tmp_path, "7"), draw(tmp_path, "7")
    assert first == second
    assert first[0] != first[1]  # each call gets its own stream


def test_another_seed_draws_other_numbers(tmp_path):
    assert draw(tmp_path, "7")[:2] != draw(tmp_path, "8")[:2]


def test_an_explicit_seed_is_left_alone(tmp_path):
    assert draw(tmp_path, "7")[2] == np.random.default_rng(123).random()


def test_without_a_seed_nothing_is_fixed(tmp_path):
    assert draw(tmp_path, None)[:2] != draw(tmp_path, None)[:2]
