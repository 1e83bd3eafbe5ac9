"""How compiled kernels take their inputs: strided, broadcast, non-native dtypes and byte
orders, scalars, empty arrays. Every result is compared with the NumPy interpreter,
exactly (the graph uses + - * / only, so every path must give the same bits) or within
a few ulp where a transcendental function is involved."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc

ARITH = gc.parse("(x*y - x/y + 3*x) / (y*y + 1)")
TRANS = gc.parse("exp(x)*sin(y) + log(y*y + 1)")
RNG = np.random.default_rng(4)


def _check(graph, *args, exact=True, **kwargs):
    k = gc.compile(graph)
    got = k(*args, **kwargs)
    ref = gc.evaluate(graph, *args, **kwargs)
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    if exact:
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, rtol=4e-15, atol=0)
    return got


@pytest.mark.parametrize("graph,exact", [(ARITH, True), (TRANS, False)])
def test_contiguous_float64(graph, exact):
    x, y = RNG.uniform(-2, 2, 1003), RNG.uniform(0.5, 2, 1003)
    _check(graph, x, y, exact=exact)


@pytest.mark.parametrize("graph,exact", [(ARITH, True), (TRANS, False)])
def test_strided_and_transposed_inputs(graph, exact):
    base = RNG.uniform(0.5, 2, (42, 60))
    _check(graph, base[::3, ::2], base[1::3, 1::2], exact=exact)        # strided views
    _check(graph, base.T, base.T[::-1], exact=exact)                    # F order, negative
    _check(graph, np.asfortranarray(base), base, exact=exact)


def test_broadcast_inputs():
    col = RNG.uniform(0.5, 2, (50, 1))
    row = RNG.uniform(0.5, 2, (1, 70))
    got = _check(ARITH, col, row)
    assert got.shape == (50, 70)
    _check(ARITH, RNG.uniform(0.5, 2, (3, 4, 5)), RNG.uniform(0.5, 2, (5,)))
    _check(ARITH, np.broadcast_to(row, (50, 70)), col)


def test_scalar_and_size_one_inputs_are_hoisted():
    x = RNG.uniform(-2, 2, 999)
    _check(ARITH, x, 1.5)
    _check(ARITH, 0.25, x + 3)
    _check(ARITH, x, np.array([1.5]))
    _check(ARITH, x.reshape(1, -1), np.array([[1.5]]))
    k = gc.compile(ARITH)
    k(x, 1.5)
    assert (False, True) in k._compiled  # a specialisation with y as a scalar


def test_scalar_only_call_returns_numpy_scalars():
    k = gc.compile(gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)")))
    y, (d1, d2) = k(2.0, 5.0)
    assert isinstance(y, np.float64) and np.ndim(y) == 0
    assert y == pytest.approx(11.652071, abs=1e-6)       # Baydin et al. 2018, Table 2
    assert d1 == pytest.approx(5.5) and d2 == pytest.approx(1.716338, abs=1e-6)
    y0 = k(x1=np.float32(2.0), x2=5)[0]
    assert y0 == pytest.approx(11.652071, abs=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.float32, ">f8", "<f4",
                                   ">i4", bool])
def test_non_native_dtypes_into_a_float64_graph(dtype):
    x = (RNG.uniform(1, 5, 501)).astype(dtype)
    y = (RNG.uniform(1, 5, 501)).astype(dtype)
    got = _check(ARITH, x, y)
    assert got.dtype == np.float64


def test_float32_graph_takes_float64_input():
    g = gc.parse("x*y + x/y", dtype="float32")
    x, y = RNG.uniform(1, 2, 300), RNG.uniform(1, 2, 300)
    got = gc.compile(g)(x, y)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, gc.evaluate(g, x, y))


def test_zero_size_and_empty_shapes():
    k = gc.compile(gc.value_and_grad(ARITH))
    y, (dx, dy) = k(np.empty(0), np.empty(0))
    assert y.shape == dx.shape == dy.shape == (0,)
    y, _ = k(np.empty((3, 0)), 2.0)
    assert y.shape == (3, 0)


def test_results_are_fresh_arrays():
    """Output buffers are recycled only when nothing refers to them: results of earlier
    calls stay intact."""
    k = gc.compile(ARITH)
    x, y = RNG.uniform(-2, 2, 100_000), RNG.uniform(0.5, 2, 100_000)
    first = k(x, y)
    keep = first.copy()
    view = first[10:20]
    del first
    second = k(x + 1, y)
    np.testing.assert_array_equal(view, keep[10:20])
    assert not np.shares_memory(second, view)
    third = k(x, y)
    np.testing.assert_array_equal(third, keep)
    assert not np.shares_memory(third, second)


def test_bad_inputs_raise_graphc_errors():
    k = gc.compile(ARITH)
    with pytest.raises(gc.InputError):
        k(np.ones(3), np.ones(4))
    with pytest.raises(gc.InputError):
        k(np.ones(3))
    with pytest.raises(gc.InputError):
        k(np.ones(3), np.array(["a", "b", "c"]))
    with pytest.raises(gc.InputError):
        k(np.ones(3), y=np.ones(3), z=1)


def test_loop_invariant_subexpressions_with_scalar_inputs():
    """Subexpressions of scalar inputs only (calls, divisions by constants) are computed
    once before the loop; results equal the interpreter's."""
    g = gc.value_and_grad(gc.parse("(w2*sigmoid(w1*x + b1) + b2 - y)^2 + exp(w1/3)*x",
                                   ["x", "y", "w1", "b1", "w2", "b2"]))
    x, y = RNG.uniform(-2, 2, 1001), RNG.uniform(-2, 2, 1001)
    k = gc.compile(g)
    got = k(x, y, 0.7, -0.2, 1.3, 0.1)
    ref = gc.evaluate(g, x, y, 0.7, -0.2, 1.3, 0.1)
    for a, b in zip((got[0], *got[1]), (ref[0], *ref[1])):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    text = k.llvm_ir((False, False, True, True, True, True))
    if k.width > 1:
        # the exp of w1/3 sits in a block before the loop (entry, or the join block
        # after the hoisted division), not in the loop's blocks
        loop_blocks = {"loop", "full_in", "tail_in", "body", "next", "tail_out", "exit"}
        block, outside = None, 0
        for line in text.splitlines():
            if line and not line.startswith((" ", ";", "declare", "define", "}", "@",
                                              "!", "target", "attributes")) \
                    and line.rstrip().endswith(":"):
                block = line.rstrip(":").strip('"')
            elif "_exp" in line and "call" in line and block not in loop_blocks:
                outside += 1
        assert outside == 1


@pytest.mark.parametrize("nthreads", [1, 2])
def test_many_outputs_large_batches_use_streaming_stores(nthreads):
    """Kernels with many outputs write large batches with non-temporal stores; the
    results are the same bits as the interpreter's (+ - * / only)."""
    g = gc.value_and_grad(gc.parse("(a*b - c/d + e*a) / (b*b + 1)", list("abcde")))
    k = gc.compile(g, threads=nthreads)
    if k.width > 1:
        assert "!nontemporal" in k.llvm_ir()
    n = 600_001   # 6 outputs x 8 bytes x n > 16 MiB, and a partial last block
    args = [RNG.uniform(0.5, 2, n) for _ in range(5)]
    got = k(*args)
    ref = gc.evaluate(g, *args)
    for a, b in zip((got[0], *got[1]), (ref[0], *ref[1])):
        np.testing.assert_array_equal(a, b)


def test_ctypes_fallback_path(tmp_path):
    """Without the fast-call trampoline kernels are called through ctypes."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np, graphc as gc\n"
            "g = gc.value_and_grad(gc.parse('x*y + exp(x)/y'))\n"
            "k = gc.compile(g)\n"
            "x, y = np.linspace(0.5, 2, 100003), np.linspace(1, 3, 100003)\n"
            "got, ref = k(x, y), gc.evaluate(g, x, y)\n"
            "assert k.specialization((False, False)).pyfunc is None\n"
            "for a, b in zip((got[0], *got[1]), (ref[0], *ref[1])):\n"
            "    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)\n"
            "print('ok')\n")
    env = dict(os.environ, GRAPHC_NO_TRAMPOLINE="1", GRAPHC_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
