"""``argsort`` and ``sort`` on Numba's CUDA simulator (issue 13, part 7).

Run in a child process by ``tests/tensors/test_sort.py`` (needs
``NUMBA_ENABLE_CUDASIM=1`` before Numba is imported), or by hand::

    NUMBA_ENABLE_CUDASIM=1 python3 -m pytest tests/cuda/cuda_sim_sort_cases.py -q

Ground truth: NumPy (``np.sort``/``np.argsort`` with ``kind="stable"``) and, for the
gradient, the NumPy interpreter. One thread per row: rows of length 0, 1, around the
insertion-sort run (16) and longer, with ties, NaNs, ±inf and signed zeros.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("run through tests/tensors/test_sort.py (needs NUMBA_ENABLE_CUDASIM=1 "
                "before Numba is imported)", allow_module_level=True)

import graphc as gc
import graphc.numpy as gnp
from graphc.ir import Graph, ops
from helpers import sort_test_values


def _cuda(g):
    return gc.compile(g, target="cuda", threads_per_block=32)



@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,axis", [((1,), -1), ((2,), -1), ((4, 0), -1), ((3, 17), -1),
                                        ((3, 17), 0), ((2, 3, 40), 1), ((70,), None)])
def test_sort_and_argsort_match_numpy(shape, axis, dtype):
    X = sort_test_values(shape, dtype, seed=len(shape) + 7 * shape[-1])
    x = ops.variable("x", dtype, shape)
    got = _cuda(Graph([x], [gnp.argsort(x, axis=axis), gnp.sort(x, axis=axis)]))(X)
    wa = np.argsort(X, axis=axis, kind="stable").astype(dtype)
    ws = np.sort(X, axis=axis, kind="stable")
    for g, w in zip(got, (wa, ws)):
        g = np.asarray(g)
        assert g.dtype == np.dtype(dtype) and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


def test_gradient_of_a_trimmed_mean_matches_the_interpreter():
    rng = np.random.default_rng(2)
    x = ops.variable("x", "float64", (4, 9))
    g = gc.grad(Graph([x], [gnp.sum(gnp.mean(gnp.sort(x, axis=1)[:, 2:-2], axis=1) ** 2)]))
    X = rng.normal(size=(4, 9))
    X[1, :3] = 0.25                            # ties: the stable permutation's derivative
    want = gc.evaluate(g, X)
    want = want[0] if isinstance(want, tuple) else want
    got = _cuda(g)(X)
    got = got[0] if isinstance(got, tuple) else got
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-14)
