"""Reductions over middle axes with the reduction loops inside the innermost level
(graphc.backends.llvm.arrays._reductions_inside / _Codegen._inner_blocked).

Cases are generated over the branches of the tiled code generator: innermost extents
around the SIMD width and the tile (1, 3, W, tile*W, tails), one or two reduced levels,
a tiled outer level with and without a remainder, every reduction operation, both
dtypes, two results in one loop nest, IEEE edge values (NaN, ±inf, -0.0). Ground truth
is NumPy; each case also runs with the interchange disabled, and the two must agree
with NumPy within a few ulps of the summation order.
"""

import itertools

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import arrays as llvm_arrays
from graphc.backends.plan import LoopNest, Out, View
from graphc.ir import ops
from graphc.ir.array_ops import amax, amin, prod as aprod
from graphc.ir.array_ops import sum as asum

REDUCE = {"sum": (asum, np.sum), "prod": (aprod, np.prod), "max": (amax, np.max),
          "min": (amin, np.min)}

# (shape, reduced axes): the reduced axes are never the innermost one
SHAPES = [((5, 7), (0,)), ((3, 4, 8), (1,)), ((2, 9, 3, 13), (1, 2)), ((6, 5, 16), (0, 1)),
          ((11, 3, 64), (1,)), ((2, 17, 1), (1,)), ((3, 4, 70), (1,)), ((10, 2, 3, 9), (1,)),
          ((2, 40, 256), (1,))]


def _cases():
    for (shape, axes), op, dtype in itertools.product(SHAPES, REDUCE, ("float64", "float32")):
        if dtype == "float32" and op in ("prod",) and len(shape) > 3:
            continue
        yield shape, axes, op, dtype


def _data(shape, dtype, op, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, shape) if op == "prod" else rng.standard_normal(shape)
    return x.astype(dtype)


def _compile(shape, axes, op, dtype):
    X = ops.variable("X", dtype=dtype, shape=shape)
    fn = REDUCE[op][0]
    # two results over the same loop: the reduction of x*x and of x + 1
    return gc.compile(gc.Graph([X], [fn(X * X, axis=axes), fn(X + 1.0, axis=axes)]))


@pytest.mark.parametrize("shape, axes, op, dtype", list(_cases()),
                         ids=lambda v: str(v).replace(" ", ""))
def test_middle_axis_reductions_match_numpy(shape, axes, op, dtype, monkeypatch):
    x = _data(shape, dtype, op, hash((shape, op)) % 2**32)
    ref = REDUCE[op][1]
    want = [ref((x * x).astype(np.float64), axis=axes), ref((x + 1.0).astype(np.float64), axis=axes)]
    rtol = 1e-12 if dtype == "float64" else 2e-5
    got = _compile(shape, axes, op, dtype)(x)
    gc.clear_cache()
    monkeypatch.setattr(llvm_arrays, "REGISTER_INNER_MAX", 0)   # the original loop order
    plain = _compile(shape, axes, op, dtype)(x)
    gc.clear_cache()
    for g, p, w in zip(got, plain, want):
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(np.asarray(p, np.float64), w, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_ieee_edge_values_propagate_like_numpy(op):
    edges = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e308, -1e308, 5e-324])
    rng = np.random.default_rng(7)
    x = rng.choice(edges, size=(3, 6, 19))
    X = ops.variable("X", shape=x.shape)
    k = gc.compile(gc.Graph([X], [REDUCE[op][0](X, axis=(1,))]))
    with np.errstate(all="ignore"):
        want = REDUCE[op][1](x, axis=1)
    got = np.asarray(k(x))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(want), rtol=1e-15)


def _nest(shape, dest_strides, op="sum"):
    dest = View(("out", 0), 0, shape, dest_strides, "float64", 0)
    return LoopNest(shape, outs=[Out(None, dest, op)])


def test_interchange_moves_reduced_levels_inside_and_declines_otherwise():
    # y[n, o, p] += w[o, c] * x[n, c, p]: levels (n, o, c, p), c reduced
    shape = (4, 5, 3, 16)
    strides = [(0, 3, 1, 0), (48, 0, 16, 1), (80, 16, 0, 1)]   # w, x, dest
    new_shape, new_strides, nred = llvm_arrays._reductions_inside(
        _nest(shape, strides[2]), shape, strides, [2], [])
    assert nred == 1 and new_shape == (4, 5, 3, 16)
    # a reduced level outside a kept one moves in: (c, n, p) -> (n, c, p)
    shape2, strides2 = (3, 4, 16), [(16, 48, 1), (0, 16, 1)]
    s, st, nred = llvm_arrays._reductions_inside(_nest(shape2, strides2[1]), shape2, strides2,
                                                 [1], [])
    assert nred == 1 and s == (4, 3, 16) and st[0] == (48, 16, 1)
    # declined: a store, the innermost level reduced, too long an innermost level
    assert llvm_arrays._reductions_inside(_nest(shape2, strides2[1], "store"), shape2,
                                          strides2, [1], [])[2] == 0
    inner = [(16, 1, 0), (1, 0, 0)]
    assert llvm_arrays._reductions_inside(_nest((3, 4, 16), inner[1]), (3, 4, 16), inner,
                                          [1], [])[2] == 0
    long = (3, 4, llvm_arrays.REGISTER_INNER_MAX + 1)
    assert llvm_arrays._reductions_inside(_nest(long, (0, long[2], 1)), long,
                                          [(long[2], 0, 1), (0, long[2], 1)], [1], [])[2] == 0
