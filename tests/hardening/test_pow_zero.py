"""``x^n`` at and near a zero base: derivatives of every order are exact, never 0·∞.

For n = 0 … 4 and derivative orders k = 1 … 4, at x = ±0 and small ±x:

* a constant exponent (``x^n`` as parsed): d^k/dx^k;
* a variable exponent (``x^y`` at y = n): ∂^k/∂x^k and ∂^k/∂y^k, and the mixed
  second derivatives,

each by repeated reverse mode (grad of grad ...) and repeated forward mode, in float64
and float32, with the NumPy interpreter and LLVM kernels. Ground truth: SymPy's exact
derivatives; at x = 0 the one-sided limit x → 0+ (``x^y`` with real y is defined for
x ≥ 0); NaN where the real derivative does not exist (``ln x`` of a negative base).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp

import graphc as gc
from graphc.ir import Graph, ops
from graphc.passes import ad

XS = [0.0, -0.0, 1e-3, -1e-3, 0.25, -0.25]
NS = [0, 1, 2, 3, 4]
ORDERS = [1, 2, 3, 4]
_x, _y = sp.symbols("x y", real=True)


@functools.lru_cache(maxsize=None)
def exact(wrt: str, n: int, x0: float) -> float:
    """The SymPy value of the derivative ∂^wrt (x^y) at (x0, n); ``wrt`` is a string of
    variable names, e.g. "xxy" for ∂³/∂x²∂y."""
    if x0 < 0 and "y" in wrt:
        return float("nan")   # x^y of a negative base is not real for y near n
    e = _x ** _y
    for v in wrt:
        e = sp.diff(e, _x if v == "x" else _y)
    e = sp.simplify(e.subs(_y, n))
    if x0 == 0.0:
        val = sp.limit(e, _x, 0, "+")
    else:
        val = e.subs(_x, sp.Rational(x0))
        val = sp.nsimplify(val) if val.is_real is not False else sp.nan
    if val in (sp.oo, -sp.oo):
        return float(val)
    if val is sp.zoo or val is sp.nan or val.is_real is False:
        return float("nan")
    c = complex(sp.N(val, 30))
    return c.real if c.imag == 0 else float("nan")


def _chain(graph: Graph, wrt: str, mode: str) -> Graph:
    """The graph of ∂^wrt graph, one variable at a time, each step one AD sweep."""
    for v in wrt:
        if mode == "rev":
            graph = ad.grad(graph, v)
        else:
            t = ad.jvp(graph, wrt=[v], seed={v: 1.0})
            graph = Graph(graph.inputs, [t.outputs[1]], ["d"])
    return graph


def _eval(graph: Graph, backend: str, **inputs) -> float:
    if backend == "numpy":
        out = gc.evaluate(graph, **inputs)
    else:
        out = gc.compile(graph)(**inputs)
    return float(np.asarray(out))


def _close(got: float, want: float, dtype: str) -> bool:
    if np.isnan(want) or np.isinf(want):
        return got == want or (np.isnan(want) and np.isnan(got))
    tol = 1e-12 if dtype == "float64" else 2e-5
    return abs(got - want) <= tol * max(1.0, abs(want))


def _cases(variable: bool):
    out = []
    for n in NS:
        for k in ORDERS:
            for axis in (("x", "y") if variable else ("x",)):
                out.append((n, axis * k))
    if variable:
        out += [(n, w) for n in NS for w in ("xy", "yx", "xxy", "xyy")]
    return out


def _points(dtype):
    return [float(np.asarray(x, dtype=dtype)) for x in XS]


def _check(dtype, mode, backend, variable):
    x = ops.variable("x", dtype)
    bad, count = [], 0
    for n, wrt in _cases(variable):
        if variable:
            y = ops.variable("y", dtype)
            g = Graph([x, y], [ops.pow(x, y)])
        else:
            g = Graph([x], [ops.pow(x, ops.const(n, dtype))])
        d = _chain(g, wrt, mode)
        for x0 in _points(dtype):
            want = exact(wrt, n, x0)
            if x0 <= 0.0 and "x" in wrt and "y" in wrt:
                # mixed derivatives at x = 0 are conventions (docs/conventions.md); for
                # x < 0 there is no ∂/∂y, and a term y·ln(x)·... at y = 0 is absorbed
                continue
            inputs = {"x": np.asarray(x0, dtype)}
            if variable:
                inputs["y"] = np.asarray(n, dtype)
            got = _eval(d, backend, **inputs)
            count += 1
            if not _close(got, want, dtype):
                bad.append(f"d/d{wrt} x^{'y' if variable else ''}{n} at x={x0!r}: "
                           f"got {got}, want {want}")
    return bad, count


@pytest.mark.parametrize("variable", [False, True], ids=["x^n", "x^y"])
@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pow_derivatives_at_and_near_zero_match_sympy(dtype, mode, backend, variable):
    bad, count = _check(dtype, mode, backend, variable)
    assert not bad, f"{len(bad)} of {count} wrong:\n" + "\n".join(bad[:20])


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_pow_conventions_of_the_issue(mode):
    """The four cases of issue 11 (class 2), through the CLI-level API."""
    def d(src, *at):
        g = gc.parse(src)
        h = gc.grad(g) if mode == "rev" else gc.jacobian(g, mode="fwd")
        return [float(np.asarray(v)) for v in np.atleast_1d(gc.evaluate(h, *at))]
    assert d("x^0", 0.0) == [0.0]                       # autograd#116
    assert d("0^y", 2.0) == [0.0]                       # 0^y = 0 for y > 0
    assert d("x^y", 0.0, 2.0) == [0.0, 0.0]             # ∂/∂y x^y at (0, 2)
    assert d("x^y", 0.0, 0.0) == [0.0, -np.inf]         # limit of ln(x)·x^0
    h = gc.hessian(gc.parse("x^1"))
    assert np.array(gc.evaluate(h, 0.0), dtype=float).ravel().tolist() == [0.0]
