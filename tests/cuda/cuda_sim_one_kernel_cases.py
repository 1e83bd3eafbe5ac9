"""One kernel class and one cache (issue 12, parts 1-2), on Numba's CUDA simulator.

Not collected by a plain ``pytest`` run: ``test_one_kernel.py`` runs this file in its
own process with ``NUMBA_ENABLE_CUDASIM=1`` (which must be set before Numba is
imported). By hand::

    NUMBA_ENABLE_CUDASIM=1 python3 -m pytest tests/cuda/cuda_sim_one_kernel_cases.py -q

Generated from the registry: every elementwise primitive (its ``value_and_grad``
when differentiable) and every example of every array primitive (its reverse mode),
in float64 and float32, compiled to the one class :class:`CudaKernel` and compared
with the NumPy interpreter (``graphc.evaluate``). Elementwise kernels are called with
the input layouts the plan's batch map kernel distinguishes: all flat, a scalar
input passed by value, and arrays broadcast against each other (strided reads).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("run through test_one_kernel.py (needs NUMBA_ENABLE_CUDASIM=1 before Numba "
                "is imported)", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numba import cuda  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.backends import cuda as cuda_backend  # noqa: E402
from graphc.backends.cuda import jit  # noqa: E402
from graphc.backends.cuda.jit import CudaKernel  # noqa: E402
from graphc.ir import Graph, apply, ops  # noqa: E402
from _cuda_helpers import (ARRAY_CASES, OPS, case_id, integer_arguments,  # noqa: E402
                           primitive_graph, primitive_points, sample_arguments)

DTYPES = ("float64", "float32")
RTOL = {"float64": 1e-12, "float32": 2e-6}
ATOL = {"float64": 1e-13, "float32": 1e-6}
# float32 array programs sum in another order than NumPy (tree / per-thread partials)
ARRAY_RTOL = {"float64": 1e-12, "float32": 1e-4}
ARRAY_ATOL = {"float64": 1e-12, "float32": 1e-5}
SMALL = dict(threads_per_block=4, tile=2)


def _flat(tree):
    if isinstance(tree, tuple):
        return [x for t in tree for x in _flat(t)]
    return [tree]


def _host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def compare(graph, k, args, rtol, atol):
    got = k(*args)
    want = gc.evaluate(graph, *[_host(a) for a in args])
    got_flat, want_flat = _flat(got), _flat(want)
    assert len(got_flat) == len(want_flat) == len(graph.outputs)
    for g, w, name in zip(got_flat, want_flat, graph.output_names):
        g, w = _host(g), np.asarray(w)
        assert g.shape == w.shape, name
        assert g.dtype == w.dtype, name
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {name}")


# -- every elementwise primitive, every layout of the batch map kernel -------------------

def _elementwise_graph(prim, dtype):
    g = primitive_graph(prim, dtype)
    return gc.value_and_grad(g) if prim.differentiable else g


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim", OPS, ids=[p.name for p in OPS])
def test_elementwise_primitive_through_the_one_class(prim, dtype):
    g = _elementwise_graph(prim, dtype)
    k = gc.compile(g, target="cuda", **SMALL)
    assert type(k) is CudaKernel and not k.is_array
    cols = list(primitive_points(prim, 6, dtype).values())
    compare(g, k, cols, RTOL[dtype], ATOL[dtype])                      # all flat, n = 6
    # a scalar (by value) and arrays broadcast against each other (strided reads)
    mixed = [cols[0][1]] + [c[:2].reshape(2, 1) if j == 0 else c[:3]
                            for j, c in enumerate(cols[1:])]
    if len(cols) == 1:
        mixed = [cols[0].reshape(2, 3)[:, :1]]                          # (2, 1), flat
    compare(g, k, mixed, RTOL[dtype], ATOL[dtype])


# -- every array primitive, value and reverse mode, both dtypes --------------------------

def array_case(prim, i: int, dtype: str, seed: int = 0):
    """Example ``i`` of an array primitive in ``dtype``: its vjp when differentiable
    (cotangent seed last), values in the primitive's domain (as _cuda_helpers)."""
    shapes, params = prim.examples[i]
    xs = [ops.variable(f"a{k}", dtype, shape=tuple(s)) for k, s in enumerate(shapes)]
    g = Graph(xs, [apply(prim, *xs, **params)])
    rng = np.random.default_rng(seed + 17 * i)
    ints = set(integer_arguments(prim, shapes, params))
    np_dt = np.float32 if dtype == "float32" else np.float64
    vals = sample_arguments(prim, shapes, params, rng, np_dt)
    if prim.name == "prod":
        vals[0] = (np.sign(vals[0]) * (0.5 + np.abs(vals[0]))).astype(np_dt)
    if prim.differentiable:
        g = gc.vjp(g, wrt=[f"a{k}" for k in range(prim.arity) if k not in ints])
        vals.append(rng.normal(size=g.inputs[-1].shape).astype(np_dt))
    return g, vals


SIM_ENTRIES = 40
"""Examples whose inputs hold more entries than this (the convolutions, 4-7 s each in
the simulator) are marked ``slow`` here; cuda_sim_array_cases.py runs them in float64
in the default suite."""


def _array_params():
    out = []
    for case in ARRAY_CASES:
        prim, i = case
        entries = sum(int(np.prod(s)) for s in prim.examples[i][0])
        marks = [pytest.mark.slow] if entries > SIM_ENTRIES else []
        out += [pytest.param(case, dt, id=f"{case_id(case)}-{dt}", marks=marks)
                for dt in DTYPES]
    return out


@pytest.mark.parametrize("case, dtype", _array_params())
def test_array_primitive_through_the_one_class(case, dtype):
    g, vals = array_case(*case, dtype)
    k = gc.compile(g, target="cuda", **SMALL)
    assert type(k) is CudaKernel and k.is_array
    compare(g, k, vals, ARRAY_RTOL[dtype], ARRAY_ATOL[dtype])


# -- device inputs through the one class --------------------------------------------------

def test_device_inputs_of_both_kinds_of_graph():
    f = gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)"))
    x1, x2 = np.linspace(0.5, 2.0, 6), np.linspace(-1.0, 1.0, 6)
    out = gc.compile(f, target="cuda")(cuda.to_device(x1), x2)
    assert hasattr(out[0], "copy_to_host")                      # a device result
    want = gc.evaluate(f, x1, x2)
    np.testing.assert_allclose(out[0].copy_to_host(), want[0], rtol=1e-12)
    a = gc.value_and_grad(gc.parse("sum(x * x)", x=("n",)), "x")
    got = gc.compile(a, target="cuda", **SMALL)(cuda.to_device(x1))
    np.testing.assert_allclose(got[1].copy_to_host(), 2 * x1, rtol=1e-12)


# -- one cache -----------------------------------------------------------------------------

def test_one_cache_shared_by_kernels_and_emptied_by_clear_cache():
    f = gc.value_and_grad(gc.parse("x * exp(y)"))
    a = gc.value_and_grad(gc.parse("sum(exp(x))", x=("n",)), "x")
    x = np.linspace(0.0, 1.0, 5)
    gc.clear_cache()
    assert cuda_backend.cache_info()["total"] == 0
    gc.compile(f, target="cuda")(x, x)
    gc.compile(a, target="cuda", **SMALL)(x)
    info = cuda_backend.cache_info()
    assert info["map"] == 1 and info["program"] == 1 and info["dispatcher"] >= 2
    # a second kernel object of the same graph and options finds everything cached
    gc.compile(f, target="cuda")(x, x)
    gc.compile(a, target="cuda", **SMALL)(x)
    assert cuda_backend.cache_info() == info
    # another layout (a scalar input), other sizes, other options: new entries
    gc.compile(f, target="cuda")(x, 2.0)
    gc.compile(a, target="cuda", **SMALL)(x[:3])
    gc.compile(a, target="cuda", threads_per_block=8, tile=2)(x)
    after = cuda_backend.cache_info()
    assert after["map"] == 2 and after["program"] == 3
    assert gc.clear_cache() >= 0                      # the LLVM count; CUDA emptied too
    assert cuda_backend.cache_info()["total"] == 0
    y, _ = gc.compile(f, target="cuda")(x, x)           # compiles again after clearing
    np.testing.assert_allclose(y, x * np.exp(x), rtol=1e-12)


def test_cache_drops_the_least_recently_used(monkeypatch):
    cuda_backend.clear_cache()
    monkeypatch.setattr(jit, "MAX_CACHE_ENTRIES", 3)
    made = []
    for key in ("a", "b", "c"):
        jit.cached(("test", key), lambda key=key: made.append(key) or key)
    jit.cached(("test", "a"), lambda: made.append("a again"))    # a is now the newest
    jit.cached(("test", "d"), lambda: made.append("d") or "d")     # drops b
    assert made == ["a", "b", "c", "d"]
    jit.cached(("test", "b"), lambda: made.append("b again") or "b")
    assert made[-1] == "b again" and cuda_backend.cache_info()["total"] == 3
    assert cuda_backend.clear_cache() == 3


# -- the old entry points ------------------------------------------------------------------

def test_old_array_entry_points_are_the_one_class():
    from graphc.backends.cuda import array_jit
    assert array_jit.CudaArrayKernel is CudaKernel
    assert cuda_backend.CudaArrayKernel is CudaKernel
    g = gc.parse("sum(x * x)", x=("n",))
    for k in (array_jit.compile(g), array_jit.CudaArrayKernel(g), cuda_backend.compile(g)):
        assert type(k) is CudaKernel
        assert float(k(np.arange(4.0))) == 14.0
