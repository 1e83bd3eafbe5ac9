"""gc.trace arguments, derived and float32 graphs, and the notation helpers."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.viz import Trace
from graphc.viz.notation import format_expr, name, number, var

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
AT = {"x1": 2, "x2": 5}


def test_exports():
    assert gc.Trace is Trace
    assert isinstance(gc.trace(BAYDIN, at=AT), gc.Trace)
    assert {"trace", "Trace"} <= set(gc.__all__)


@pytest.mark.parametrize("kwargs,match", [
    ({"at": {"x1": [1, 2], "x2": 5}}, "one point"),
    ({"at": {"x1": 2}}, "missing input"),
    ({"at": {"x1": 2, "x2": 5, "z": 1}}, "no input 'z'"),
    ({"at": AT, "mode": "sideways"}, "mode must be"),
    ({"at": AT, "mode": "fwd"}, "seed direction"),
    ({"at": AT, "mode": "fwd", "seed": {"z": 1}}, "not inputs"),
    ({"at": AT, "mode": "rev", "seed": {"x1": 1}}, "not outputs"),
    ({"at": AT, "mode": "primal", "seed": {"x1": 1}}, "only used"),
    ({"at": AT, "digits": 0}, "digits"),
])
def test_argument_errors(kwargs, match):
    with pytest.raises(gc.GraphcError, match=match):
        gc.trace(BAYDIN, **kwargs)


def test_rejects_non_graphs():
    with pytest.raises(gc.GraphcError, match="Graph or an expression"):
        gc.trace(42, at={})


def test_traced_python_function():
    @gc.function
    def f(x1, x2):
        return gc.log(x1) + x1 * x2 - gc.sin(x2)

    t = gc.trace(f, at=AT)
    assert t.gradient["x1"] == 5.5


def test_multi_output_derived_graph_needs_a_seed_and_traces():
    g = gc.grad(gc.parse(BAYDIN))            # outputs df/dx1, df/dx2
    with pytest.raises(gc.GraphcError, match="output seed"):
        gc.trace(g, at=AT)
    t = gc.trace(g, at=AT, seed={"df/dx1": 1})
    # the gradient of ∂f/∂x1 = 1/x1 + x2 is the first Hessian row (−1/x1², 1)
    assert t.gradient == {"x1": -0.25, "x2": 1.0}
    assert "d̅f̅/̅d̅x̅1̅" in t.table()              # the output's name, overlined
    tf = gc.trace(g, at=AT, mode="fwd", seed={"x2": 1})
    # ∂/∂x2 of (1/x1 + x2, x1 − cos x2) = (1, sin x2)
    assert tf.directional_derivative == {"df/dx1": 1.0, "df/dx2": pytest.approx(np.sin(5))}


def test_float32_graph_matches_grad_bitwise():
    f = gc.parse(BAYDIN, dtype="float32")
    t = gc.trace(f, at=AT)
    expected = [float(v) for v in gc.evaluate(gc.grad(f), **AT)]
    assert [t.gradient["x1"], t.gradient["x2"]] == expected
    assert t.gradient["x2"] != gc.trace(BAYDIN, at=AT).gradient["x2"]   # float32 rounding


def test_trace_built_directly_from_given_values():
    f = gc.parse("x*y")
    x, y = f.inputs
    (op,) = f.operations
    t = Trace(f, {x: 3.0, y: 4.0, op: 12.0}, title="given")
    assert t.mode == "primal" and t.outputs == {"f": 12.0}
    assert t.rows()[2]["text"] == "v₁ = v₋₁ × v₀ = 3 × 4 = 12"
    with pytest.raises(gc.GraphcError, match="no primal value"):
        Trace(f, {x: 3.0, y: 4.0})
    with pytest.raises(gc.GraphcError, match="scalars"):
        Trace(f, {x: np.ones(2), y: 4.0, op: 12.0})


def test_notation_helpers():
    assert var(-1).text == "v₋₁" and var(-1).latex == "v_{-1}"
    assert var(3, "bar").text == "v̄₃" and var(3, "bar").latex == r"\bar{v}_{3}"
    assert var(0, "dot").latex == r"\dot{v}_{0}"
    assert name("x1").text == "x₁" and name("x1", "dot").text == "ẋ₁"   # NFC: one char
    assert name("y", "bar").text == "ȳ" and len(name("y", "bar").text) == 1
    assert name("x1_bar").text == "x̄₁" and name("x1_dot").text == "ẋ₁"
    assert name("alpha").latex == r"\mathrm{alpha}"
    assert number(-0.0).text == "0" and number(-2.5).text == "−2.5"
    assert number(1234567.0).latex == r"1.23457 \times 10^{6}"
    assert number(float("inf")).text == "inf" and number(float("-inf")).latex == r"-\infty"
    assert number(float("nan")).text == "nan"
    x, y = gc.parse("x + y").inputs
    names = {x: var(-1), y: var(0)}
    from graphc.ir import ops
    e = ops.mul(ops.sub(x, y), ops.neg(ops.div(x, y)))
    assert format_expr(e, names).text == "(v₋₁ − v₀) × (−v₋₁/v₀)"
    assert format_expr(ops.pow(x, ops.const(2.0)), names).text == "v₋₁²"
    assert format_expr(ops.pow(x, y), names).text == "v₋₁^v₀"
    assert format_expr(ops.sqrt(ops.add(x, y)), names).text == "√(v₋₁ + v₀)"
    assert format_expr(ops.sin(ops.add(x, y)), names).text == "sin(v₋₁ + v₀)"
    assert format_expr(ops.sub(x, ops.sub(y, x)), names).text == "v₋₁ − (v₀ − v₋₁)"
    assert format_expr(ops.div(ops.add(x, y), y), names).latex == r"\frac{v_{-1} + v_{0}}{v_{0}}"
