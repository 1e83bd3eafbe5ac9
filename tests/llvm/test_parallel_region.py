"""Array programs on several threads run as one parallel region (issue 16, part 5).

The module's ``threaded`` driver is called once per thread; the threads take the
chunks of each split step from a shared counter and meet at a barrier between steps
(graphc/backends/llvm/arrays.py, ``_emit_driver``). Ground truth: the same kernel on
one thread, which runs the serial ``kernel`` function. Elementwise loop nests (one-
dimensional ones with inlined ``unslice``/``concatenate`` regions included) must agree
bit for bit whatever the chunking; matrix products split by rows or columns of the
result to rounding. Chunk counts are forced through ``oversplit_for`` so that chunk
boundaries fall at many offsets from the regions' edges; repeated calls and calls from
two Python threads at once check the barrier for races.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import arrays
from graphc.backends.llvm import threads as llvm_threads


@pytest.fixture
def all_threads(monkeypatch):
    """Every thread asked for runs, whatever the machine's load."""
    monkeypatch.setattr(llvm_threads, "dynamic_threads", lambda: False)


def _split_units(monkeypatch) -> list:
    """Record the units of every step the driver splits (chunks > 1)."""
    seen: list = []
    real = arrays._driver_control

    def spy(steps, threads):
        ctl, most = real(steps, threads)
        words = ctl[arrays._CONTROL_STEPS:].reshape(-1, arrays._CONTROL_WORDS)
        seen.append([int(w[2]) for w in words if w[1] > 1])
        return ctl, most
    monkeypatch.setattr(arrays, "_driver_control", spy)
    return seen


ROSEN = "sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)"


@pytest.mark.parametrize("n", [200_003, 262_144])
@pytest.mark.parametrize("oversplit", [1, 3, 7])
def test_one_dimensional_regions_split_bit_for_bit(n, oversplit, monkeypatch, all_threads):
    """The Rosenbrock gradient (x[1:] and x[:-1] read inside one loop, unslices at both
    ends) splits its one loop nest and equals the one-thread result exactly."""
    g = gc.grad(gc.parse(ROSEN, x=("n",)), "x")
    x = np.random.default_rng(n).uniform(-2, 2, n)
    want = gc.compile(g, threads=1)(x)
    seen = _split_units(monkeypatch)
    monkeypatch.setattr(llvm_threads, "oversplit_for", lambda work, parts: oversplit)
    for threads in (2, 3):
        got = gc.compile(g, threads=threads)(x)
        np.testing.assert_array_equal(got, want)
    assert seen and all(units for units in seen), "the loop nest was not split"


def test_concatenate_read_inside_a_split_loop(monkeypatch, all_threads):
    """GradBench ode's ``concatenate(x[:1], x[1:] * y[:-1])`` read inside its consumer
    (regions with a select), split over threads: equal to one thread bit for bit."""
    n = 300_001
    f = gc.function(lambda x, y: gc.numpy.sin(gc.numpy.concatenate([x[:1], x[1:] * y[:-1]]))
                    * 2.0 + y, shapes={"x": (n,), "y": (n,)})
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=n), rng.normal(size=n)
    want = gc.compile(f, threads=1)(x, y)
    seen = _split_units(monkeypatch)
    monkeypatch.setattr(llvm_threads, "oversplit_for", lambda work, parts: 5)
    got = gc.compile(f, threads=2)(x, y)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(want, np.sin(np.concatenate([x[:1], x[1:] * y[:-1]])) * 2 + y,
                               rtol=1e-13, atol=1e-15)
    assert seen and seen[0], "the loop nest was not split"


def _mlp():
    rng = np.random.default_rng(7)
    W1, W2 = rng.normal(size=(48, 64)) / 8, rng.normal(size=(10, 48)) / 7
    X = rng.normal(size=(64, 4096))

    def loss(W1, W2, X):
        h = gc.numpy.tanh(W1 @ X)
        return gc.numpy.sum((W2 @ h) ** 2) / 4096
    f = gc.function(loss, shapes={"W1": W1.shape, "W2": W2.shape, "X": X.shape})
    return gc.value_and_grad(f, argnums=(0, 1)), (W1, W2, X)


def test_products_and_loops_of_an_mlp_step(monkeypatch, all_threads):
    """An MLP step: products split by columns (W1 @ X, 4096 columns) and rows, the
    tanh loop by rows; value and gradients equal one thread's to rounding and NumPy's."""
    vg, args = _mlp()
    one = gc.compile(vg, threads=1)(*args)
    seen = _split_units(monkeypatch)
    two = gc.compile(vg, threads=2)(*args)
    assert seen and 4096 in seen[0], seen
    W1, W2, X = args
    h = np.tanh(W1 @ X)
    z = W2 @ h
    dz = 2 * z / 4096
    want = (np.sum(z ** 2) / 4096, (((W2.T @ dz) * (1 - h ** 2)) @ X.T, dz @ h.T))
    for got in (one, two):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    for a, b in zip(one[1], two[1]):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("spin", [None, 0])
def test_repeated_calls_give_the_same_bits(spin, monkeypatch, all_threads):
    """200 calls on two threads, many small chunks: every result identical (a race at
    the barrier or on a chunk counter would show as a differing or torn result). With
    no spin budget, every wait at a barrier sleeps on the futex and is woken."""
    vg, args = _mlp()
    monkeypatch.setattr(llvm_threads, "oversplit_for", lambda work, parts: 8)
    if spin is not None:
        monkeypatch.setattr(arrays, "BARRIER_SPIN_CYCLES", spin)
        monkeypatch.setattr(arrays, "BARRIER_SPIN_CYCLES_CROWDED", spin)
    k = gc.compile(vg, threads=2)
    first = k(*args)
    for _ in range(200):
        again = k(*args)
        assert again[0] == first[0]
        for a, b in zip(again[1], first[1]):
            np.testing.assert_array_equal(a, b)


def test_calls_from_two_python_threads_at_once(all_threads):
    """Two Python threads calling threaded kernels at the same time: one region runs at
    a time on the pool, the other caller runs its program alone (no deadlock), and
    both get the one-thread results."""
    g = gc.grad(gc.parse(ROSEN, x=("n",)), "x")
    x = np.random.default_rng(0).uniform(-2, 2, 400_000)
    want = gc.compile(g, threads=1)(x)
    k = gc.compile(g, threads=2)
    k(x)
    errors: list = []

    def work():
        try:
            for _ in range(40):
                np.testing.assert_array_equal(k(x), want)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in ts), "a call hung"
    assert not errors, errors[0]


def test_driver_runs_alone_when_the_pool_is_taken(monkeypatch, all_threads):
    """With the region lock held elsewhere, a call runs its driver as thread 0 of 1:
    every chunk on the calling thread, the same result."""
    g = gc.grad(gc.parse(ROSEN, x=("n",)), "x")
    x = np.random.default_rng(2).uniform(-2, 2, 300_000)
    want = gc.compile(g, threads=1)(x)
    tids = []
    real = llvm_threads.run_region

    def spy(run, threads):
        return real(lambda tid, n: (tids.append((tid, n)), run(tid, n)), threads)
    monkeypatch.setattr(llvm_threads, "run_region", spy)
    with llvm_threads._region_lock:
        got = gc.compile(g, threads=2)(x)
    np.testing.assert_array_equal(got, want)
    assert tids == [(0, 1)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(24, 40, 5000), (4, 70, 9001), (64, 8, 5000)])
def test_products_split_over_the_inner_dimension(shape, dtype, monkeypatch, all_threads):
    """C = A Bᵀ and Aᵀ B with a long inner dimension: partial products over fixed parts
    of it, summed in order, so 2 and 3 threads and any chunking give the same bits;
    within rounding of NumPy's product and of the one-thread kernel."""
    m, n, k = shape
    rng = np.random.default_rng(k)
    A = rng.normal(size=(m, k)).astype(dtype)
    Bt = rng.normal(size=(n, k)).astype(dtype)
    f = gc.function(lambda A, Bt: gc.numpy.sin(A @ Bt.T) + (A.T @ A[:, :n]).sum(),
                    dtype=dtype, shapes={"A": A.shape, "Bt": Bt.shape})
    assert arrays._split_axis(arrays.Contraction(None, None, None, m, n, k, dtype)) == "k"
    seen = _split_units(monkeypatch)
    runs = []
    for threads, over in ((2, 1), (2, 3), (3, 2)):
        monkeypatch.setattr(llvm_threads, "oversplit_for", lambda work, parts, o=over: o)
        runs.append(gc.compile(f, threads=threads)(A, Bt))
    assert any(arrays.K_PARTS in units for units in seen), seen
    for got in runs[1:]:
        np.testing.assert_array_equal(got, runs[0])
    a64, b64 = A.astype(np.float64), Bt.astype(np.float64)
    want = np.sin(a64 @ b64.T) + (a64.T @ a64[:, :n]).sum()
    tol = 1e-11 if dtype == "float64" else 2e-3
    np.testing.assert_allclose(runs[0], want, rtol=tol, atol=tol * abs(want).max())
    one = gc.compile(f, threads=1)(A, Bt)
    np.testing.assert_allclose(one, runs[0], rtol=tol, atol=tol * abs(want).max())


def test_products_split_over_the_inner_dimension_at_run_time_sizes(monkeypatch, all_threads):
    """The weight gradient of a layer, g Xᵀ, over batches of 5000, then 4099 and 6001
    (the program of run-time sizes, compiled once for both): its partial products are
    summed at every size (a binding's step table once dropped the 'finish' flag, so
    the gradient was the uninitialised workspace)."""
    rng = np.random.default_rng(11)
    W = rng.normal(size=(24, 40)) / 6
    f = gc.function(lambda W, X: gc.numpy.sum(gc.numpy.tanh(W @ X)),
                    shapes={"W": W.shape, "X": (40, "B")})
    k = gc.compile(gc.grad(f, argnums=0), threads=2)
    seen = _split_units(monkeypatch)
    for B in (5000, 4099, 6001):
        X = rng.normal(size=(40, B))
        want = (1 - np.tanh(W @ X) ** 2) @ X.T
        np.testing.assert_allclose(k(W, X), want, rtol=1e-11, atol=1e-12)
    assert all(arrays.K_PARTS in units for units in seen), seen
    assert any(p.symbols for p in k._programs_mt.values())   # run-time sizes served
