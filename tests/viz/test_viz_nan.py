"""NaN/Inf diagnosis: the trace names the first node that produced a non-finite value,
the operation and its operands, flags it in the tables and highlights it in diagrams.

The expected numbers are IEEE 754 facts (log 0 = −inf, 0·(−inf) = NaN,
d/dx √x = 1/(2√x) = +inf at 0) and graphc's own gradients (gc.grad), which the trace
must agree with, non-finite values included.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphc as gc


def test_sqrt_derivative_at_zero_is_named():
    t = gc.trace("sqrt(x)", at={"x": 0})
    assert t.gradient["x"] == math.inf
    assert float(gc.evaluate(gc.grad(gc.parse("sqrt(x)"), "x"), x=0.0)) == math.inf
    p = t.first_problem
    assert p.section == "adjoint" and p.kind == "inf" and p.node == "v0"
    assert p.edge == ("v1", "v0")
    assert p.cause.startswith("sqrt'(0) = inf")
    row = t.rows("adjoint")[p.row - len(t.rows("primal"))]
    assert row["flag"] is not None and "sqrt'(0) = inf" in row["flag"]
    assert "first" in row["flag"]
    text = t.table("text")
    assert "⚠ first inf: sqrt'(0) = inf" in text


def test_zero_times_infinity_in_the_primal_trace():
    t = gc.trace("x*log(x)", at={"x": 0})
    probs = t.problems
    # log(0) = −inf comes first; the NaN is then made by 0 · (−inf) at v2
    assert [(p.section, p.node, p.kind) for p in probs[:2]] == [("primal", "v1", "inf"),
                                                                ("primal", "v2", "nan")]
    assert probs[0].cause == "ln 0 = −inf"
    assert probs[1].cause == "0 × (−inf) = nan"
    assert "first non-finite value" in probs[0].message
    flagged = [r for r in t.rows("primal") if r["flag"]]
    assert [r["node"] for r in flagged] == ["v1", "v2"]
    # the gradient is NaN in graphc's reverse mode too, and the trace says why
    assert math.isnan(t.gradient["x"])
    assert math.isnan(float(gc.evaluate(gc.grad(gc.parse("x*log(x)"), "x"), x=0.0)))
    adj = [p for p in probs if p.section == "adjoint"]
    assert adj and adj[0].cause.startswith("log'(0) = inf")


def test_tangent_nan_names_partial_and_product():
    t = gc.trace("sqrt(x*y) + y", at={"x": 0, "y": 0}, mode="fwd", seed={"x": 1})
    j = gc.evaluate(gc.jvp(gc.parse("sqrt(x*y) + y"), seed={"x": 1}), x=0.0, y=0.0)
    assert math.isnan(t.directional_derivative["f"]) and math.isnan(float(j[1]))
    (p,) = t.problems
    assert p.section == "tangent" and p.node == "v2" and p.kind == "nan"
    assert p.cause == "sqrt'(0) = inf, and v̇₁ × ∂ = 0 × inf"


def test_masked_branch_has_no_problem():
    # where() selects away the infinite derivative: graphc's AD gives 0, so does the trace
    t = gc.trace("where(x > 0, sqrt(x), 0)", at={"x": 0})
    assert t.gradient == {"x": 0.0} and t.problems == []
    assert "⚠" not in t.table("text")


def test_overflow_is_reported_once_at_its_origin():
    t = gc.trace("exp(x) - exp(x)", at={"x": 1000})
    kinds = [(p.section, p.node, p.kind) for p in t.problems]
    assert kinds[0] == ("primal", "v1", "inf")
    assert ("primal", "v2", "nan") in kinds            # inf − inf
    assert t.problems[1].cause == "inf − inf = nan"


def test_diagnosis_in_diagrams_and_tables():
    t = gc.trace("x*log(x)", at={"x": 0})
    dot = t.to_dot("adjoint")
    assert dot.count('COLOR="#d35400"') == 3           # v0 (adjoint), v1, v2 highlighted
    assert "⚠ first inf: ln 0 = −inf" in dot
    assert "penwidth=2.5" in dot                       # the offending partial's edge
    md = t.table("md")
    assert "⚠ first inf: ln 0 = −inf" in md and "Note" in md
    tex = t.table("tex")
    assert r"\textbf{first inf here}" in tex and "⚠" not in tex
    html = t.table("html")
    assert 'style="background:#fdd"' in html
    svg = t.pipe("svg").decode("utf-8")
    assert "ln 0 = −inf" in svg


def test_finite_traces_have_no_problems():
    t = gc.trace("ln(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5})
    assert t.problems == [] and t.first_problem is None
    assert all(r["flag"] is None for r in t.rows())


@pytest.mark.parametrize("src,at", [("1/x", {"x": 0.0}), ("log(x) * 0", {"x": 0.0}),
                                    ("sqrt(x - 1)", {"x": 0.5})])
def test_every_nonfinite_output_has_an_origin(src, at):
    t = gc.trace(src, at=at)
    nonfinite = [r for r in t.rows() if not np.isfinite(r["value"])]
    assert nonfinite and t.problems
    first = t.first_problem
    assert first.row <= min(i for i, r in enumerate(t.rows()) if not np.isfinite(r["value"]))
