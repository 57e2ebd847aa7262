"""Compare run records: metrics within tolerance, curves, setups, noise, repeats."""

from reprobox.compare.comparison import (
    COMPARISON_SCHEMA_VERSION,
    Comparison,
    RunSummary,
    compare_runs,
    exit_code,
)
from reprobox.compare.environment import CATEGORIES, EnvDifference
from reprobox.compare.history import CurveDivergence
from reprobox.compare.metrics import EXACT, MetricResult, Tolerance
from reprobox.compare.noise import NoiseBand, NoiseCheck, NondeterminismFinding
from reprobox.compare.records import RECORD_SCHEMA_VERSION, Record, load_records
from reprobox.compare.render import render_json, render_markdown, render_text

__all__ = [
    "CATEGORIES",
    "COMPARISON_SCHEMA_VERSION",
    "EXACT",
    "RECORD_SCHEMA_VERSION",
    "Comparison",
    "CurveDivergence",
    "EnvDifference",
    "MetricResult",
    "NoiseBand",
    "NoiseCheck",
    "NondeterminismFinding",
    "Record",
    "RunSummary",
    "Tolerance",
    "compare_runs",
    "exit_code",
    "load_records",
    "render_json",
    "render_markdown",
    "render_text",
]
