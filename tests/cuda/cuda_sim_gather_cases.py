"""Gather, scatter-add and det on Numba's CUDA simulator (issue 15, part 4).

Run in a child process by ``tests/tensors/test_gather_scatter.py`` (needs
``NUMBA_ENABLE_CUDASIM=1`` before Numba is imported), or by hand::

    NUMBA_ENABLE_CUDASIM=1 python3 -m pytest tests/cuda/cuda_sim_gather_cases.py -q

Ground truth: NumPy (``np.take``, ``np.add.at``, ``np.linalg.det``) and the NumPy
interpreter. The registry-driven cases of ``cuda_sim_array_cases.py`` cover every
example of the three records; these add many repeated indices (the atomic adds),
pivoting, float32 and out-of-range indices.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("run through tests/tensors/test_gather_scatter.py (needs "
                "NUMBA_ENABLE_CUDASIM=1 before Numba is imported)", allow_module_level=True)

import graphc as gc
import graphc.numpy as gnp
from graphc.ir import Graph, InputError, ops


def _cuda(g):
    return gc.compile(g, target="cuda", threads_per_block=32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_take_and_repeated_scatter_add(dtype):
    rng = np.random.default_rng(0)
    x = ops.variable("x", dtype, (6, 4))
    i = ops.variable("i", dtype, (50,))
    v = ops.variable("v", dtype, (50, 4))
    g = Graph([x, i, v], [gnp.take(x, i, axis=0), x.at[i].add(v)])
    X = rng.normal(size=(6, 4)).astype(dtype)
    I = rng.integers(-6, 6, size=50).astype(dtype)      # every row hit ~8 times
    V = rng.normal(size=(50, 4)).astype(dtype)
    got_take, got_add = _cuda(g)(X, I, V)
    want_add = X.copy()
    np.add.at(want_add, I.astype(int), V)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_array_equal(np.asarray(got_take), np.take(X, I.astype(int), axis=0))
    np.testing.assert_allclose(np.asarray(got_add), want_add, rtol=tol, atol=tol)
    assert np.asarray(got_add).dtype == np.dtype(dtype)


def test_det_batched_with_pivoting_and_its_gradient():
    A = ops.variable("A", "float64", (3, 3, 3))
    g = Graph([A], [gnp.linalg.det(A)])
    M = np.array([[[0.0, 2, 1], [1, 0, 0], [3, 1, 2]],      # zero leading pivot
                  [[1.0, 2, 3], [2, 4, 6], [0, 1, 1]],      # singular
                  [[2.0, -1, 0], [-1, 2, -1], [0, -1, 2]]])
    np.testing.assert_allclose(np.asarray(_cuda(g)(M)), np.linalg.det(M), atol=1e-12)
    grad = gc.grad(Graph([A], [gnp.sum(gnp.linalg.det(A))]))
    got = np.asarray(_cuda(grad)(M))
    np.testing.assert_allclose(got, np.asarray(gc.evaluate(grad, M)), atol=1e-12)


def test_out_of_range_index_is_an_input_error():
    x = ops.variable("x", "float64", (5,))
    i = ops.variable("i", "float64", (2,))
    k = _cuda(Graph([x, i], [x[i]]))
    with pytest.raises(InputError, match="out of bounds"):
        k(np.arange(5.0), np.array([1.0, 5.0]))
    with pytest.raises(InputError, match="not an integer"):
        k(np.arange(5.0), np.array([1.5, 0.0]))
