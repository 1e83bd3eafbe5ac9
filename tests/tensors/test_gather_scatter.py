"""Gather (``take``, ``take_along_axis``, ``x[idx]``), scatter-add (``x.at[idx].add``,
``gnp.add_at``) and ``det`` (issue 15, part 4) against NumPy and JAX: values in both
dtypes, forward and reverse mode (``jax.jacfwd``, ``jax.grad``, ``jax.hessian``),
repeated and negative indices, out-of-range errors, the NumPy interpreter and the LLVM
backend. The CUDA lowering runs on Numba's simulator in a child process
(tests/cuda/cuda_sim_gather_cases.py); the registry-driven suites
(tests/tensors/test_array_primitives.py, tests/cuda/cuda_sim_array_cases.py) check every
example of the three records by finite differences too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp
from graphc.ir import Graph, InputError, ShapeError, ops

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

TOL = {"float64": 1e-12, "float32": 2e-5}
ROOT = Path(__file__).resolve().parents[2]


def _backends(g, *args):
    """The graph's outputs by the NumPy interpreter and by the LLVM backend."""
    want = gc.evaluate(g, *args)
    got = gc.compile(g, target="llvm")(*args)
    return want, got


def _close(a, b, dtype="float64", scale=1.0):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=TOL[dtype], atol=TOL[dtype] * scale)


# ---------------------------------------------------------------------------------
# gather

TAKE_CASES = [  # (array shape, indices, axis)
    ((7,), [0, 3, 3, -1, -7], 0),
    ((4, 5), [[1, -1], [0, 0]], 1),
    ((4, 5), [2, 2, -4], 0),
    ((3, 4, 2), [1, -2, 0, 3], -2),
    ((3, 4), [5, -12, 0], None),
    ((4, 5), 3, 1),
    ((4, 5), -1, 0),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,idx,axis", TAKE_CASES)
def test_take_matches_numpy_and_jax_on_both_backends(shape, idx, axis, dtype):
    rng = np.random.default_rng(len(shape))
    X = rng.normal(size=shape).astype(dtype)
    I = np.asarray(idx)
    x = ops.variable("x", dtype, shape)
    i = ops.variable("i", dtype, I.shape)
    g = Graph([x, i], [gnp.take(x, i, axis=axis), gnp.take(x, I, axis=axis)])
    want_np = np.take(X, I, axis=axis)
    want_jax = np.asarray(jnp.take(jnp.asarray(X), jnp.asarray(I), axis=axis))
    np.testing.assert_array_equal(want_np, want_jax)
    for outs in _backends(g, X, I.astype(float)):
        for o in outs:                    # graph-input indices, then constant ones
            assert o.shape == want_np.shape and o.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(o, want_np)
    np.testing.assert_array_equal(gnp.take(X, I, axis=axis), want_np)  # eager


def test_integer_array_indexing_of_nodes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 6))
    I = np.array([4, -1, 0, 0])
    x = ops.variable("x", "float64", (5, 6))
    i = ops.variable("i", "float64", (4,))
    g = Graph([x, i], [x[I], x[:, I], x[..., i], x[1:, i], x[[2, -2]],
                       x[np.array([[1, 2], [3, 4]])]])
    want = [X[I], X[:, I], X[..., I], X[1:, I], X[[2, -2]], X[np.array([[1, 2], [3, 4]])]]
    jx = jnp.asarray(X)
    np.testing.assert_array_equal(np.asarray(jx[:, I]), want[1])
    np.testing.assert_array_equal(np.asarray(jx[1:, I]), want[3])
    for outs in _backends(g, X, I.astype(float)):
        for o, w in zip(outs, want):
            np.testing.assert_array_equal(o, w)
    # a scalar graph value as the index drops the axis, like NumPy's integer
    k = ops.variable("k", "float64", ())
    g = Graph([x, k], [x[k]])
    np.testing.assert_array_equal(gc.compile(g, target="llvm")(X, 3.0), X[3])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_take_along_axis_with_broadcasting(dtype):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(4, 6)).astype(dtype)
    I = np.argsort(X, axis=1)[:, ::-1][:, :3]             # top 3 per row
    J = np.array([[0, -1, 2]])                            # broadcast over the rows
    x = ops.variable("x", dtype, (4, 6))
    g = Graph([x], [gnp.take_along_axis(x, I, axis=1), gnp.take_along_axis(x, J, 1)])
    want = [np.take_along_axis(X, I, 1), np.asarray(jnp.take_along_axis(X, J, 1))]
    for outs in _backends(g, X):
        for o, w in zip(outs, want):
            np.testing.assert_array_equal(o, w)


# ---------------------------------------------------------------------------------
# scatter-add

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_at_add_accumulates_repeated_indices_like_jax(dtype):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 3)).astype(dtype)
    I = np.array([0, 4, 0, -1, 2, 0])
    V = rng.normal(size=(6, 3)).astype(dtype)
    x = ops.variable("x", dtype, (5, 3))
    i = ops.variable("i", dtype, (6,))
    v = ops.variable("v", dtype, (6, 3))
    W = rng.normal(size=(5, 2)).astype(dtype)
    g = Graph([x, i, v], [x.at[i].add(v), x.at[I].add(1.0), x.at[:, np.array([2, -1])].add(W)])
    want = [np.asarray(jnp.asarray(X).at[I].add(V)), np.asarray(jnp.asarray(X).at[I].add(1.0)),
            np.asarray(jnp.asarray(X).at[:, np.array([2, -1])].add(W))]
    ref = X.copy()
    np.add.at(ref, I, V)
    _close(want[0], ref, dtype)
    for outs in _backends(g, X, I.astype(float), V):
        for o, w in zip(outs, want):
            assert o.dtype == np.dtype(dtype)
            _close(o, w, dtype, scale=10)


def test_gnp_add_at_is_functional_np_add_at():
    X = np.arange(12.0).reshape(3, 4)
    I = np.array([[0, 3], [3, -1]])
    V = np.ones((3, 2, 2))
    ref = X.copy()
    np.add.at(ref, (slice(None), I), V)
    np.testing.assert_array_equal(gnp.add_at(X, I, V, axis=1), ref)
    np.testing.assert_array_equal(X, np.arange(12.0).reshape(3, 4))  # not modified
    x = ops.variable("x", "float64", (3, 4))
    for out in _backends(Graph([x], [gnp.add_at(x, I, V, axis=1)]), X):
        np.testing.assert_array_equal(out, ref)


# ---------------------------------------------------------------------------------
# derivatives of gather and scatter-add vs JAX

def test_gather_and_scatter_gradients_match_jax():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, 3))
    V = rng.normal(size=(4, 3))
    I = np.array([1, -1, 1, 1])

    def f_np(xp, X, V):
        y = xp.take(X, I, axis=0) * V              # gather (repeated rows)
        z = (X * X).at[I].add(V * y) if xp is jnp else None
        return xp.sum(xp.sin(y)) + xp.sum(z ** 2)

    x = ops.variable("x", "float64", (5, 3))
    v = ops.variable("v", "float64", (4, 3))
    y = gnp.take(x, I, axis=0) * v
    z = (x * x).at[I].add(v * y)
    f = Graph([x, v], [gnp.sum(gnp.sin(y)) + gnp.sum(z ** 2)])
    jf = lambda X, V: f_np(jnp, X, V)
    want = jax.grad(jf, argnums=(0, 1))(X, V)
    rev = gc.grad(f)
    for got in _backends(rev, X, V):
        for a, b in zip(got, want):
            _close(a, b, scale=100)
    # forward mode: the directional derivative along random tangents
    tx, tv = rng.normal(size=X.shape), rng.normal(size=V.shape)
    _, want_t = jax.jvp(jf, (X, V), (tx, tv))
    fwd = gc.jvp(f, wrt=["x", "v"])
    for got in _backends(fwd, X, V, tx, tv):
        _close(got[1], want_t, scale=100)


def test_take_jacobian_forward_and_reverse_match_jax_jacfwd():
    X = np.linspace(-1, 1, 6)
    I = np.array([[5, 0], [0, -6]])
    f = gc.function(lambda x: gnp.take(x, I) ** 3, shapes={"x": (6,)})
    want = np.asarray(jax.jacfwd(lambda X: jnp.take(X, I) ** 3)(X))
    for jac in (gc.jacfwd, gc.jacrev):
        _close(jac(f)(X), want)


# ---------------------------------------------------------------------------------
# out-of-range and malformed indices

def test_out_of_range_indices_are_errors_never_wrong_numbers():
    x = ops.variable("x", "float64", (5,))
    i = ops.variable("i", "float64", (3,))
    v = ops.variable("v", "float64", (3,))
    for g in (Graph([x, i], [x[i]]), Graph([x, i, v], [x.at[i].add(v)])):
        args = [np.arange(5.0), None] + ([np.ones(3)] if len(g.inputs) == 3 else [])
        for run in (lambda *a, g=g: gc.evaluate(g, *a), gc.compile(g, target="llvm")):
            for bad, what in (([0, 5, 1], "out of bounds"), ([0, -6, 1], "out of bounds"),
                              ([0, 1.5, 1], "not an integer"), ([np.nan, 0, 1], "not a number")):
                args[1] = np.array(bad, dtype=float)
                with pytest.raises(InputError, match=what) as exc:
                    run(*args)
                assert "[-5, 5)" in str(exc.value) and "'i'" in str(exc.value)
    with pytest.raises(ShapeError, match="out of bounds"):
        gnp.take(x, 7)
    with pytest.raises(ShapeError, match="integers"):
        gnp.take(x, np.array([0.5]))
    with pytest.raises(ShapeError, match="boolean"):
        x[np.array([True, False, True, False, True])]
    with pytest.raises(ShapeError, match="one integer-array index"):
        ops.variable("m", "float64", (3, 3))[np.array([0]), np.array([1])]
    with pytest.raises(ShapeError, match="float64 indices for a float32"):
        gnp.take(ops.variable("y", "float32", (4,)), ops.variable("j", "float64", (2,)))
    # constant index arrays out of range: an error when the graph runs (before any read)
    g = Graph([x], [gnp.take(x, np.array([0, 9]))])
    with pytest.raises(InputError, match="out of bounds"):
        gc.compile(g, target="llvm")(np.arange(5.0))


# ---------------------------------------------------------------------------------
# det

DET_CASES = {
    "random": np.random.default_rng(5).normal(size=(4, 4)),
    "zero leading pivot": np.array([[0.0, 2, 1], [1, 0, 0], [3, 1, 2]]),
    "rank n-1": np.array([[1.0, 2, 3], [2, 4, 6], [0, 1, 1]]),
    "rank n-2": np.array([[1.0, 2, 3], [2, 4, 6], [3, 6, 9]]),
    "1x1": np.array([[-2.5]]),
    "permutation": np.eye(4)[[2, 0, 3, 1]],
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(DET_CASES))
def test_det_and_its_gradient_match_numpy_and_jax(name, dtype):
    M = DET_CASES[name].astype(dtype)
    a = ops.variable("A", dtype, M.shape)
    g = Graph([a], [gnp.linalg.det(a)])
    want = np.linalg.det(M.astype(float))
    np.testing.assert_allclose(np.asarray(jnp.linalg.det(M.astype(float))), want, atol=1e-12)
    for got in _backends(g, M):
        assert got.dtype == np.dtype(dtype)
        _close(got, want, dtype, scale=10)
    # reverse mode: adj(A)^T, finite even where A is singular (JAX's cofactor solve)
    want_g = np.asarray(jax.grad(jnp.linalg.det)(M.astype(float)))
    for got in _backends(gc.grad(g), M):
        got = got[0] if isinstance(got, tuple) else got
        assert np.all(np.isfinite(got))
        _close(got, want_g, dtype, scale=10)
    # forward mode along a random direction
    T = np.random.default_rng(6).normal(size=M.shape)
    _, want_t = jax.jvp(jnp.linalg.det, (M.astype(float),), (T,))
    for got in _backends(gc.jvp(g), M, T.astype(dtype)):
        _close(got[1], want_t, dtype, scale=10)


def test_det_batched_gradient_and_hessian_match_jax():
    rng = np.random.default_rng(7)
    M = rng.normal(size=(2, 3, 3, 3))
    a = ops.variable("A", "float64", M.shape)
    g = Graph([a], [gnp.sum(gnp.det(a) ** 2)])
    jf = lambda A: jnp.sum(jnp.linalg.det(A) ** 2)
    want = np.asarray(jax.grad(jf)(M))
    for got in _backends(gc.grad(g), M):
        got = got[0] if isinstance(got, tuple) else got
        _close(got, want, scale=10)
    # second order (forward over reverse) on one 3x3 matrix
    h = gc.hessian(gc.function(lambda b: gnp.linalg.det(b), shapes={"b": (3, 3)}))
    H = np.asarray(h(M[0, 0])).reshape(9, 9)
    want_h = np.asarray(jax.hessian(jnp.linalg.det)(M[0, 0])).reshape(9, 9)
    _close(H, want_h, scale=10)


def test_det_errors_and_empty_matrices():
    with pytest.raises(ShapeError, match="square"):
        gnp.linalg.det(ops.variable("A", "float64", (2, 3)))
    with pytest.raises(ShapeError, match="square"):
        gnp.det(ops.variable("v", "float64", (3,)))
    a = ops.variable("A", "float64", (2, 0, 0))
    for got in _backends(Graph([a], [gnp.linalg.det(a)]), np.zeros((2, 0, 0))):
        np.testing.assert_array_equal(got, [1.0, 1.0])     # NumPy: det of 0x0 is 1
    assert gnp.linalg.det(np.eye(3) * 2) == pytest.approx(8.0)


def test_primitives_print_and_are_registered():
    x = ops.variable("x", "float64", (4,))
    i = ops.variable("i", "float64", (2,))
    assert gc.to_text(Graph([x, i], [x[i]])).count("gather(") == 1
    for name in ("gather", "scatter_add", "det"):
        assert name in gc.ir.PRIMITIVES


# ---------------------------------------------------------------------------------
# CUDA: the simulator cases in their own process

def test_cuda_simulator_cases():
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests/cuda/cuda_sim_gather_cases.py"),
         "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore::DeprecationWarning"],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    last = proc.stdout.strip().splitlines()[-1]
    assert " passed" in last and "skipped" not in last and "failed" not in last, tail
