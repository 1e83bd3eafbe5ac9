"""Layer (c) for array graphs: real execution on an NVIDIA GPU, marked ``gpu``
(deselected by default, skipped when no GPU is usable). Run with::

    python3 -m pytest tests/cuda/test_cuda_arrays_gpu.py -m gpu -q -p no:cacheprovider

Block reductions with every default (256 threads, up to 1024 blocks, two passes), the
tiled matrix product and the cuBLAS path (CuPy or PyTorch, when installed) are
compared with the NumPy interpreter at sizes where each kernel runs thousands of
blocks. Tolerances: sums of n terms in a different order differ by about n·eps
relative to the sum of magnitudes (Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., section 4.2), hence relative 1e-10 at 10⁶ terms in float64.

To check this file's own logic without a GPU, ``GRAPHC_GPU_TESTS_ON_SIMULATOR=1`` with
``NUMBA_ENABLE_CUDASIM=1`` runs it on the simulator with tiny sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from _cuda_helpers import (ARRAY_CASES, ON_SIM, array_case, case_id,  # noqa: E402
                           flat_tree, gpu_or_skip, has_module, mlp_graph, mlp_values,
                           rosenbrock_graph, to_host)

pytestmark = pytest.mark.gpu

SMALL = dict(threads_per_block=4, reduce_threads=4, tile=2, serial_reduce=4) if ON_SIM \
    else {}
N_ROSEN = 40 if ON_SIM else 1_000_000
N_REDUCE = 300 if ON_SIM else 10_000_000


@pytest.fixture(scope="module")
def cuda():
    return gpu_or_skip()


_flat, _host = flat_tree, to_host


def assert_matches(got, want, rtol=1e-12, atol=1e-12):
    got, want = _flat(got), _flat(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = _host(g)
        assert g.shape == np.shape(w) and g.dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[case_id(c) for c in ARRAY_CASES])
@pytest.mark.parametrize("matmul", ["auto", "tiled"])
def test_array_examples_on_gpu(cuda, case, matmul):
    g, vals = array_case(*case)
    k = gc.compile(g, target="cuda", matmul=matmul, serial_reduce=0, **{
        k: v for k, v in SMALL.items() if k != "serial_reduce"})
    assert_matches(k(*vals), gc.evaluate(g, *vals))


@pytest.mark.parametrize("matmul", ["auto", "tiled"])
def test_mlp_value_and_grad_at_batch_4096(cuda, matmul):
    sizes = dict(D=5, B=7, H=3, C=4) if ON_SIM else dict(D=64, B=4096, H=128, C=10)
    vals = mlp_values(**sizes)
    g = mlp_graph()
    k = gc.compile(g, target="cuda", matmul=matmul, **SMALL)
    assert_matches(k(**vals), gc.evaluate(g, **vals), rtol=1e-10, atol=1e-12)
    if matmul == "tiled":
        assert k.matmul_backend == "tiled"


def test_rosenbrock_at_a_million_points_matches_scipy(cuda):
    so = pytest.importorskip("scipy.optimize")
    x = np.random.default_rng(0).uniform(-2.0, 2.0, N_ROSEN)
    f, grad = gc.compile(rosenbrock_graph(), target="cuda", **SMALL)(x)
    assert float(f) == pytest.approx(so.rosen(x), rel=1e-11)
    np.testing.assert_allclose(grad, so.rosen_der(x), rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_large_reductions_in_two_passes(cuda, dtype):
    g = gc.parse("sum(x) + max(x) * min(x) + logsumexp(x) + prod(1 + x * 1e-9)",
                 x=("n",), dtype=dtype)
    x = np.random.default_rng(1).uniform(-1, 1, N_REDUCE).astype(dtype)
    k = gc.compile(g, target="cuda", **SMALL)
    src = k.render(n=N_REDUCE)
    assert "reduce2" in [kern.kind for kern in src.kernels]
    got = float(k(x))
    want = float(gc.evaluate(g, x))
    assert got == pytest.approx(want, rel=1e-10 if dtype == "float64" else 1e-4)


def test_matmul_library_and_tiled_kernel_agree(cuda):
    m, k_, n = (5, 7, 3) if ON_SIM else (512, 384, 256)
    g = gc.parse("transpose(A) @ B[:, 1:] + 1", A=(k_, m), B=(k_, n + 1))
    rng = np.random.default_rng(2)
    A_, B_ = rng.normal(size=(k_, m)), rng.normal(size=(k_, n + 1))
    want = gc.evaluate(g, A_, B_)
    for choice in ("auto", "tiled"):
        got = gc.compile(g, target="cuda", matmul=choice, **SMALL)(A_, B_)
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


def test_cupy_and_torch_device_inputs_without_copies(cuda):
    g = gc.value_and_grad(gc.parse("sum(softmax(x @ W, axis=1) * Y)", x=("B", 8),
                                   W=(8, 4), Y=("B", 4)), "W")
    rng = np.random.default_rng(3)
    x, W, Y = rng.normal(size=(64, 8)), rng.normal(size=(8, 4)), rng.normal(size=(64, 4))
    vals = [W, Y, x]                        # the inputs' natural order
    want = gc.evaluate(g, *vals)
    k = gc.compile(g, target="cuda", **SMALL)
    ran = 0
    if has_module("cupy") and not ON_SIM:
        import cupy
        f, dW = k(*[cupy.asarray(v) for v in vals])
        assert hasattr(dW, "__cuda_array_interface__")
        assert_matches((cupy.asarray(f), cupy.asarray(dW)), want, rtol=1e-11)
        ran += 1
    if has_module("torch") and not ON_SIM:
        import torch
        if torch.cuda.is_available():
            f, dW = k(*[torch.as_tensor(v, device="cuda") for v in vals])
            assert_matches((torch.as_tensor(f, device="cuda"),
                            torch.as_tensor(dW, device="cuda")), want, rtol=1e-11)
            ran += 1
    f, dW = k(*[cuda.to_device(v) for v in vals])           # Numba device arrays
    assert_matches((f, dW), want, rtol=1e-11)
    if not ran and not ON_SIM:
        pytest.skip("neither CuPy nor PyTorch with CUDA is installed")
