"""Semantics of the CUDA kernels, run on Numba's CUDA simulator (no GPU needed).

Not collected by a plain ``pytest`` run (the name does not start with ``test_``):
``test_cuda_sim.py`` runs this file in its own process with ``NUMBA_ENABLE_CUDASIM=1``,
which must be set before Numba is imported. Run by hand with::

    NUMBA_ENABLE_CUDASIM=1 python3 -m pytest tests/cuda/cuda_sim_cases.py -q

Every kernel is compared with the NumPy interpreter (``graphc.evaluate``) on tiny
grids; the simulator executes about 60 µs per element. Points lie inside each
primitive's test domain: the simulator evaluates ``math.log`` and friends with
Python's ``math`` module, which raises (instead of returning NaN/inf as the GPU does)
outside the domain, so IEEE edge cases are left to the ``gpu`` tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("run through test_cuda_sim.py (needs NUMBA_ENABLE_CUDASIM=1 before Numba "
                "is imported)", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numba import cuda  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.ir import Graph, InputError, ops  # noqa: E402
from _cuda_helpers import (OPS, feynman_graph, feynman_points, feynman_rows,  # noqa: E402
                           primitive_graph, primitive_points)

N = 12  # elements per kernel launch
RTOL = {"float64": 1e-12, "float32": 2e-6}
ATOL = {"float64": 1e-13, "float32": 1e-6}


def _flat(tree):
    if isinstance(tree, tuple):
        return [x for t in tree for x in _flat(t)]
    return [tree]


def _host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def check(graph, inputs, dtype="float64", **options):
    got = gc.compile(graph, target="cuda", **options)(**inputs)
    want = gc.evaluate(graph, **inputs)
    got_flat, want_flat = _flat(got), _flat(want)
    assert len(got_flat) == len(want_flat)
    for g, w, name in zip(got_flat, want_flat, graph.output_names):
        g = _host(g)
        assert g.shape == w.shape, name
        assert g.dtype == w.dtype, name
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=ATOL[dtype],
                                   err_msg=f"output {name}")
    return got


def test_running_on_the_simulator():
    assert cuda.simulator is not None and os.environ["NUMBA_ENABLE_CUDASIM"] == "1"
    assert type(cuda.to_device(np.zeros(2))).__module__.startswith("numba.cuda.simulator")


@pytest.mark.parametrize("prim", OPS, ids=[p.name for p in OPS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_primitive_matches_numpy(prim, dtype):
    check(primitive_graph(prim, dtype), primitive_points(prim, N, dtype), dtype)


DIFFERENTIABLE = [p for p in OPS if p.differentiable]


@pytest.mark.parametrize("prim", DIFFERENTIABLE, ids=[p.name for p in DIFFERENTIABLE])
def test_primitive_value_and_grad_matches_numpy(prim):
    g = gc.optimize(gc.value_and_grad(primitive_graph(prim)))
    check(g, primitive_points(prim, N, seed=1))


ROWS = feynman_rows()


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_feynman_value_and_grad_matches_numpy(row):
    check(feynman_graph(row), feynman_points(row, 4))


# -- textbook values (Baydin et al. 2018, Table 2/3; Griewank & Walther) -------------

def test_baydin_example_textbook_values():
    k = gc.compile(gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)")), target="cuda")
    y, (d1, d2) = k(2.0, 5.0)
    assert y.shape == () and d1.shape == ()
    assert abs(float(y) - 11.652071) < 1e-6
    assert abs(float(d1) - 5.5) < 1e-12
    assert abs(float(d2) - 1.716338) < 1e-6


def test_griewank_walther_example():
    f = gc.parse("(sin(x1/x2) + x1/x2 - exp(x2)) * (x1/x2 - exp(x2))")
    y, (g1, g2) = gc.compile(gc.value_and_grad(f), target="cuda")(x1=1.5, x2=0.5)
    assert abs(float(y) - 2.016647) < 1e-6
    assert abs(float(g1) - 3.011843) < 1e-6 and abs(float(g2) + 13.723962) < 1e-6


# -- calling convention, layouts, broadcasting -----------------------------------------

F = gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)"))


def test_positional_keyword_and_scalar_broadcast():
    x1 = np.linspace(1.0, 3.0, 7)
    check(F, {"x1": x1, "x2": 5.0})
    check(F, {"x1": 2.0, "x2": x1})
    k = gc.compile(F, target="cuda")
    a = _flat(k(x1, 5.0))
    b = _flat(k(x2=5.0, x1=x1))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_partial_broadcast_from_host():
    x1 = np.linspace(1.0, 2.0, 3).reshape(3, 1)
    x2 = np.linspace(-1.0, 1.0, 4).reshape(1, 4)
    got = check(F, {"x1": x1, "x2": x2})
    assert got[0].shape == (3, 4)
    check(F, {"x1": np.linspace(1.0, 2.0, 12).reshape(3, 4), "x2": np.array([0.5, 1.0, 2.0, 3.0])})


def test_device_arrays_in_device_arrays_out():
    x1 = np.linspace(1.0, 2.0, 6).reshape(2, 3)
    x2 = np.linspace(-1.0, 1.0, 3)
    k = gc.compile(F, target="cuda")
    y, (d1, d2) = k(cuda.to_device(x1), cuda.to_device(x2))
    assert hasattr(y, "copy_to_host") and y.shape == (2, 3)
    want = gc.evaluate(F, x1, x2)
    for g, w in zip((y, d1, d2), _flat(want)):
        np.testing.assert_allclose(g.copy_to_host(), w, rtol=1e-12)


def test_strided_and_size_one_device_arrays():
    base = np.linspace(1.0, 2.0, 24).reshape(4, 6)
    d = cuda.to_device(base)
    view = d[:, ::2]                      # non-contiguous, shape (4, 3)
    k = gc.compile(F, target="cuda")
    y, _ = k(view, cuda.to_device(np.array([[0.5]])))   # size-1 device array
    np.testing.assert_allclose(y.copy_to_host(), gc.evaluate(F, base[:, ::2], 0.5)[0],
                               rtol=1e-12)
    y, _ = k(cuda.to_device(np.array(2.0)), view)        # 0-d device array
    np.testing.assert_allclose(y.copy_to_host(), gc.evaluate(F, 2.0, base[:, ::2])[0],
                               rtol=1e-12)


def test_integer_and_float32_inputs_are_converted():
    x = np.arange(1, 7)
    check(F, {"x1": x, "x2": x.astype(np.float32)})
    k = gc.compile(F, target="cuda")
    y, _ = k(cuda.to_device(x), cuda.to_device(x.astype(np.float32)))
    np.testing.assert_allclose(y.copy_to_host(), gc.evaluate(F, x, x)[0], rtol=1e-12)


def test_grid_stride_loop_covers_every_element_once():
    # 1 block of 32 threads for 100 elements: each thread loops 3-4 times; the
    # simulator raises IndexError on any out-of-bounds access
    g = gc.parse("x * 2 + 1")
    k = gc.compile(g, target="cuda", threads_per_block=32, max_blocks=1)
    x = np.arange(100.0)
    np.testing.assert_array_equal(k(x), 2 * x + 1)


def test_constant_and_unused_outputs_and_inputs():
    x, y, z = (ops.variable(n) for n in ("x", "y", "z"))
    g = Graph([x, y, z], [ops.mul(x, 3.0), ops.const(2.0), x, ops.mul(x, 3.0)])
    got = check(g, {"x": np.arange(4.0), "y": np.ones(4), "z": 1.0})
    np.testing.assert_array_equal(got[1], np.full(4, 2.0))
    lin = gc.value_and_grad(gc.parse("3*x + y"))         # gradient outputs are constants
    check(lin, {"x": np.arange(5.0), "y": 2.0})


def test_empty_inputs():
    y, (d1, d2) = gc.compile(F, target="cuda")(np.zeros(0), 1.0)
    assert y.shape == (0,) and d2.shape == (0,)


def test_input_errors():
    k = gc.compile(F, target="cuda")
    with pytest.raises(InputError, match="missing"):
        k(1.0)
    with pytest.raises(InputError, match="broadcast"):
        k(np.ones(3), np.ones(4))
    with pytest.raises(InputError):
        k(np.array(["a"]), 1.0)


def test_float32_graph_keeps_float32():
    g = gc.value_and_grad(gc.parse("exp(x) * sin(y) + x / y", dtype="float32"))
    got = check(g, {"x": np.linspace(-1, 1, 8, dtype=np.float32), "y": np.float32(0.7)},
                "float32")
    assert got[0].dtype == np.float32


def test_hessian_kernel():
    f = gc.parse("x^3 * y + sin(x*y)")
    check(gc.hessian(f), {"x": np.linspace(0.5, 1.5, 5), "y": np.linspace(-1, 1, 5)})
