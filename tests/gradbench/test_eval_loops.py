"""The GradBench evals written with graphc loops (issue 15 part 5: compile time that
scales): ``ode`` (a scan over the RK4 steps), ``lstm`` (a scan over the characters
whose body scans the layers) and ``det`` (a scan over the rows of the expansion in
minors).

* Their graphs, loop bodies included, do not grow with the trip count (``s``, ``c``,
  ``l``) and grow linearly in ``ell`` for ``det``: the loops are not unrolled.
* Their values and gradients at sizes beyond the unrolled versions' reach equal
  references outside graphc: NumPy loops written from the evals' definitions,
  ``numpy.linalg.det`` with Jacobi's formula, central finite differences.
* (slow) Cold compile of every function at GradBench's largest default sizes takes
  less than 5 s of CPU (fresh disk cache, empty in-memory cache), as the tool reports
  it: building the graphs, compiling, and the first call.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from graphc.ir import control_flow as cf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "gradbench"))
from evals import det, gmm, lstm, ode  # noqa: E402

from helpers import central_difference  # noqa: E402


def count_nodes(graph) -> int:
    """Nodes of ``graph`` and, recursively, of every loop or branch body it holds."""
    total = 0
    for node in graph.nodes:
        total += 1
        for body in cf.bodies(node):
            total += count_nodes(body.graph)
    return total


def has_loop(graph) -> bool:
    return any(cf.bodies(n) for n in graph.nodes)


# -- graph size ----------------------------------------------------------------------

def test_ode_graphs_do_not_grow_with_the_steps():
    small, large = ode.graphs(5, 3), ode.graphs(5, 1000)
    for a, b in zip(small, large):
        assert has_loop(b)
        assert count_nodes(a) == count_nodes(b) < 200


def test_lstm_graphs_grow_with_neither_characters_nor_layers():
    sizes = [count_nodes(g) for key in ((1, 3, 3), (1, 3, 5000), (6, 3, 3), (6, 3, 5000))
             for g in lstm.graphs(*key)]
    assert all(has_loop(g) for g in lstm.graphs(6, 3, 5000))
    assert sizes[0::2] == [sizes[0]] * 4 and sizes[1::2] == [sizes[1]] * 4
    assert sizes[1] < 600


def test_det_graphs_grow_linearly_in_ell():
    n4, n8, n11 = (count_nodes(det.graphs(ell)[1]) for ell in (4, 8, 11))
    assert has_loop(det.graphs(11)[1])
    # the unrolled expansion had ell·2^(ell-1) products: 11,264 at ell = 11
    assert n8 - n4 == pytest.approx((n11 - n8) * 4 / 3, rel=0.05)
    assert n11 < 800


# -- values and gradients against references outside graphc ---------------------------

def _rk4(x, s, tf=2.0):
    """s classical Runge-Kutta steps of y' = f(y), f(y)_0 = x_0, f(y)_i = x_i y_{i-1}."""
    def f(y):
        return np.concatenate([x[:1], x[1:] * y[:-1]])
    h, y = tf / s, np.zeros_like(x)
    for _ in range(s):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


@pytest.mark.parametrize("seed,n,s", [(0, 3, 100), (1, 40, 37),
                                        pytest.param(2, 200, 250, marks=pytest.mark.slow)])
def test_ode_many_steps(seed, n, s):
    x = np.random.default_rng(seed).random(n)
    inp = {"x": x.tolist(), "s": s}
    run, post = ode.FUNCTIONS["primal"](inp)
    np.testing.assert_allclose(post(run()), _rk4(x, s), rtol=1e-12)
    run, post = ode.FUNCTIONS["gradient"](inp)
    fd = central_difference(lambda v: _rk4(v, s)[-1], x, 1e-6)
    np.testing.assert_allclose(post(run()), fd, rtol=1e-6, atol=1e-9)


def _lstm_loss(MP, EP, S, SEQ):
    """ADBench's LSTM loss (GradBench's PyTorch tool's formula), NumPy loops."""
    def sig(v):
        return 1 / (1 + np.exp(-v))
    nl, b = MP.shape[0] // 2, EP.shape[1]
    h = [S[2 * i].copy() for i in range(nl)]
    c = [S[2 * i + 1].copy() for i in range(nl)]
    total = 0.0
    for t in range(len(SEQ) - 1):
        x = SEQ[t] * EP[0]
        for i in range(nl):
            gates = np.concatenate([x, h[i], x, h[i]]) * MP[2 * i] + MP[2 * i + 1]
            c[i] = c[i] * sig(gates[:b]) + sig(gates[b:2 * b]) * np.tanh(gates[3 * b:])
            h[i] = sig(gates[2 * b:3 * b]) * np.tanh(c[i])
            x = h[i]
        y = x * EP[1] + EP[2]
        total += np.sum(SEQ[t + 1] * (y - np.log(2 + np.sum(np.exp(y)))))
    return -total / ((len(SEQ) - 1) * b)


@pytest.mark.parametrize("seed,nl,b,c", [(0, 3, 4, 40),
                                         pytest.param(1, 2, 7, 1500, marks=pytest.mark.slow)])
def test_lstm_long_sequences(seed, nl, b, c):
    """Values and the gradient (central differences of the NumPy loss) beyond the
    unrolled version's reach (it ran out of memory at l=2, c=64)."""
    rng = np.random.default_rng(seed)
    MP, EP, S = rng.random((2 * nl, 4 * b)), rng.random((3, b)), rng.random((2 * nl, b))
    SEQ = rng.integers(0, 2, (c, b)).astype(float)
    inp = {"main_params": MP.tolist(), "extra_params": EP.tolist(), "state": S.tolist(),
           "sequence": SEQ.tolist()}
    run, post = lstm.FUNCTIONS["objective"](inp)
    assert post(run()) == pytest.approx(_lstm_loss(MP, EP, S, SEQ), rel=1e-11)
    run, post = lstm.FUNCTIONS["jacobian"](inp)
    got = np.asarray(post(run()))
    if c > 100:  # finite differences of a 1,500-step NumPy loop: a few entries only
        h = 1e-4  # the loss sums 1,500 terms: a larger step keeps the rounding error small
        for i in rng.choice(MP.size, 6, replace=False):
            e = np.zeros(MP.size)
            e[i] = h
            fd = (_lstm_loss(MP + e.reshape(MP.shape), EP, S, SEQ)
                  - _lstm_loss(MP - e.reshape(MP.shape), EP, S, SEQ)) / (2 * h)
            assert got[i] == pytest.approx(fd, rel=1e-5, abs=1e-10)
        return
    ref = np.concatenate(
        [central_difference(lambda m: _lstm_loss(m, EP, S, SEQ), MP, 1e-6).ravel(),
         central_difference(lambda e: _lstm_loss(MP, e, S, SEQ), EP, 1e-6).ravel()])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("ell", [1, 6, 9, 11])
def test_det_large_matrices(ell):
    """det A (numpy.linalg.det) and Jacobi's formula ∂det/∂A = det(A)·A^{-T}."""
    A = np.random.default_rng(ell).normal(size=(ell, ell))
    inp = {"A": A.ravel().tolist(), "ell": ell}
    d = np.linalg.det(A)
    run, post = det.FUNCTIONS["primal"](inp)
    assert post(run()) == pytest.approx(d, rel=1e-10)
    run, post = det.FUNCTIONS["gradient"](inp)
    np.testing.assert_allclose(post(run()), (d * np.linalg.inv(A).T).ravel(),
                               rtol=1e-8, atol=1e-10 * abs(d))


def test_det_sign_table_against_permutation_parity():
    """signs(ell)[c, mask] is the sign of moving column c to the front of the columns
    of mask (counted by brute force)."""
    ell = 5
    sg = det.signs(ell)
    for mask in range(1 << ell):
        cols = [c for c in range(ell) if mask >> c & 1]
        for c in range(ell):
            expect = 0.0 if c not in cols else (-1.0) ** cols.index(c)
            assert sg[c, mask] == expect


# -- cold compile time at GradBench's default sizes -----------------------------------

def _lstm_input(nl, c, b=7):
    rng = np.random.default_rng(0)
    return {"main_params": rng.random((2 * nl, 4 * b)).tolist(),
            "extra_params": rng.random((3, b)).tolist(),
            "state": rng.random((2 * nl, b)).tolist(),
            "sequence": rng.integers(0, 2, (c, b)).astype(float).tolist()}


def _gmm_input(d, k, n):
    rng = np.random.default_rng(0)
    return {"d": d, "k": k, "n": n, "m": 0, "gamma": 1.0,
            "x": rng.normal(size=(n, d)).tolist(),
            "alpha": rng.normal(size=k).tolist(), "mu": rng.uniform(size=(k, d)).tolist(),
            "q": rng.normal(size=(k, d)).tolist(),
            "l": rng.normal(size=(k, d * (d - 1) // 2)).tolist()}


LARGEST = [  # GradBench's largest default size of each eval (evals/<eval>/run.py)
    ("ode", ode, lambda: {"x": np.random.default_rng(0).random(100_000).tolist(),
                          "s": 100}),
    ("lstm", lstm, lambda: _lstm_input(6, 8192)),
    ("det", det, lambda: {"A": np.random.default_rng(0).random(121).tolist(), "ell": 11}),
    ("gmm", gmm, lambda: _gmm_input(64, 100, 1000)),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,module,make", LARGEST, ids=[x[0] for x in LARGEST])
def test_cold_compile_under_5_seconds_at_default_sizes(name, module, make, tmp_path,
                                                       monkeypatch):
    """prepare() and the first call (the tool's "compile" timing) of every function, on
    a fresh disk cache and with the in-memory caches empty: under 5 s of CPU time (CPU,
    not wall time, so that other processes on the machine do not count)."""
    from graphc.backends.llvm import arrays as llvm_arrays
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    inp = make()
    for fn, prepare in module.FUNCTIONS.items():
        module.kernels.cache_clear()
        llvm_arrays._memory.clear()
        t0 = time.process_time()
        run, _ = prepare(inp)
        run()
        cpu = time.process_time() - t0
        print(f"{name} {fn}: cold compile + first call {cpu:.2f} s CPU")
        assert cpu < 5.0, f"{name} {fn}: {cpu:.2f} s of CPU to compile"
