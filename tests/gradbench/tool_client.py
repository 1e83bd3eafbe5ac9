"""The graphc GradBench tool as the tests call it: one function through ``evaluate``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "gradbench"))
import graphc_tool as tool  # noqa: E402


def call(module, function, input):
    """Run one function through the tool's ``evaluate`` (as the protocol does)."""
    r = tool.evaluate(module, function, dict(input, min_runs=1, min_seconds=0))
    assert r["success"], r.get("error")
    return r["output"]
