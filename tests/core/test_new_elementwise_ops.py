"""The rounding, remainder, clip and logaddexp primitives at the points the registry
suites do not pick: ``%`` precedence against Python's, round-half-to-even at the .5
points, the sign rules of ``mod``, ``clip`` at its bounds, ``logaddexp`` at ±1000.

Ground truth: Python's own parser (``ast``) and operators, NumPy, finite differences of
NumPy, mpmath. Every value is checked with the NumPy interpreter and the LLVM kernel,
in float64 and float32; derivatives in both AD modes.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator

import numpy as np
import pytest

import graphc as gc
from graphc.ir import Graph, ops

DTYPES = ("float64", "float32")
NP = {"float64": np.float64, "float32": np.float32}


def _values(graph, dtype, **inputs):
    """The outputs of ``graph`` from the interpreter and from the LLVM kernel."""
    arrays = {k: np.asarray(v, dtype=NP[dtype]) for k, v in inputs.items()}
    return gc.evaluate(graph, **arrays), gc.compile(graph)(**arrays)


def _unary_graph(build, dtype):
    x = ops.variable("x", dtype)
    return Graph([x], [build(x)])


def _derivatives(graph, wrt):
    """d out / d wrt in reverse mode and in forward mode (graphs)."""
    rev = gc.grad(graph, wrt)
    t = gc.jvp(graph, seed={wrt: 1.0})
    fwd = Graph(t.inputs, [t.outputs[1]])
    return {"rev": rev, "fwd": fwd}


# -- `%` binds like Python's ------------------------------------------------------------

_PY_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def _python_value(node: ast.AST, env: dict) -> float:
    """Evaluate a parsed Python expression with Python's float operators (no eval)."""
    if isinstance(node, ast.Expression):
        return _python_value(node.body, env)
    if isinstance(node, ast.BinOp):
        return _PY_BINOPS[type(node.op)](_python_value(node.left, env),
                                         _python_value(node.right, env))
    if isinstance(node, ast.UnaryOp):
        v = _python_value(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    raise AssertionError(ast.dump(node))


def _expressions():
    """Every sequence ``[-]a op [-]b op c op d`` over ``+ - * / % **`` with ``%`` in
    it, 3 operators (a sample of about 250, fixed)."""
    rng = np.random.default_rng(13)
    ops_ = ["+", "-", "*", "/", "%", "**"]
    out = []
    for combo in itertools.product(ops_, repeat=3):
        if "%" not in combo:
            continue
        signs = rng.integers(0, 2, 4)
        names = ["a", "b", "c", "d"]
        terms = [("-" if s else "") + n for s, n in zip(signs, names)]
        text = terms[0]
        for op_, t in zip(combo, terms[1:]):
            text += f" {op_} {t}"
        out.append(text)
    return out


EXPRESSIONS = _expressions()
ENV = {"a": 7.5, "b": 2.0, "c": 3.0, "d": 1.25}


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_percent_precedence_matches_python(text):
    try:
        want = _python_value(ast.parse(text, mode="eval"), ENV)
    except (ZeroDivisionError, OverflowError):
        pytest.skip("Python raises")
    if isinstance(want, complex):
        pytest.skip("Python gives a complex number")
    g = gc.parse(text)
    got = float(gc.evaluate(g, **{k: ENV[k] for k in g.input_names}))
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12), text


def test_percent_on_nodes_and_in_the_cli():
    x = ops.variable("x")
    assert (x % 3.0).prim is ops.mod_p and (3.0 % x).args[0].is_const
    assert float(gc.evaluate(Graph([x], [7.0 % x]), x=-3.0)) == 7.0 % -3.0
    from graphc.cli import main
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["grad", "log2(x) + x % 3", "--at", "x=5"])
    assert rc in (0, None)
    want_f = math.log2(5.0) + 5.0 % 3.0
    want_d = 1.0 / (5.0 * math.log(2.0)) + 1.0
    assert f"{want_f:.6f}" in buf.getvalue() and f"{want_d:.6f}" in buf.getvalue()


# -- round: half to even ------------------------------------------------------------------

HALVES = np.arange(-10, 10) + 0.5


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_is_half_to_even(dtype):
    g = _unary_graph(ops.round_, dtype)
    xs = np.concatenate([HALVES, -0.5 + 2.0 ** -30 * np.arange(-2, 3), [-0.0, 2.0 ** 52 + 1]])
    want = np.round(xs.astype(NP[dtype]))
    assert [round(v) for v in HALVES] == list(np.round(HALVES))  # Python agrees
    for got in _values(g, dtype, x=xs):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    for mode, d in _derivatives(g, "x").items():
        np.testing.assert_array_equal(gc.evaluate(d, x=xs.astype(NP[dtype])), 0.0)


# -- mod: the divisor's sign ------------------------------------------------------------

SIGNED = [0.0, -0.0, 1.5, -1.5, 3.0, -3.0, 7.25, -7.25, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("dtype", DTYPES)
def test_mod_sign_rules(dtype):
    x, y = ops.variable("x", dtype), ops.variable("y", dtype)
    g = Graph([x, y], [ops.mod(x, y)])
    xs, ys = (np.array(v, dtype=NP[dtype]) for v in zip(*itertools.product(SIGNED, SIGNED)))
    with np.errstate(all="ignore"):
        want = np.remainder(xs, ys)
    for got in _values(g, dtype, x=xs, y=ys):
        np.testing.assert_array_equal(got, want)   # NaN == NaN here
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    for a, b, w in zip(xs, ys, want):  # Python's % where it is defined
        if math.isfinite(a) and math.isfinite(b) and b != 0:
            assert float(w) == float(a) % float(b)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_mod_derivative_is_minus_floor_next_to_the_jumps(mode):
    """∂mod/∂y = -floor(x/y) of the exact quotient, also where x/y rounds onto an
    integer; checked against mpmath's floor of the exact quotient."""
    mpmath = pytest.importorskip("mpmath")
    x, y = ops.variable("x"), ops.variable("y")
    g = Graph([x, y], [ops.mod(x, y)])
    ys = np.array([1 - 2.0 ** -53, 1 + 2.0 ** -52, 4.0 / 3.0, 0.1, -0.1, 2.5, -2.5])
    xs = np.array([-4.0, 4.0, -4.0, 1.0, 1.0, -7.5, 7.5])
    d = _derivatives(g, "y")[mode]
    got = gc.evaluate(d, x=xs, y=ys)
    mpmath.mp.prec = 200
    want = [-float(mpmath.floor(mpmath.mpf(a) / mpmath.mpf(b))) for a, b in zip(xs, ys)]
    np.testing.assert_array_equal(got, want)
    dx = _derivatives(g, "x")[mode]
    np.testing.assert_array_equal(gc.evaluate(dx, x=xs, y=ys), 1.0)


# -- clip at its bounds ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_clip_at_the_bounds(dtype, mode):
    """Value: np.clip. Derivative in x: 1 on the closed interval [lo, hi] (at a bound,
    the one-sided difference from inside), 0 outside; the bounds get the rest."""
    lo, hi = -0.75, 1.25
    x = ops.variable("x", dtype)
    g = Graph([x], [ops.clip(x, lo, hi)])
    xs = np.array([-3.0, -0.75 - 1e-3, -0.75, -0.1, 0.0, 1.25, 1.25 + 1e-3, 4.0])
    for got in _values(g, dtype, x=xs):
        np.testing.assert_array_equal(got, np.clip(xs.astype(NP[dtype]), lo, hi))
    h = 1e-6
    inside = np.clip(xs, lo + h, hi - h)  # one-sided from inside at the bounds
    fd = (np.clip(inside + h, lo, hi) - np.clip(inside - h, lo, hi)) / (2 * h)
    fd = np.where((xs < lo) | (xs > hi), 0.0, fd)
    d = _derivatives(g, "x")[mode]
    np.testing.assert_allclose(gc.evaluate(d, x=xs.astype(NP[dtype])), fd, atol=1e-6)
    # the three partials sum to 1 (clip is one of its arguments)
    a, b = ops.variable("a", dtype), ops.variable("b", dtype)
    g3 = Graph([x, a, b], [ops.clip(x, a, b)])
    parts = gc.evaluate(gc.grad(g3), x=xs.astype(NP[dtype]), a=NP[dtype](lo),
                        b=NP[dtype](hi))
    np.testing.assert_array_equal(sum(np.asarray(p) for p in parts), 1.0)


# -- logaddexp: no overflow ----------------------------------------------------------------

PAIRS = [(1000.0, 1000.0), (-1000.0, -1000.0), (1000.0, -1000.0), (-1000.0, 999.0),
         (88.0, 87.5), (-1000.0, -1001.0), (0.0, 30.0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_logaddexp_is_stable(dtype, mode):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x, y = ops.variable("x", dtype), ops.variable("y", dtype)
    g = Graph([x, y], [ops.logaddexp(x, y)])
    xs, ys = (np.array(v) for v in zip(*PAIRS))
    want = [float(mpmath.log(mpmath.exp(a) + mpmath.exp(b))) for a, b in PAIRS]
    dwant = [float(mpmath.exp(a) / (mpmath.exp(a) + mpmath.exp(b))) for a, b in PAIRS]
    rtol = 8 * np.finfo(NP[dtype]).eps
    for got in _values(g, dtype, x=xs, y=ys):
        np.testing.assert_allclose(got, want, rtol=rtol)
        np.testing.assert_allclose(got, np.logaddexp(xs.astype(NP[dtype]),
                                                     ys.astype(NP[dtype])), rtol=rtol)
    d = _derivatives(g, "x")[mode]
    got = gc.evaluate(d, x=xs.astype(NP[dtype]), y=ys.astype(NP[dtype]))
    np.testing.assert_allclose(got, dwant, rtol=rtol, atol=1e-300)
