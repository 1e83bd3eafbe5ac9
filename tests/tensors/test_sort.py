"""``sort`` and ``argsort`` (issue 13, part 7): the ``argsort`` primitive and the
``sort`` composite (``take_along_axis(x, argsort(x), axis)``) against ground truth we
did not write: NumPy (``np.sort``/``np.argsort`` with ``kind="stable"``) for values,
JAX (``jax.grad``/``jax.jvp``/``jax.vjp``/``jax.hessian``/``jax.vmap`` of the same
functions with ``jnp.sort``) and central finite differences for derivatives. Both the
NumPy interpreter and the LLVM backend run every graph; the CUDA lowering runs on
Numba's simulator in a child process (tests/cuda/cuda_sim_sort_cases.py). The
registry-driven suites (tests/tensors/test_array_primitives.py,
tests/frontend/test_vmap.py, tests/cuda/cuda_sim_array_cases.py...) walk the
``argsort`` record's examples too."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp
from graphc.ir import Graph, GraphcError, InputError, ShapeError, ops
from graphc.ir import index_ops as I
from helpers import central_difference, sort_test_values

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

HERE = Path(__file__).resolve().parent
TOL = {"float64": 1e-12, "float32": 2e-5}



def _same(got, want, dtype):
    """Bit-for-bit: values, NaN places and the sign of each zero (NumPy's stable order
    keeps -0.0 and 0.0 in index order)."""
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == np.dtype(dtype), (got.shape, got.dtype)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def _backends(g, *args):
    return [gc.evaluate(g, *args), gc.compile(g, target="llvm")(*args)]


# ---------------------------------------------------------------------------------
# values

SHAPES_AXES = [((9,), -1), ((9,), 0), ((9,), None), ((1,), -1), ((0,), -1), ((2,), 0),
               ((4, 7), -1), ((4, 7), 0), ((4, 7), None), ((3, 0), -1), ((0, 3), -1),
               ((0, 3), 0), ((2, 3, 17), 1), ((2, 3, 17), -1), ((2, 3, 17), 0),
               ((5, 1), -1), ((3, 40), 1), ((1, 70), -1)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_sort_and_argsort_match_numpy_stable(shape, axis, dtype):
    X = sort_test_values(shape, dtype, seed=len(shape) * 31 + (axis or 0))
    x = ops.variable("x", dtype, shape)
    g = Graph([x], [gnp.sort(x, axis=axis), gnp.argsort(x, axis=axis),
                    np.sort(x, axis=axis), np.argsort(x, axis=axis, kind="stable")])
    ws = np.sort(X, axis=axis, kind="stable")
    wa = np.argsort(X, axis=axis, kind="stable").astype(dtype)
    for outs in _backends(g, X):
        for got, want in zip(outs, [ws, wa, ws, wa]):
            _same(got, want, dtype)
    _same(gnp.sort(X, axis=axis), ws, dtype)            # eager, on arrays
    _same(gnp.argsort(X, axis=axis), wa, dtype)


def test_ordering_of_special_values_is_numpy_s():
    X = np.array([np.nan, 0.0, -np.inf, -0.0, 1.0, np.inf, -np.nan, 0.0, -0.0, -1.0, 1.0])
    want = np.argsort(X, kind="stable")
    # NaNs last in index order, -0.0 and 0.0 tie (index order), -inf first
    assert want.tolist() == [2, 9, 1, 3, 7, 8, 4, 10, 5, 0, 6]
    x = ops.variable("x", "float64", X.shape)
    for outs in _backends(Graph([x], [gnp.argsort(x), gnp.sort(x)]), X):
        _same(outs[0], want.astype(float), "float64")
        _same(outs[1], np.sort(X, kind="stable"), "float64")


@pytest.mark.parametrize("n", [2, 15, 16, 17, 31, 33, 100, 1000, 100_000])
def test_long_rows_match_numpy(n):
    """Lengths around the insertion-sort run (16) and its doublings, up to 10⁵, with
    many ties and NaNs, in one LLVM kernel (the argsort and the sort)."""
    rng = np.random.default_rng(n)
    X = rng.normal(size=n)
    X[rng.random(n) < 0.3] = 0.5
    X[::7] = np.nan
    X[1::5] = np.round(X[1::5])
    x = ops.variable("x", "float64", (n,))
    k = gc.compile(Graph([x], [gnp.argsort(x), gnp.sort(x)]), target="llvm")
    got = k(X)
    _same(got[0], np.argsort(X, kind="stable").astype(float), "float64")
    _same(got[1], np.sort(X, kind="stable"), "float64")


def test_many_rows_of_a_strided_view():
    """Rows that are a transposed, sliced view of the input (strided loads)."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 5, size=(40, 30)).astype(float)
    x = ops.variable("x", "float64", X.shape)
    y = gnp.transpose(x)[:, 3:]
    g = Graph([x], [gnp.argsort(y), gnp.sort(y * 2.0, axis=0)])
    Y = X.T[:, 3:]
    for outs in _backends(g, X):
        _same(outs[0], np.argsort(Y, kind="stable").astype(float), "float64")
        _same(outs[1], np.sort(Y * 2.0, axis=0), "float64")


def test_symbolic_length_one_kernel_many_lengths():
    """A symbolic row length: one compiled kernel specialised per length, 0 included;
    the gradient of sum(sort(x) * x) against JAX's."""
    g = gc.parse("sum(sort(x) * x)", x=("n",))
    k = gc.compile(gc.grad(g), target="llvm")
    for n in (0, 1, 2, 17, 64):
        X = np.random.default_rng(n).integers(-3, 4, size=n).astype(float)
        want = np.asarray(jax.grad(lambda v: jnp.sum(jnp.sort(v) * v))(X))
        got = k(X)
        got = got[0] if isinstance(got, tuple) else got
        np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want)


# ---------------------------------------------------------------------------------
# derivatives: the permutation of the tangent (JAX's convention)

W = np.array([0.3, -1.2, 2.0, 0.7, -0.4, 1.1, 0.05])


def _weighted(xp, sort):
    return lambda x: xp.sum(W * sort(x) ** 2) + xp.sum(xp.sin(sort(x)))


def _trimmed_mean(xp, sort):
    return lambda x: xp.mean(sort(x)[1:-2])


def _median(xp, sort):      # odd length 7: the middle entry; + a smooth part
    return lambda x: sort(x)[3] + 0.1 * xp.sum(x * x)


def _median_even(xp, sort):  # 6 of the 7: the mean of the two middle ones
    return lambda x: 0.5 * (sort(x[1:])[2] + sort(x[1:])[3])


def _rows(xp, sort):         # a 2-D sort along axis 0 and along rows
    return lambda x: xp.sum(xp.cos(sort(x.reshape(7, 1) * x.reshape(1, 7), 0)) *
                            sort(x.reshape(1, 7) - x.reshape(7, 1)))


FUNCS = {"weighted": _weighted, "trimmed_mean": _trimmed_mean, "median": _median,
         "median_even": _median_even, "rows": _rows}


def _gc_sort(x, axis=-1):
    return gnp.sort(x, axis=axis)


def _jax_sort(x, axis=-1):
    return jnp.sort(x, axis=axis)


POINTS = {
    "distinct": np.array([0.4, -1.3, 2.2, 0.1, -0.7, 1.6, 0.9]),
    "ties": np.array([1.0, -0.5, 1.0, 2.0, -0.5, 1.0, 0.0]),
}


@pytest.mark.parametrize("point", sorted(POINTS))
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradient_jvp_and_vjp_match_jax(name, point):
    X = POINTS[point]
    f = gc.function(FUNCS[name](gnp, _gc_sort), shapes={"x": (7,)})
    jf = FUNCS[name](jnp, _jax_sort)
    want_g = np.asarray(jax.grad(jf)(X))
    g = gc.grad(f.graph)
    for got in _backends(g, X):
        got = got[0] if isinstance(got, tuple) else got
        np.testing.assert_allclose(got, want_g, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gc.grad(f)(X), want_g, rtol=1e-12, atol=1e-12)
    T = np.random.default_rng(1).normal(size=7)
    want_v, want_t = jax.jvp(jf, (X,), (T,))
    for got in _backends(gc.jvp(f.graph), X, T):
        np.testing.assert_allclose(got[0], want_v, rtol=1e-12)
        np.testing.assert_allclose(got[1], want_t, rtol=1e-12, atol=1e-12)
    y, back = gc.vjp(f, X)
    _, jback = jax.vjp(jf, X)
    np.testing.assert_allclose(y, want_v, rtol=1e-12)
    np.testing.assert_allclose(back(1.7)[0], np.asarray(jback(1.7)[0]), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradient_matches_finite_differences(name):
    """Away from ties sort is smooth: the gradient equals central differences."""
    X = POINTS["distinct"]
    f = gc.function(FUNCS[name](gnp, _gc_sort), shapes={"x": (7,)})
    ref = FUNCS[name](np, lambda v, axis=-1: np.sort(v, axis=axis))
    want = central_difference(ref, X, 1e-6)
    np.testing.assert_allclose(gc.grad(f)(X), want, rtol=1e-6, atol=1e-7)


def test_tie_derivative_goes_to_the_stable_permutation():
    """At a tie the derivative is that of the stable permutation, as JAX's:
    d sort(x)[0] at x = [1, 1] is e_0, and the gradient of the top entry is e_1."""
    X = np.array([1.0, 1.0])
    for k, want in ((0, [1.0, 0.0]), (1, [0.0, 1.0])):
        def entry(xp, k=k):
            return lambda x: xp.sort(x)[k]
        f = gc.function(entry(gnp), shapes={"x": (2,)})
        np.testing.assert_array_equal(gc.grad(f)(X), want)
        np.testing.assert_array_equal(jax.grad(entry(jnp))(X), want)


def test_hessian_matches_jax():
    X = POINTS["distinct"]
    f = gc.function(_weighted(gnp, _gc_sort), shapes={"x": (7,)})
    want = np.asarray(jax.hessian(_weighted(jnp, _jax_sort))(X))
    np.testing.assert_allclose(np.asarray(gc.hessian(f)(X)), want, rtol=1e-12, atol=1e-12)


def test_argsort_has_zero_derivative():
    """argsort is piecewise constant: d/dx sum(argsort(x) * x) is argsort(x) (the
    product rule through x only), as JAX's (whose argsort is integer-valued)."""
    X = POINTS["distinct"]
    x = ops.variable("x", "float64", (7,))
    g = Graph([x], [gnp.sum(gnp.argsort(x) * x)])
    want = np.asarray(jax.grad(lambda v: jnp.sum(jnp.argsort(v).astype(v.dtype) * v))(X))
    np.testing.assert_array_equal(want, np.argsort(X).astype(float))
    for got in _backends(gc.grad(g), X):
        got = got[0] if isinstance(got, tuple) else got
        np.testing.assert_array_equal(got, want)
    for got in _backends(gc.jvp(Graph([x], [gnp.argsort(x)])), X, np.ones(7)):
        np.testing.assert_array_equal(got[1], np.zeros(7))


# ---------------------------------------------------------------------------------
# vmap

@pytest.mark.parametrize("in_axis", [0, 1])
def test_vmap_matches_jax_vmap(in_axis):
    rng = np.random.default_rng(5)
    X = rng.integers(-3, 4, size=(6, 9)).astype(float)
    X[2, 4] = np.nan

    def f(v):
        return gnp.sort(v) * gnp.argsort(v)

    def jf(v):
        return jnp.sort(v) * jnp.argsort(v, stable=True).astype(v.dtype)
    for target in ("numpy", "llvm"):
        got = gc.vmap(f, in_axes=in_axis, target=target)(X)
        want = jax.vmap(jf, in_axes=in_axis)(X)
        np.testing.assert_array_equal(got, np.asarray(want))
    # per-example gradients, vs JAX
    Y = rng.normal(size=(5, 7))
    got = gc.vmap(gc.grad(gc.function(_weighted(gnp, _gc_sort), shapes={"x": (7,)})))(Y)
    want = jax.vmap(jax.grad(_weighted(jnp, _jax_sort)))(Y)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------------------------
# front ends, printing, errors

def test_parser_names_and_printing():
    g = gc.parse("sum(sort(x, axis=0) * argsort(x))", x=(3, 4))
    X = np.random.default_rng(6).normal(size=(3, 4))
    want = np.sum(np.sort(X, axis=0) * np.argsort(X, kind="stable"))
    for got in _backends(g, X):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    text = gc.to_text(g)
    assert "argsort(" in text and "gather(" in text
    again = gc.parse("sum(gather(transpose(x), argsort(transpose(x)), axis=1))", x=(3, 4))
    np.testing.assert_allclose(gc.evaluate(again, X), np.sum(np.sort(X, axis=0)), rtol=1e-14)
    x = ops.variable("x", "float64", (4,))
    node = I.argsort(x)
    assert I.argsort_p.latex.format("x") == r"\operatorname{argsort}\left(x\right)"
    assert node.prim.name == "argsort" and "argsort" in gc.ir.PRIMITIVES
    assert I.argsort_p in I.INDEX_PRIMITIVES


def test_sorting_needs_no_index_check_but_other_argsort_uses_do():
    """The indices of sort's gather are in range by construction (no run-time check);
    an argsort of a longer axis used to index a shorter one is checked."""
    x = ops.variable("x", "float64", (5,))
    g = Graph([x], [gnp.sort(x), gnp.sort(gnp.reshape(x, (5, 1)), axis=0)])
    assert I.index_uses(g) == []
    y = ops.variable("y", "float64", (3,))
    g = Graph([x, y], [gnp.take_along_axis(y, gnp.argsort(x), 0)])
    assert len(I.index_uses(g)) == 1
    X = np.array([4.0, 3.0, 2.0, 1.0, 0.0])
    for run in (lambda *a: gc.evaluate(g, *a), gc.compile(g, target="llvm")):
        with pytest.raises(InputError, match="out of bounds"):
            run(X, np.zeros(3))


def test_errors_are_clear():
    x = ops.variable("x", "float64", (4,))
    with pytest.raises(GraphcError, match="kind='fastest'"):
        gnp.sort(x, kind="fastest")
    with pytest.raises(GraphcError, match="kind="):
        np.argsort(x, kind="bogus")
    with pytest.raises(GraphcError, match="order="):
        gnp.argsort(x, order="f")
    with pytest.raises(ShapeError, match="axis 1 is out of range"):
        gnp.sort(x, axis=1)
    with pytest.raises(ShapeError, match="scalar"):
        gnp.sort(ops.variable("s"))
    with pytest.raises(ShapeError, match="scalar"):
        I.apply(I.argsort_p, ops.variable("s"))
    assert gnp.sort(ops.variable("s"), axis=None).shape == (1,)
    with pytest.raises(ShapeError, match="2\\*\\*24"):
        gnp.argsort(ops.variable("big", "float32", (2 ** 24 + 1,)))
    for kind in I.SORT_KINDS:               # NumPy's names are accepted: always stable
        assert gnp.sort(x, kind=kind).shape == (4,)
    with pytest.raises(np.exceptions.AxisError):
        np.sort(np.ones(4), axis=1)          # NumPy rejects the same axis


# ---------------------------------------------------------------------------------
# CUDA: the simulator cases in their own process

def test_cuda_simulator_cases():
    sys.path.insert(0, str(HERE.parent / "cuda"))
    from _cuda_helpers import run_simulator_cases
    run_simulator_cases("cuda_sim_sort_cases.py")
