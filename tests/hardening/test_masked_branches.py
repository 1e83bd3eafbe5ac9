"""Masked branches: ``where(c, g(h(x)), k)`` differentiates like its selected branch.

Generated from the primitive registry: every composition ``G = g(h(x))`` of two
elementwise maps (each unary primitive, and each binary one with a constant on either
side), placed in three selects:

* A: ``where(x > 0, G, k)``, B: ``where(x <= 0, k, G)`` (G selected for x > 0),
* C: ``where(x > 0, k, G)`` (G selected for x <= 0),

with a constant ``k``. Where the branch of ``G`` is masked the derivative must be
exactly 0 in forward and reverse mode, also where ``G`` or its derivative is NaN or
infinite there (``sqrt`` or ``log`` of a negative number, ``asin(2)``, a pole of
``1/x``, an overflowing ``exp``); where ``G`` is selected it must be ``G'`` (ground
truth: Richardson-extrapolated central differences of NumPy's functions). One graph
holds every composition (one input and one output each, so a forward sweep with all
seeds 1 and a reverse sweep with all output cotangents 1 give every derivative at
once), for scalar graphs and for array graphs ``sum(where(...))`` over a vector, in
float64 and float32, evaluated by the NumPy interpreter and by LLVM kernels.
Second derivatives (forward over reverse, reverse over reverse) must be 0 where masked.

The record flag ``unbounded`` that places the zero-absorbing products is itself
checked against NumPy: any elementwise primitive that gives inf or NaN for moderate
finite arguments must carry it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numpy_interp import evaluate_all
from graphc.ir import PRIMITIVES, Graph, apply, ops
from graphc.ir import array_ops as aops
from graphc.passes import ad

C = 0.5       # the constant side of a binary map
K = 0.5       # the constant unselected branch
POINTS = np.array([-3.0, -1.5, -0.7, -0.2, -0.0, 0.0, 0.2, 0.7, 1.5, 3.0])
NP = {"float64": np.float64, "float32": np.float32}


def _maps():
    """(label, graph builder u -> node, NumPy function) for every elementwise map."""
    out = []
    for p in PRIMITIVES.values():
        if not p.elementwise or p.arity == 0 or p.name == "where":
            continue
        kw = dict(p.param_defaults)
        if p.arity == 1:
            out.append((f"{p.name}(u)", lambda u, p=p: apply(p, u),
                        lambda v, p=p, kw=kw: p.impl(v, **kw)))
        elif p.arity == 2:
            out.append((f"{p.name}(u,c)",
                        lambda u, p=p: apply(p, u, ops.const(C, u.dtype)),
                        lambda v, p=p, kw=kw: p.impl(v, np.asarray(C, v.dtype), **kw)))
            out.append((f"{p.name}(c,u)",
                        lambda u, p=p: apply(p, ops.const(C, u.dtype), u),
                        lambda v, p=p, kw=kw: p.impl(np.asarray(C, v.dtype), v, **kw)))
    return out


MAPS = _maps()
PAIRS = list(itertools.product(range(len(MAPS)), repeat=2))   # (g, h)
PLACEMENTS = ("A", "B", "C")


def _select(kind: str, x, G, k):
    zero = ops.const(0.0, x.dtype)
    if kind == "A":
        return ops.where(ops.gt(x, zero), G, k)
    if kind == "B":
        return ops.where(ops.le(x, zero), k, G)
    return ops.where(ops.gt(x, zero), k, G)


def _selected(kind: str, pts: np.ndarray) -> np.ndarray:
    return pts <= 0 if kind == "C" else pts > 0


def _np_G(g, h, v):
    with np.errstate(all="ignore"):
        return MAPS[g][2](np.asarray(MAPS[h][2](v), v.dtype))


def _fd(g, h, x: np.ndarray) -> np.ndarray:
    """G'(x) by Richardson-extrapolated central differences in float64, NaN where the
    estimate is not trustworthy (a kink or a non-finite value nearby)."""
    step = 1e-3 * np.maximum(1.0, np.abs(x))
    d = []
    with np.errstate(all="ignore"):
        for k in range(3):
            s = step / 2 ** k
            d.append((_np_G(g, h, x + s) - _np_G(g, h, x - s)) / (2 * s))
        s = step / 4   # a kink: the one-sided slopes disagree
        right = (_np_G(g, h, x + s) - _np_G(g, h, x)) / s
        left = (_np_G(g, h, x) - _np_G(g, h, x - s)) / s
        r1 = (4 * d[1] - d[0]) / 3
        r2 = (4 * d[2] - d[1]) / 3
        best = (16 * r2 - r1) / 15
        ok = np.isfinite(best) & (np.abs(r2 - r1) <= 1e-7 * (1 + np.abs(best)))
        ok &= np.isfinite(_np_G(g, h, x))
        ok &= np.isfinite(MAPS[h][2](x))   # no chain rule through an infinite h(x)
        ok &= np.abs(right - left) <= 1e-2 * (1 + np.abs(best))
    return np.where(ok, best, np.nan)


def _truth(dtype: str):
    """{(g, h, kind): (expected G' per point, NaN where unknown; masked mask)} at the
    dtype-rounded points, and the number of masked (pair, placement, point) triples
    where the masked branch or its neighbourhood is non-finite."""
    pts = POINTS.astype(NP[dtype]).astype(np.float64)
    pts[4] = -0.0
    fd = {}
    poisoned = 0
    for g, h in PAIRS:
        d = _fd(g, h, pts)
        if dtype == "float32":   # skip ill-conditioned points: float32 G far from float64 G
            v64 = _np_G(g, h, pts)
            v32 = _np_G(g, h, pts.astype(np.float32)).astype(np.float64)
            with np.errstate(all="ignore"):
                bad = ~(np.abs(v32 - v64) <= 1e-5 * (1 + np.abs(v64)))
            d = np.where(bad, np.nan, d)
        fd[g, h] = d
        near = np.stack([_np_G(g, h, pts + s) for s in (-1e-3, 0.0, 1e-3)])
        nonfinite = ~np.isfinite(near).all(axis=0)
        for kind in PLACEMENTS:
            poisoned += int(np.sum(nonfinite & ~_selected(kind, pts)))
    return fd, poisoned


_TRUTH: dict = {}


def truth(dtype):
    if dtype not in _TRUTH:
        _TRUTH[dtype] = _truth(dtype)
    return _TRUTH[dtype]


_GRAPHS: dict = {}


def _build(dtype: str, array: bool, pairs, n: int):
    """One graph: input x_i and output y_i per (pair, placement); memoised."""
    key = (dtype, array, tuple(pairs), n)
    if key in _GRAPHS:
        return _GRAPHS[key]
    inputs, outputs, keys = [], [], []
    k = ops.const(K, dtype)
    for (g, h) in pairs:
        for kind in PLACEMENTS:
            i = len(inputs)
            x = ops.variable(f"x{i}", dtype, (n,) if array else ())
            y = _select(kind, x, MAPS[g][1](MAPS[h][1](x)), k)
            if array:
                y = aops.sum(y)
            inputs.append(x)
            outputs.append(y)
            keys.append((g, h, kind))
    _GRAPHS.clear()   # keep one: the tests of one configuration run together
    _GRAPHS[key] = Graph(inputs, outputs, [f"y{i}" for i in range(len(outputs))]), keys
    return _GRAPHS[key]


def _derivative_graph(graph: Graph, mode: str) -> Graph:
    """Every output's derivative with respect to its own input, in one sweep."""
    if mode == "fwd":
        return ad.jvp(graph, seed={x.name: 1.0 for x in graph.inputs})
    return ad.vjp(graph, seed={y: 1.0 for y in graph.output_names})


def _run(graph: Graph, inputs: dict, backend: str) -> list[np.ndarray]:
    if backend == "numpy":
        vals = evaluate_all(graph, inputs)
        return [np.asarray(vals[o], dtype=np.float64) for o in graph.outputs]
    kernel = gc.compile(graph)
    out = kernel(**inputs)
    flat = []
    stack = [out]
    while stack:   # depth-first, left to right: the order of graph.outputs
        t = stack.pop()
        if isinstance(t, tuple):
            stack.extend(reversed(t))
        else:
            flat.append(np.asarray(t, dtype=np.float64))
    return flat


def _check(dtype, array, mode, backend, pairs):
    """Differentiate the graph of ``pairs`` and compare with the truth; returns the
    failures ``(g, h, placement, x, got, want)`` and the number of cases checked."""
    pts = POINTS.astype(NP[dtype])
    pts[4] = -0.0
    fd, _ = truth(dtype)
    graph, keys = _build(dtype, array, pairs, len(pts))
    dgraph = _derivative_graph(graph, mode)
    got = _run(dgraph, {x.name: pts for x in graph.inputs}, backend)[len(keys):]
    rtol = 1e-6 if dtype == "float64" else 2e-3
    p64 = pts.astype(np.float64)
    sel = np.stack([_selected(kind, p64) for _, _, kind in keys])
    want = np.where(sel, np.stack([fd[g, h] for g, h, _ in keys]), 0.0)
    known = ~sel | np.isfinite(want)
    if mode == "fwd" and array:   # one directional derivative: the sum over entries
        rows = known.all(axis=1)
        got = np.array([float(d) for d in got])[rows]
        want_s = want[rows].sum(axis=1)
        wrong = ~np.isclose(got, want_s, rtol=rtol, atol=rtol)
        idx = np.flatnonzero(rows)[wrong]
        return ([(*keys[i], "sum", float(a), float(b)) for i, a, b in
                 zip(idx, got[wrong], want_s[wrong])], int(rows.sum()))
    got = np.stack([np.broadcast_to(d, pts.shape) for d in got])
    with np.errstate(all="ignore"):
        ok = np.where(sel, np.isclose(got, want, rtol=rtol, atol=rtol), got == 0.0)
    bad = known & ~ok
    failures = [(*keys[i], float(p64[j]), float(got[i, j]), float(want[i, j]))
                for i, j in zip(*np.nonzero(bad))]
    return failures, int(known.sum())


def _report(failures):
    lines = [f"where-{kind}: G = {MAPS[g][0]} o {MAPS[h][0]} at x = {x}: "
             f"got {got}, want {want}" for g, h, kind, x, got, want in failures[:15]]
    return f"{len(failures)} wrong derivatives, e.g.\n" + "\n".join(lines)


def _share(k: int, r: int):
    """The pairs with (g + 3h) % k == r (3 is invertible mod 2, 8 and 32, so every map
    still appears as g and as h, and the shares for r = 0 … k-1 partition the pairs)."""
    return [(g, h) for g, h in PAIRS if (g + 3 * h) % k == r]


# The default run keeps to a few seconds per test: in scalar graphs every pair is
# checked once in reverse and once in forward mode (float64 for one half, float32 for
# the other); array graphs, LLVM kernels and second derivatives take smaller shares.
# The slow run checks every pair in every configuration.
SCALAR_SHARE = {("float64", "rev"): 0, ("float32", "rev"): 1,
                ("float64", "fwd"): 1, ("float32", "fwd"): 0}


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_masked_branch_derivative_is_the_selected_branchs(dtype, mode):
    """Scalar graphs, NumPy interpreter, half of all pairs (g, h) × 3 placements."""
    pairs = _share(2, SCALAR_SHARE[dtype, mode])
    failures, cases = _check(dtype, False, mode, "numpy", pairs)
    assert not failures, _report(failures)
    assert cases > 20 * len(pairs)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_masked_branch_derivative_in_array_graphs(dtype, mode):
    """sum(where(...)) over a vector: the gradient is the selected branch's entry by
    entry (reverse), the tangent of the sum their sum (forward)."""
    pairs = _share(8, 2 * SCALAR_SHARE[dtype, mode] + (mode == "rev"))
    failures, cases = _check(dtype, True, mode, "numpy", pairs)
    assert not failures, _report(failures)
    assert cases > len(pairs)


@pytest.mark.parametrize("array", [False, True], ids=["scalar", "array"])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_masked_branch_derivative_llvm(dtype, mode, array):
    """The same checks on LLVM kernels (``gc.compile``, which also runs the clean-up
    passes), a 1/32 share of the pairs per configuration."""
    pairs = _share(32, 4 * SCALAR_SHARE[dtype, mode] + 2 * (mode == "rev") + array)
    failures, cases = _check(dtype, array, mode, "llvm", pairs)
    assert not failures, _report(failures)
    assert cases > len(pairs)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("array", [False, True], ids=["scalar", "array"])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_masked_branch_derivative_all_pairs(dtype, mode, array, backend):
    failures = []
    for r in range(16):   # 16 graphs of ~450 selects: one giant kernel is slow to build
        failures += _check(dtype, array, mode, backend, _share(16, r))[0]
    assert not failures, _report(failures)


SECOND_ORDERS = ["fwd-over-rev", "rev-over-rev", "fwd-over-fwd"]


@pytest.mark.parametrize("order", SECOND_ORDERS)
def test_masked_second_derivative_is_zero(order, pairs=None):
    """d²/dx² where(...) is 0 wherever G is masked, whatever G does there (a 1/8 share
    of the pairs per order; all of them in the slow run)."""
    pts = POINTS.copy()
    if pairs is None:
        pairs = _share(8, SECOND_ORDERS.index(order))
    graph, keys = _build("float64", False, pairs, len(pts))
    first = _derivative_graph(graph, "fwd" if order == "fwd-over-fwd" else "rev")
    n = len(keys)
    d1 = Graph(graph.inputs, first.outputs[n:], [f"d{i}" for i in range(n)])
    second = _derivative_graph(d1, "rev" if order == "rev-over-rev" else "fwd")
    got = _run(second, {x.name: pts for x in graph.inputs}, "numpy")[n:]
    bad = []
    for (g, h, kind), d in zip(keys, got):
        d = np.broadcast_to(d, pts.shape)
        masked = ~_selected(kind, pts)
        if not np.all(d[masked] == 0.0):
            j = int(np.flatnonzero(masked & (d != 0.0))[0])
            bad.append((g, h, kind, float(pts[j]), float(d[j]), 0.0))
    assert not bad, _report(bad)


@pytest.mark.slow
@pytest.mark.parametrize("order", SECOND_ORDERS)
def test_masked_second_derivative_is_zero_all_pairs(order):
    test_masked_second_derivative_is_zero(order, PAIRS)


def test_masked_cases_cover_non_finite_branches():
    """The generated points do hit masked branches that are NaN or infinite."""
    _, poisoned = truth("float64")
    assert poisoned > 1000, poisoned


# -- the record flag that places the absorbing products -----------------------------

GRID = np.array([0.0, -0.0, 1e-30, 0.1, 0.5, 0.9, 1.0, 1.1, 1.5, 2.0, 3.0, 10.0, 88.0,
                 100.0, 710.0, 1000.0, np.pi / 2, 1e-300])
GRID = np.concatenate([GRID, -GRID])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("prim", [p for p in PRIMITIVES.values()
                                  if p.elementwise and p.arity > 0],
                         ids=lambda p: p.name)
def test_unbounded_flag_matches_numpy(prim, dtype):
    """A primitive whose NumPy value is inf or NaN for some finite arguments of
    magnitude <= 1e3 must say ``unbounded`` (AD relies on it to absorb 0·∞, 0·NaN)."""
    grid = GRID.astype(NP[dtype])
    args = np.meshgrid(*([grid] * prim.arity), indexing="ij")
    with np.errstate(all="ignore"):
        v = prim.impl(*args, **prim.param_defaults)
    nonfinite = ~np.isfinite(v)
    if nonfinite.any() and not prim.unbounded:
        where_ = tuple(float(a[nonfinite][0]) for a in args)
        pytest.fail(f"{prim.name}{where_} = {v[nonfinite][0]} in {dtype}, but its record "
                    f"does not say unbounded=True")
