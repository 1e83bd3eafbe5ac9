"""graphc's GradBench ``particle`` and ``saddle`` evals (nested derivatives through
loops whose exit depends on values, four mode pairs each) against JAX references in the
same mode pair (``jax_nested_reference.py``: the same algorithms with JAX's derivatives,
following GradBench's C++ tools): the objectives' outer derivatives at several points, the
evals' answers from several starts, and the bound that reverse mode puts on the loops.
GradBench's own validators run in ``test_end_to_end.py`` (``run particle``/``saddle``)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
pytest.importorskip("jax")
import jax_nested_reference as ref  # noqa: E402
from evals import gd, particle, saddle  # noqa: E402
from tool_client import call  # noqa: E402

import graphc as gc
from graphc.frontend.tracer import trace

MODES = ["ff", "fr", "rf", "rr"]
OUTER = {"f": gc.jacfwd, "r": gc.grad}


@functools.cache
def _particle_derivative(mode):
    """``w -> d/dw x₀(t_f)²`` (outer mode ``mode[0]``, force in mode ``mode[1]``)."""
    d = OUTER[mode[0]](lambda v: particle.naive_euler(v, mode[1], particle.EULER_MAX_STEPS))
    return gc.compile(trace(lambda w: d(w)))


@pytest.mark.parametrize("mode", MODES)
def test_particle_objective_derivative_against_jax(mode):
    _, df = ref.particle_functions(mode[1], mode[0], particle.EULER_MAX_STEPS)
    k = _particle_derivative(mode)
    for w in (-0.2, 0.0, 0.2071918746486116, 0.5):
        np.testing.assert_allclose(float(k(w=w)), float(df(w)), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("inner", ["f", "r"])
def test_particle_objective_against_jax(inner):
    k = gc.compile(trace(lambda w: particle.naive_euler(w, inner)))
    f, _ = ref.particle_functions(inner)
    for w in (-0.2, 0.0, 0.5):
        np.testing.assert_allclose(float(k(w=w)), float(f(w)), rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_particle_eval_against_jax(mode):
    for w0 in (0.0, 0.1, 0.3):
        want = ref.particle(w0, mode[1], mode[0])
        got = call("particle", mode, {"w": w0})
        assert got == pytest.approx(want, rel=1e-7, abs=1e-9), (w0, got, want)


def test_particle_bound_gives_nan_not_a_wrong_value():
    """Reverse mode bounds the Euler loop; a loop stopped by the bound (10 steps, 352
    needed at w = 0) makes the objective NaN."""
    k = gc.compile(trace(lambda w: particle.naive_euler(w, "r", 10)))
    assert np.isnan(k(w=0.0))
    k = gc.compile(trace(lambda w: particle.naive_euler(w, "r", 400)))
    assert float(k(w=0.0)) == pytest.approx(float(ref.particle_objective(0.0, "r")[0]),
                                            rel=1e-12)


@functools.cache
def _saddle_r1cost(mode, start):
    """``p1 -> (max_p2 f(p1, p2), its gradient in p1)`` as graphc's eval computes them."""
    def r1cost(a, b):
        return saddle.inner_max((a, b), start, mode[1])
    d = OUTER[mode[0]](r1cost, argnums=(0, 1))
    return gc.compile(trace(lambda a, b: (r1cost(a, b), *d(a, b))))


@pytest.mark.parametrize("mode", MODES)
def test_saddle_inner_max_and_its_gradient_against_jax(mode):
    start = (1.0, 1.0)
    f, df, _ = ref.saddle_functions(start, mode[1], mode[0], saddle.INNER_MAX_STEPS)
    k = _saddle_r1cost(mode, start)
    for p1 in ((1.0, 1.0), (0.3, -0.7), (-2.0, 0.5)):
        value, da, db = k(a=p1[0], b=p1[1])
        np.testing.assert_allclose(float(value), float(f(np.array(p1))), rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose([float(da), float(db)], np.asarray(df(np.array(p1))),
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_saddle_eval_against_jax(mode):
    for start in ([1.0, 1.0], [0.5, -1.5], [2.0, 0.25]):
        want, _ = ref.saddle(start, mode[1], mode[0])
        got = call("saddle", mode, {"start": start})
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_saddle_default_start_within_the_inner_bound():
    """GradBench's start (1, 1) needs far fewer inner iterations than the bound that
    reverse mode puts on the inner solver (else rf/rr would give NaN)."""
    _, iterations = ref.saddle([1.0, 1.0], "r")
    assert iterations < saddle.INNER_MAX_STEPS // 2


@pytest.mark.parametrize("lazy", [True, False])
def test_solver_bound_gives_nan(lazy):
    k = gc.compile(trace(lambda a, b: gd.argmin(
        lambda p: (p[0] - 3.0) ** 2 + p[1] ** 2,
        lambda p: gc.grad(lambda u, v: (u - 3.0) ** 2 + v ** 2, argnums=(0, 1))(*p),
        (a, b), max_steps=5, lazy=lazy)))
    assert all(np.isnan(v) for v in k(a=0.0, b=1.0))


@pytest.mark.parametrize("lazy", [True, False])
def test_solver_against_numpy_port(lazy):
    """The traced solver (with graphc's gradient; trial point evaluated in a
    ``gc.cond`` or computed and selected) reaches gd.hpp's point, by the NumPy port with
    the exact gradient, on a shifted quadratic."""
    def fq(p):
        return (p[0] - 3.0) ** 2 + 2.0 * (p[1] + 1.0) ** 2

    def gq(p):
        return np.array([2 * (p[0] - 3.0), 4 * (p[1] + 1.0)])
    k = gc.compile(trace(lambda a, b: gd.argmin(
        fq, lambda p: gc.grad(lambda u, v: fq((u, v)), argnums=(0, 1))(*p), (a, b),
        lazy=lazy)))
    want, _ = ref.gd_argmin(fq, gq, [0.0, 1.0])
    np.testing.assert_allclose(np.asarray(k(a=0.0, b=1.0), dtype=float), want, rtol=1e-12)
