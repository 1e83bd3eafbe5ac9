"""Array graphs on Numba's CUDA simulator: every array primitive, an MLP and Rosenbrock.

Run through ``test_cuda_sim.py`` (its own process, ``NUMBA_ENABLE_CUDASIM=1``
set before Numba is imported), or by hand::

    NUMBA_ENABLE_CUDASIM=1 python3 -m pytest tests/cuda/cuda_sim_array_cases.py -q

Every result is compared with the NumPy interpreter (``graphc.evaluate``). Shapes are
tiny and blocks small (the simulator runs each thread as a Python thread, and kernels
with ``syncthreads`` are slow). Two launch configurations cover both code paths of
each reduction: one thread per result (the default for short reductions), and shared-
memory block reductions of 4 threads split over 2 blocks per result with a second
pass; matrix products run the tiled kernel with tiles of 2 and 3 (partial tiles at
every edge). The simulator raises IndexError on any out-of-bounds access, so guarded
reads (slices, ``unslice``, tile edges, grid-stride tails) are checked too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    pytest.skip("run through test_cuda_sim.py (needs NUMBA_ENABLE_CUDASIM=1 before "
                "Numba is imported)", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numba import cuda  # noqa: E402

import graphc as gc  # noqa: E402
from graphc.backends import cuda as cuda_backend  # noqa: E402
from graphc.backends.cuda.array_jit import CudaArrayKernel, MatmulLibrary  # noqa: E402
from graphc.ir import Graph, InputError, ShapeError, ops  # noqa: E402
from graphc.ir import array_ops as A  # noqa: E402
from _cuda_helpers import (ARRAY_CASES, array_case, case_id, mlp_graph,  # noqa: E402
                           mlp_values, rosenbrock_graph)

SERIAL = dict(threads_per_block=4, tile=2)
BLOCKS = dict(threads_per_block=4, tile=3, serial_reduce=0, reduce_threads=4,
              reduce_blocks=2)
RTOL = {"float64": 1e-12, "float32": 2e-6}
ATOL = {"float64": 1e-13, "float32": 1e-6}


def _flat(tree):
    if isinstance(tree, tuple):
        return [x for t in tree for x in _flat(t)]
    return [tree]


def _host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def check(graph, args=(), kwargs=None, dtype="float64", **options):
    kwargs = kwargs or {}
    k = gc.compile(graph, target="cuda", **options)
    assert isinstance(k, CudaArrayKernel)
    got = k(*args, **kwargs)
    host_args = [_host(a) for a in args]
    host_kwargs = {n: _host(a) for n, a in kwargs.items()}
    want = gc.evaluate(graph, *host_args, **host_kwargs)
    got_flat, want_flat = _flat(got), _flat(want)
    assert len(got_flat) == len(want_flat)
    for g, w, name in zip(got_flat, want_flat, graph.output_names):
        g = _host(g)
        assert g.shape == np.shape(w), name
        assert g.dtype == np.asarray(w).dtype, name
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=ATOL[dtype],
                                   err_msg=f"output {name}")
    return k, got


# -- every array primitive, value and reverse mode -------------------------------------

@pytest.mark.parametrize("case", ARRAY_CASES, ids=[case_id(c) for c in ARRAY_CASES])
@pytest.mark.parametrize("options", [SERIAL, BLOCKS], ids=["serial", "blocks"])
def test_array_primitive_example_matches_numpy(case, options):
    g, vals = array_case(*case)
    check(g, vals, **options)


# -- the examples: Rosenbrock and an MLP -------------------------------------------------

@pytest.mark.parametrize("options", [SERIAL, BLOCKS], ids=["serial", "blocks"])
def test_rosenbrock_value_and_grad(options):
    g = rosenbrock_graph()
    k = gc.compile(g, target="cuda", **options)
    cuda_backend.clear_cache()
    for n, seed in ((7, 0), (2, 1), (11, 2)):        # one program per n, cached
        x = np.random.default_rng(seed).uniform(-2.0, 2.0, n)
        f, grad = k(x)
        want_f, want_g = gc.evaluate(g, x)
        np.testing.assert_allclose(f, want_f, rtol=1e-12)
        np.testing.assert_allclose(grad, want_g, rtol=1e-12, atol=1e-12)
        # the textbook gradient (ground truth we did not write: SciPy's rosen_der form)
        d = np.zeros(n)
        d[1:] += 200 * (x[1:] - x[:-1] ** 2)
        d[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        np.testing.assert_allclose(grad, d, rtol=1e-12, atol=1e-10)
    assert cuda_backend.cache_info()["program"] == 3


def test_rosenbrock_minimum():
    f, grad = gc.compile(rosenbrock_graph(), target="cuda", **SERIAL)(np.ones(5))
    assert float(f) == 0.0 and not np.any(grad)


@pytest.mark.parametrize("options", [SERIAL, BLOCKS], ids=["serial", "blocks"])
def test_mlp_value_and_grad(options):
    check(mlp_graph(), kwargs=mlp_values(D=4, B=5, H=3, C=3), **options)


class NumpyStandIn(MatmulLibrary):
    """The library path with NumPy on the simulator's arrays (whose memory is a NumPy
    array, ``_ary``), standing in for CuPy/PyTorch: checks the operand views, offsets
    and 1-D handling graphc passes to a library, not cuBLAS itself."""

    name = "numpy stand-in"

    def __init__(self):
        self.calls = 0

    def wrap(self, device_array):
        return device_array._ary

    def transpose(self, x, axes):
        return np.transpose(x, axes)

    def broadcast_to(self, x, shape):
        return np.broadcast_to(x, shape)

    def astype(self, x, dtype):
        return x.astype(dtype)

    def matmul(self, a, b, out):
        self.calls += 1
        assert out.base is not None, "out must be a view into graphc's buffer"
        np.matmul(a, b, out=out)


def test_mlp_through_a_matmul_library():
    lib = NumpyStandIn()
    g = mlp_graph()
    k, _ = check(g, kwargs=mlp_values(D=4, B=5, H=3, C=3), matmul=lib, **SERIAL)
    assert k.matmul_backend == "numpy stand-in"
    assert lib.calls == sum(n.prim.name == "matmul" for n in gc.optimize(g).nodes)


@pytest.mark.parametrize("matmul", ["tiled", "library"])
def test_matmul_of_views_and_vectors(matmul):
    """Operands that are transposes, slices, broadcasts and reshapes of inputs and of
    computed values, 1-D operands, and a float32 operand in a float64 product."""
    M = ops.variable("M", shape=(5, 4))
    v = ops.variable("v", shape=(3,))
    w = ops.variable("w", "float32", shape=(4,))
    e = ops.exp(ops.mul(M, 0.5))                          # computed (5, 4)
    outs = [
        A.matmul(A.transpose(M), e),                       # (4, 5) @ (5, 4)
        A.matmul(A.getitem(M, "1:4, ::2"), A.broadcast_to(v, (2, 3))),  # (3, 2) @ (2, 3)
        A.matmul(v, A.getitem(M, ":3, 1:")),               # (3,) @ (3, 3)
        A.matmul(M, w),                                    # (5, 4) @ (4,), float64
        A.matmul(w, w),                                    # (4,) @ (4,), float32
        A.matmul(A.reshape(A.transpose(e), (2, 10)), A.reshape(e, (10, 2))),
    ]
    g = Graph([M, v, w], outs)
    rng = np.random.default_rng(3)
    vals = [rng.normal(size=(5, 4)), rng.normal(size=3), rng.normal(size=4).astype(np.float32)]
    lib = NumpyStandIn() if matmul == "library" else "tiled"
    k = gc.compile(g, target="cuda", matmul=lib, **SERIAL)
    got = k(*vals)
    want = gc.evaluate(g, *vals)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.float32 else 1e-12)
    assert k.matmul_backend == ("tiled" if matmul == "tiled" else "numpy stand-in")


# -- fusion, views, guarded reads --------------------------------------------------------

def test_views_slices_and_padding():
    x = ops.variable("x", shape=(4, 6))
    A = gc.ir.array_ops
    r = A.reshape(A.transpose(x), (3, 8))                  # reshape of a non-contiguous view
    outs = [
        A.getitem(x, "::-1, 1::2"),                        # reversed and strided slices
        A.unslice(ops.sin(A.getitem(x, "1:3, ::-2")), (4, 6), "1:3, ::-2"),
        A.unslice(A.getitem(x, "::3"), (4, 6), "::3"),     # step-3 padding
        ops.mul(r, A.sum(r, axis=1, keepdims=True)),
        A.concatenate(ops.exp(A.getitem(x, ":1")),
                      A.getitem(A.transpose(A.reshape(x, (6, 4))), ":2"), axis=0),
        A.transpose(x),                                    # an output that is a view
        x,                                                 # an output that is an input
        ops.const(2.5, shape=(2, 2)),                      # a constant output
    ]
    g = Graph([x], outs)
    check(g, [np.random.default_rng(0).normal(size=(4, 6))], **SERIAL)
    check(g, [np.random.default_rng(1).normal(size=(4, 6))], **BLOCKS)


def test_symbolic_concatenate_and_stack():
    g = gc.parse("concatenate(x, sin(y)) * 2 + sum(stack(x[:2], y[1:3]), axis=0)[0]",
                 x=("m",), y=("n",))
    rng = np.random.default_rng(2)
    check(g, [rng.normal(size=3), rng.normal(size=4)], **SERIAL)
    check(g, [rng.normal(size=5), rng.normal(size=3)], **BLOCKS)


def test_softmax_is_stable_for_large_logits():
    g = gc.value_and_grad(gc.parse("sum(softmax(x, axis=1) * w) + logsumexp(x)",
                                   x=(3, 5), w=(3, 5)), "x")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 5)) * 300.0 + 700.0            # exp(x) alone overflows
    w = rng.normal(size=(3, 5))
    for opts in (SERIAL, BLOCKS):
        _, (f, gx) = check(g, [x, w], **opts)
        assert np.isfinite(f) and np.all(np.isfinite(gx))


@pytest.mark.parametrize("options", [SERIAL, BLOCKS], ids=["serial", "blocks"])
def test_max_and_min_propagate_nan_and_split_ties(options):
    g = gc.value_and_grad(gc.parse("max(x) + min(x, axis=0)[1] * 2", x=(3, 4)), "x")
    x = np.arange(12.0).reshape(3, 4) % 5
    check(g, [x], **options)                               # ties: 4.0 twice
    x[1, 2] = np.nan
    got = gc.compile(gc.parse("max(x, axis=1) + min(x, axis=0)[2]", x=(3, 4)),
                     target="cuda", **options)(x)
    assert np.all(np.isnan(got))                           # as np.max / np.min


@pytest.mark.parametrize("options", [SERIAL, BLOCKS], ids=["serial", "blocks"])
def test_empty_reductions(options):
    x = ops.variable("x", shape=("n",))
    g = Graph([x], [A.sum(ops.exp(x)), A.prod(x), ops.mul(x, 2.0)])
    s, p, y = gc.compile(g, target="cuda", **options)(np.zeros(0))
    assert float(s) == 0.0 and float(p) == 1.0 and y.shape == (0,)


def test_long_block_reduction_with_grid_stride_and_two_passes():
    # 4 threads, at most 3 blocks per result: each thread loops over many entries
    g = gc.parse("sum(x^2, axis=1) + max(x, axis=1)", x=(2, 50))
    x = np.random.default_rng(5).normal(size=(2, 50))
    k, _ = check(g, [x], threads_per_block=4, serial_reduce=0, reduce_threads=4,
                 reduce_blocks=6)
    kinds = [kern.kind for kern in k.render().kernels]
    assert kinds.count("reduce") == 2 and kinds.count("reduce2") == 2


# -- inputs: device arrays, strides, dtypes, errors ---------------------------------------

def test_device_inputs_give_device_outputs():
    g = rosenbrock_graph()
    x = np.linspace(-1.0, 1.5, 6)
    f, grad = gc.compile(g, target="cuda", **SERIAL)(cuda.to_device(x))
    assert hasattr(grad, "copy_to_host") and grad.shape == (6,)
    want = gc.evaluate(g, x)
    np.testing.assert_allclose(grad.copy_to_host(), want[1], rtol=1e-12)
    np.testing.assert_allclose(f.copy_to_host(), want[0], rtol=1e-12)


def test_non_contiguous_device_inputs_are_read_in_place():
    g = gc.parse("sum(A @ B, axis=0) + B[0]", A=(3, 4), B=(4, "k"))
    base = np.random.default_rng(6).normal(size=(4, 6))
    dA = cuda.to_device(np.random.default_rng(7).normal(size=(4, 3))).T   # (3, 4) strided
    dB = cuda.to_device(base)[:, ::2]                                     # (4, 3) strided
    k = gc.compile(g, target="cuda", **SERIAL)
    got = k(dA, dB).copy_to_host()
    np.testing.assert_allclose(got, gc.evaluate(g, dA.copy_to_host(), base[:, ::2]),
                               rtol=1e-12)


def test_integer_inputs_scalar_inputs_and_float32_graphs():
    g = gc.parse("a * sum(x * x) + mean(x)", x=(2, 3))
    check(g, [2.0, np.arange(6).reshape(2, 3)], **SERIAL)          # 0-d a, int64 x
    g32 = gc.value_and_grad(gc.parse("sum(softmax(x) * w)", x=(2, 5), w=(5,),
                                     dtype="float32"), "x")
    rng = np.random.default_rng(8)
    x, w = rng.normal(size=(2, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    _, got = check(g32, [w, x], dtype="float32", **BLOCKS)   # natural input order: w, x
    assert got[1].dtype == np.float32


def test_shapes_are_checked_and_programs_cached_per_binding():
    g = gc.parse("sum(A @ x)", A=("m", "n"), x=("n",))
    k = gc.compile(g, target="cuda", **SERIAL)
    cuda_backend.clear_cache()
    with pytest.raises(InputError, match="dimension"):
        k(np.ones((2, 3)), np.ones(4))
    with pytest.raises(InputError, match="missing"):
        k(np.ones((2, 3)))
    assert float(k(np.ones((2, 3)), np.ones(3))) == 6.0
    assert float(k(np.ones((4, 2)), np.ones(2))) == 8.0
    assert float(k(np.ones((2, 3)), np.ones(3) * 2)) == 12.0
    assert cuda_backend.cache_info()["program"] == 2
    bad = gc.parse("x[2:]", x=("n",))
    with pytest.raises(ShapeError):
        gc.compile(bad, target="cuda")(np.ones(1))
