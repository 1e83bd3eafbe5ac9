"""Layer (c): real execution on an NVIDIA GPU, marked ``gpu`` (deselected by default,
skipped when no GPU is usable). Run with::

    python3 -m pytest tests/cuda/test_cuda_gpu.py -m gpu -q -p no:cacheprovider

Unlike the simulator, the GPU evaluates IEEE 754 special values (NaN, ±inf, ±0,
overflow) the way NumPy does, so these tests include them. Tolerances: libdevice
documents at most 2 ulp for the float64 functions used here (NVIDIA, *libdevice User's
Guide*) and NumPy/glibc about 1 ulp, hence relative 1e-13 for float64 for one
operation. Chains of operations (Feynman formulas, value and gradient) are compared
with :func:`_cuda_helpers.assert_within_roundoff` instead: cancellation amplifies the
per-call differences of the two libraries (on an H200, 1.4e-7 relative at III.9.52,
2e-16 absolute near the zero crossings of ``tanh(x)*y + y^2``'s gradient), so the
bound follows each element's own round-off scale, estimated by evaluating the graph
with every operation perturbed within its error budget (tests/cuda/
cuda_sim_const_cases.py shows that a wrong op, constant or argument order still fails).

For checking this file's own logic without a GPU, ``GRAPHC_GPU_TESTS_ON_SIMULATOR=1``
together with ``NUMBA_ENABLE_CUDASIM=1`` runs it on the simulator with tiny sizes
(the special-value test is then skipped: the simulator uses Python's ``math``).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from _cuda_helpers import (ON_SIM, OPS, assert_within_roundoff,  # noqa: E402
                           feynman_graph, feynman_points, feynman_rows, flat_tree,
                           gpu_or_skip, primitive_graph, primitive_points, to_host)

pytestmark = pytest.mark.gpu

N = 64 if ON_SIM else 100_000
RTOL = {"float64": 1e-13, "float32": 2e-6}


@pytest.fixture(scope="module")
def cuda():
    return gpu_or_skip()


_flat, _host = flat_tree, to_host


def assert_matches(got, want, dtype="float64", what=""):
    for g, w in zip(_flat(got), _flat(want)):
        g = _host(g)
        assert g.shape == w.shape and g.dtype == w.dtype, what
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=0, equal_nan=True,
                                   err_msg=what)


@pytest.mark.parametrize("prim", OPS, ids=[p.name for p in OPS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_primitive_on_gpu_matches_numpy(cuda, prim, dtype):
    g = primitive_graph(prim, dtype)
    x = primitive_points(prim, N, dtype)
    assert_matches(gc.compile(g, target="cuda")(**x), gc.evaluate(g, **x), dtype, prim.name)


SPECIAL = np.array([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, 1e-300, -1e-300, 1e300, -1e300,
                    np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("prim", OPS, ids=[p.name for p in OPS])
def test_primitive_special_values_match_numpy(cuda, prim):
    if ON_SIM:
        pytest.skip("the simulator raises on math-domain errors instead of returning NaN")
    grid = np.array(list(itertools.product(SPECIAL, repeat=prim.arity))).T
    g = primitive_graph(prim)
    x = {f"a{k}": grid[k] for k in range(prim.arity)}
    got = _host(gc.compile(g, target="cuda")(**x))
    want = gc.evaluate(g, **x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=prim.name)
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-13, atol=1e-300,
                               err_msg=prim.name)


ROWS = feynman_rows()


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_feynman_value_and_grad_on_gpu(cuda, row):
    g = feynman_graph(row)
    x = feynman_points(row, N)
    assert_within_roundoff(gc.compile(g, target="cuda")(**x), g, x, row["id"])


def test_baydin_on_gpu(cuda):
    k = gc.compile(gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)")), target="cuda")
    y, (d1, d2) = k(2.0, 5.0)
    assert abs(float(y) - 11.652071) < 1e-6
    assert float(d1) == 5.5 and abs(float(d2) - 1.716338) < 1e-6


def test_numba_device_arrays_strided_and_broadcast(cuda):
    f = gc.value_and_grad(gc.parse("exp(-x*y) + sqrt(x) * y"))
    k = gc.compile(f, target="cuda")
    xs = np.linspace(0.1, 2.0, 4 * 1000).reshape(4, 1000)
    ys = np.linspace(-1.0, 1.0, 1000)
    dx = cuda.to_device(xs)
    got = k(dx[:, ::2], cuda.to_device(np.ascontiguousarray(ys[::2])))
    assert hasattr(got[0], "copy_to_host")
    assert_within_roundoff(got, f, dict(x=xs[:, ::2], y=ys[::2]))
    got = k(cuda.to_device(np.ascontiguousarray(xs[:, :1])), cuda.to_device(ys))  # (4,1)x(1000,)
    assert_within_roundoff(got, f, dict(x=xs[:, :1], y=ys))


def test_cupy_arrays_without_copy(cuda):
    cp = pytest.importorskip("cupy")
    f = gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)"))
    x1 = cp.linspace(1.0, 3.0, N)
    x2 = cp.linspace(-2.0, 2.0, N)
    got = gc.compile(f, target="cuda")(x1, x2)
    assert all(isinstance(o, cp.ndarray) for o in _flat(got))   # CuPy in, CuPy out
    y = cp.asarray(got[0])                           # zero-copy back through the interface
    assert y.__cuda_array_interface__["data"][0] == got[0].__cuda_array_interface__["data"][0]
    assert_within_roundoff(got, f, dict(x1=x1.get(), x2=x2.get()))


def test_torch_cuda_tensors_without_copy(cuda):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    f = gc.value_and_grad(gc.parse("tanh(x) * y + y^2"))
    x = torch.linspace(-2.0, 2.0, N, dtype=torch.float64, device="cuda")
    y = torch.linspace(0.5, 1.5, N, dtype=torch.float64, device="cuda")
    got = gc.compile(f, target="cuda")(x=x, y=y)
    assert all(isinstance(o, torch.Tensor) and o.is_cuda for o in _flat(got))  # torch out
    t = torch.as_tensor(got[0], device="cuda")
    assert t.data_ptr() == got[0].__cuda_array_interface__["data"][0]
    assert_within_roundoff(got, f, dict(x=x.cpu().numpy(), y=y.cpu().numpy()))


def test_large_grid_stride(cuda):
    g = gc.parse("x * 2 + 1")
    n = 10_000 if ON_SIM else 10_000_000
    k = gc.compile(g, target="cuda", max_blocks=4 if ON_SIM else 80)
    x = np.arange(n, dtype=np.float64)
    np.testing.assert_array_equal(k(x), 2 * x + 1)


# -- the one kernel class (issue 12): every layout of the batch map kernel, one cache ----

VG_RTOL = {"float64": 1e-12, "float32": 1e-5}  # value and derivatives: a few ops chained


@pytest.mark.parametrize("prim", OPS, ids=[p.name for p in OPS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_value_and_grad_with_scalar_and_broadcast_inputs(cuda, prim, dtype):
    """The plan's batch map kernel with a scalar input (by value, its ops hoisted
    before the loop) and arrays broadcast against each other (strided reads)."""
    g = primitive_graph(prim, dtype)
    g = gc.value_and_grad(g) if prim.differentiable else g
    k = gc.compile(g, target="cuda")
    cols = list(primitive_points(prim, N, dtype).values())
    rows, width = (4, 8) if ON_SIM else (256, 4096)          # (rows, width) outputs
    mixed = [cols[0][1]] + [c[:rows].reshape(rows, 1) if j == 0 else c[:width]
                            for j, c in enumerate(cols[1:])]
    if len(cols) == 1:
        mixed = [cuda.to_device(cols[0].reshape(-1, 2))[:, :1]]   # a strided device view
    got = k(*mixed)
    want = gc.evaluate(g, *[_host(a) for a in mixed])
    for a, w in zip(_flat(got), _flat(want)):
        a = _host(a)
        assert a.shape == w.shape and a.dtype == w.dtype, prim.name
        np.testing.assert_allclose(a, w, rtol=VG_RTOL[dtype], atol=VG_RTOL[dtype] * 1e-2,
                                   equal_nan=True, err_msg=prim.name)


def test_one_cache_and_clear_cache_on_gpu(cuda):
    from graphc.backends import cuda as backend
    f = gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)"))
    a = gc.value_and_grad(gc.parse("sum(x * exp(x))", x=("n",)), "x")
    x = np.linspace(0.5, 2.0, N)
    gc.clear_cache()
    k1, k2 = gc.compile(f, target="cuda"), gc.compile(a, target="cuda")
    assert type(k1) is type(k2) is backend.CudaKernel
    first = k1(x, x), k2(x)
    info = backend.cache_info()
    assert info["map"] == 1 and info["program"] == 1
    assert gc.compile(f, target="cuda")(x, x) is not None and backend.cache_info() == info
    gc.clear_cache()
    assert backend.cache_info()["total"] == 0
    again = k1(x, x), k2(x)                          # compiled afresh, same numbers
    for u, v in zip(_flat(first), _flat(again)):
        np.testing.assert_array_equal(_host(u), _host(v))


def test_launch_uses_a_cached_specialised_dispatcher(cuda):
    """Repeated calls with the same layout and dtypes reuse one dispatcher specialised
    to the argument types (no re-typing per launch); a new dtype makes a second one."""
    if ON_SIM:
        pytest.skip("the simulator has no dispatcher specialisation")
    from graphc.backends import cuda as backend
    f = gc.value_and_grad(gc.parse("x^2 / 1.37 + sin(y)"))
    k = gc.compile(f, target="cuda")
    x = cuda.to_device(np.linspace(-2.0, 2.0, N))
    gc.clear_cache()
    first = k(x, x)
    assert backend.cache_info()["launch"] == 1
    again = k(x, x)
    assert backend.cache_info()["launch"] == 1
    for u, v in zip(_flat(first), _flat(again)):
        np.testing.assert_array_equal(_host(u), _host(v))
    k(cuda.to_device(np.linspace(-2.0, 2.0, N).astype(np.float32)), x)
    assert backend.cache_info()["launch"] == 2
    assert_within_roundoff(again, f, dict(x=x.copy_to_host(), y=x.copy_to_host()))
