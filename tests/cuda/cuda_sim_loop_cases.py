"""CUDA loops (issue 14 part 3), run on Numba's CUDA simulator: graphs of scalar inputs
and outputs holding ``scan``, ``while_loop`` and ``switch`` nodes compile to one map
kernel whose thread runs the loops for its point (:mod:`graphc.backends.cuda.loops`).

Not collected by a plain ``pytest`` run: ``test_cuda_loops.py`` runs this file in its
own process with ``NUMBA_ENABLE_CUDASIM=1``. By hand::

    NUMBA_ENABLE_CUDASIM=1 python3 -m pytest tests/cuda/cuda_sim_loop_cases.py -q

Every kernel is evaluated at a few points and compared, point by point, with the NumPy
interpreter (``target="numpy"``, which runs loops as loops primitive by primitive) and
the LLVM backend; the RK4 integrator also with the same integrator written in NumPy.
Cases are generated from the ``HIGHER_ORDER`` registry too (each example's packed
operand as scalar inputs). The simulator runs each thread in Python: few points, few
steps.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("run through test_cuda_loops.py (needs NUMBA_ENABLE_CUDASIM=1 before Numba "
                "is imported)", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from graphc.backends.cuda import CudaKernel, is_per_point  # noqa: E402
from _loop_graphs import (PROGRAMS, REGISTRY_CASES, registry_graph, rk4,  # noqa: E402
                          rk4_numpy)

NP = {"float64": np.float64, "float32": np.float32}
TOL = {"float64": dict(rtol=1e-11, atol=1e-13), "float32": dict(rtol=3e-5, atol=3e-6)}
DTYPES = ("float64", "float32")


def _flat(tree):
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in _flat(t)]
    return [tree]


def check(graph, points: dict, dtype: str, llvm: bool = True):
    """The CUDA kernel of ``graph`` at the points (arrays of equal length, one per
    input) equals the interpreter, and LLVM, at each point; returns the CUDA outputs."""
    assert is_per_point(graph)
    kern = gc.compile(graph, target="cuda")
    assert isinstance(kern, CudaKernel) and not kern.is_array
    args = {k: np.asarray(v, NP[dtype]) for k, v in points.items()}
    got = [np.asarray(o) for o in _flat(kern(**args))]
    n = len(next(iter(args.values())))
    refs = [("numpy", gc.compile(graph, target="numpy"))]
    if llvm:
        refs.append(("llvm", gc.compile(graph)))
    for p in range(n):
        at = {k: v[p] for k, v in args.items()}
        for name, ref in refs:
            want = [np.asarray(o) for o in _flat(ref(**at))]
            assert len(want) == len(got)
            for j, (g, w) in enumerate(zip(got, want)):
                assert g.shape == (n,) and g.dtype == NP[w.dtype.name], (name, j)
                np.testing.assert_allclose(g[p], w, err_msg=f"{name} output {j} point {p}",
                                           **TOL[dtype])
    return got


@pytest.mark.parametrize("dtype", DTYPES)
def test_rk4_scan_value_and_gradient(dtype):
    fn = gc.function(rk4(12), dtype=dtype)
    x, k = np.array([0.1, 0.5, 1.0, -0.7]), np.array([0.3, 1.0, 2.0, 0.5])
    (val,) = check(fn.graph, {"x": x, "k": k}, dtype)
    np.testing.assert_allclose(val, rk4_numpy(x, k, 12), **TOL[dtype])
    dx, dk = check(gc.grad(fn.graph), {"x": x, "k": k}, dtype)
    # central differences of the NumPy integrator
    eps = 1e-6
    fd_x = (rk4_numpy(x + eps, k, 12) - rk4_numpy(x - eps, k, 12)) / (2 * eps)
    fd_k = (rk4_numpy(x, k + eps, 12) - rk4_numpy(x, k - eps, 12)) / (2 * eps)
    tol = dict(rtol=1e-6, atol=1e-8) if dtype == "float64" else dict(rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dx, fd_x, **tol)
    np.testing.assert_allclose(dk, fd_k, **tol)


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", ["sqrt", "recursive", 3])
def test_rk4_gradient_under_each_checkpoint_policy(checkpoint):
    fn = gc.function(rk4(10, checkpoint=checkpoint))
    check(gc.grad(fn.graph), {"x": [0.2, 0.9], "k": [1.5, 0.4]}, "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_value_and_gradient(name, dtype):
    """Euler over per-step inputs (forward and reverse scans), fori_loop, while_loop
    with max_steps, cond and switch, an array carry: value and gradient."""
    f, pts = PROGRAMS[name](dtype)
    fn = gc.function(f, dtype=dtype)
    check(fn.graph, pts, dtype)
    check(gc.grad(fn.graph), pts, dtype)


def test_unbounded_while_loop_value():
    fn = gc.function(lambda x: gc.while_loop(lambda v: v < 10.0, lambda v: v * 2.0 + 0.5, x))
    (got,) = check(fn.graph, {"x": [0.25, 3.0, 11.0]}, "float64")
    np.testing.assert_array_equal(got, [11.5, 13.5, 11.0])


def test_broadcast_scalar_and_strided_inputs():
    fn = gc.function(rk4(6))
    kern = gc.compile(fn.graph, target="cuda")
    x = np.array([[0.1], [0.5], [0.9]])          # (3, 1) against (2,): strided
    k = np.array([0.5, 1.5])
    got = np.asarray(kern(x=x, k=k))
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, rk4_numpy(x, k, 6), rtol=1e-12)
    got = np.asarray(kern(x=0.4, k=k))          # a scalar passed by value
    np.testing.assert_allclose(got, rk4_numpy(0.4, k, 6), rtol=1e-12)


# -- generated from the registry: every HIGHER_ORDER example, per point -------------

@pytest.mark.slow
@pytest.mark.parametrize("case", REGISTRY_CASES,
                         ids=[f"{p.name}-{i}" for p, i in REGISTRY_CASES])
def test_every_higher_order_example_value_and_gradient(case):
    prim, i = case
    g, size, dtype = registry_graph(prim, i)
    rng = np.random.default_rng(7 + i)
    lo, hi = prim.domain[0]
    pts = {f"s{k}": rng.uniform(lo, hi, 4) for k in range(size)}
    if prim.name == "switch":   # the index: every branch, out of range, NaN
        pts = {f"s{k}": rng.uniform(lo, hi, 6) for k in range(size)}
        pts["s0"] = np.array([0.5, 1.5, 2.5, -3.0, 17.0, np.nan])
    check(g, pts, dtype)
    check(gc.grad(g), pts, dtype)


# -- array graphs whose loops the array plan would unroll past its limit -------------

def _array_check(graph, inputs: dict, dtype: str = "float64"):
    """One-thread program (``CudaKernel.serial``) against the interpreter and LLVM."""
    kern = gc.compile(graph, target="cuda")
    assert kern.is_array and kern.serial
    got = [np.asarray(o) for o in _flat(kern(**inputs))]
    for name, ref in (("numpy", gc.compile(graph, target="numpy")),
                      ("llvm", gc.compile(graph))):
        want = [np.asarray(o) for o in _flat(ref(**inputs))]
        for j, (g, w) in enumerate(zip(got, want)):
            assert g.shape == w.shape and g.dtype == w.dtype, (name, j)
            np.testing.assert_allclose(g, w, err_msg=f"{name} output {j}", **TOL[dtype])
    return kern


@pytest.mark.slow
def test_array_graph_with_a_long_scan_runs_as_one_thread():
    """A vector carry over MAX_UNROLL steps (the array plan would refuse to unroll):
    value and gradient (sqrt checkpoints: nested scans)."""
    import graphc.numpy as gnp
    from graphc.ir import control_flow as cf

    def f(v, w):
        s, _ = gc.scan(lambda c, _: (0.999 * c + 0.001 * gnp.tanh(w * c[::-1]), None), v,
                       length=cf.MAX_UNROLL)
        return gnp.sum(s * s)
    g = gc.function(f, shapes={"v": (2,)}).graph
    args = {"v": np.array([0.3, -0.8]), "w": 1.7}
    kern = _array_check(g, args)
    assert kern.render().text.count("\n") < 60
    _array_check(gc.grad(g, wrt="v"), args)


def test_array_graph_with_an_unbounded_while_loop():
    import graphc.numpy as gnp

    def f(v):
        return gc.while_loop(lambda c: gnp.sum(c) < 10.0, lambda c: c * 1.5 + 0.1, v)
    g = gc.function(f, shapes={"v": (3,)}).graph
    _array_check(g, {"v": np.array([0.1, 0.2, 0.3])})
    _array_check(g, {"v": np.array([5.0, 6.0, 0.3])})   # never runs
