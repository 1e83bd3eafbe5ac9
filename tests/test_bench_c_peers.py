"""The benchmark's hand-written C peers (benchmarks/cpeers/*.c) compute the right value
and gradient: generated over every main workload of benchmarks/workloads.py and every
way the benchmark compiles them (gcc -O3 -march=native, with and without -ffast-math,
serial and OpenMP), compared on 100 random points of the workload's box with graphc's
NumPy interpreter (scale-aware relative difference <= 1e-12) and, independently of
graphc, the gradient with central finite differences of the C value."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.corpus import scale_aware_rel_diff

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
from peers import C_PEERS, PEERS, c_workloads, compile_c, load_c  # noqa: E402
from workloads import MAIN  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not on PATH")

VARIANTS = [(False, False), (True, False), (False, True)]
"""(fast_math, openmp) as the benchmark uses them (OpenMP only for threads > 1)."""


def _build(w, fast_math, openmp):
    try:
        lib = compile_c(w.name, fast_math=fast_math, openmp=openmp)
    except Exception as exc:  # noqa: BLE001 - e.g. no libgomp: say why
        if openmp and "fopenmp" in str(getattr(exc, "stderr", "")) + str(exc):
            pytest.skip(f"gcc cannot build OpenMP here: {exc}")
        raise
    return load_c(lib, len(w.variables))


def test_every_main_workload_has_c():
    assert sorted(w.name for w in MAIN) == c_workloads()
    assert {p.name for p in PEERS} >= set(C_PEERS)


@pytest.mark.parametrize("fast_math,openmp", VARIANTS,
                         ids=["O3", "O3-ffast-math", "O3-fopenmp"])
@pytest.mark.parametrize("w", MAIN, ids=[w.name for w in MAIN])
def test_c_peer_matches_interpreter(w, fast_math, openmp):
    run = _build(w, fast_math, openmp)
    xs = w.inputs(100, seed=12345)
    got = run(xs)
    vg = gc.value_and_grad(gc.parse(w.source, list(w.variables)))
    ref = gc.evaluate(vg, *xs)
    ref = [ref[0], *ref[1]]
    assert len(got) == len(ref) == len(w.variables) + 1
    for j, (g, r) in enumerate(zip(got, ref)):
        d = scale_aware_rel_diff(g, np.broadcast_to(r, g.shape))
        assert d <= 1e-12, f"{w.name} output {j} (0 = value): rel diff {d:.3g}"


@pytest.mark.parametrize("w", MAIN, ids=[w.name for w in MAIN])
def test_c_gradient_is_derivative_of_c_value(w):
    """Central differences of the C value (h = 1e-6 · box width) against the C
    gradient: catches a hand-derived derivative that is wrong even where the value
    is right, without trusting graphc."""
    run = _build(w, False, False)
    xs = w.inputs(100, seed=54321)
    grads = run(xs)[1:]
    for i, (lo, hi) in enumerate(zip(w.low, w.high)):
        h = 1e-6 * (hi - lo)
        up = [x + h if k == i else x for k, x in enumerate(xs)]
        dn = [x - h if k == i else x for k, x in enumerate(xs)]
        fd = (run(up)[0] - run(dn)[0]) / (2 * h)
        err = np.abs(fd - grads[i]) / np.maximum(1.0, np.abs(grads[i]))
        assert err.max() < 1e-6, f"{w.name} d/d{w.variables[i]}: {err.max():.3g}"
