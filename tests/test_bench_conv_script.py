"""benchmarks/conv.py (issue 14 part 5): on one small shape every graphc lowering and
every peer agrees with PyTorch, graphc's rule is reported, and the table has a row per
computation with a ratio for every peer."""

from pathlib import Path

import pytest
from helpers import load_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "conv.py"


def _module():
    return load_module(SCRIPT, "bench_conv")


def test_one_shape_agrees_and_reports():
    pytest.importorskip("torch")
    m = _module()
    rows = m.measure([((2, 3, 5, 5), (4, 3, 3, 3), 1)], budget=0.01)
    assert [r["grad"] for r in rows] == [False, True]
    for r in rows:
        assert r["rule"] == "direct"               # 27 terms
        assert set(r["times"]) >= {"direct", "im2col", "auto", "pytorch"}
        assert all(bad <= m.TOLERANCE for bad in r["bad"].values()), r["bad"]
    text = m.report(rows, "python benchmarks/conv.py", ("0.00", "0.00"))
    lines = [ln for ln in text.splitlines() if ln.startswith("| (2, 3, 5, 5)")]
    assert len(lines) == 2 and not any("✗" in ln for ln in lines)
    assert all(ln.count("(") >= 4 for ln in lines)
