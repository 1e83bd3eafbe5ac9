"""Fuzzing with hypothesis over every primitive of the registry.

CI runs a short budget. The long run (10^4 cases per property) is
``GRAPHC_FUZZ_EXAMPLES=10000 python -m pytest -m slow tests/hardening/test_fuzz.py``.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings

import graphc as gc
from graphc.ir import to_source, to_text

from helpers import flat as _flat, random_graphs, richardson_gradient

SHORT = 40
LONG = int(os.environ.get("GRAPHC_FUZZ_EXAMPLES", "10000"))
POINTS = [np.array([0.7, 1.3, -0.4]), np.array([-1.9, 0.05, 2.5])]


def check_llvm_equals_interpreter(g):
    rng = np.random.default_rng(1)
    xs = [np.concatenate([rng.uniform(-3, 3, 29), [0.0, -0.0, 1.0]]) for _ in g.inputs]
    vg = gc.value_and_grad(g)
    with np.errstate(all="ignore"):
        want = _flat(gc.evaluate(vg, *xs))
        # conditioning: how much the reference moves when the inputs move by a few ulp;
        # a few-ulp difference inside libm/libmvec is amplified as much
        eps = 4 * np.finfo(float).eps
        spread = [np.zeros_like(w) for w in want]
        for sign in (1.0, -1.0):
            moved = _flat(gc.evaluate(vg, *[x * (1 + sign * eps) for x in xs]))
            spread = [np.fmax(s_, np.abs(m - w)) for s_, m, w in zip(spread, moved, want)]
    got = _flat(gc.compile(vg)(*xs))
    with np.errstate(all="ignore"):
        moved = [_flat(gc.evaluate(vg, *[x * (1 + sign * eps) for x in xs]))
                 for sign in (1.0, -1.0)]
    # x^y with x < 0 is finite only where y is an integer: where y is computed, one ulp
    # decides, and libm and libmvec may decide differently. Those points are skipped.
    with np.errstate(all="ignore"):
        values = gc.backends.evaluate_all(vg, dict(zip(vg.input_names, xs)))
    knife_edge = np.zeros(len(xs[0]), bool)
    for n, v in values.items():
        if n.op == "pow" and not n.args[1].is_const:
            knife_edge |= np.broadcast_to(values[n.args[0]] < 0, knife_edge.shape)
    for k, (a, b, sp) in enumerate(zip(got, want, spread)):
        # where a few ulp change whether the result is finite, no backend is wrong
        stable = np.isfinite(moved[0][k]) == np.isfinite(b)
        stable &= np.isfinite(moved[1][k]) == np.isfinite(b)
        stable &= ~knife_edge
        a, b, sp = a[stable], b[stable], sp[stable]
        # same NaN/inf pattern; elsewhere a few ulp per call, amplified by the graph's
        # conditioning, with an absolute floor for results that are zero up to roundoff
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        fin = np.isfinite(b)
        tol = 1e-9 * np.abs(b[fin]) + 1e-12 + 16 * np.nan_to_num(sp[fin], posinf=np.inf)
        assert np.all(np.abs(a[fin] - b[fin]) <= tol), (a[fin], b[fin], tol)
        np.testing.assert_array_equal(a[~fin], b[~fin])


def _all_intermediates_finite(graph, x) -> bool:
    """No node of ``graph`` is NaN/inf at ``x``: the chain rule meets no singular
    partial there. Where it does (sqrt(x - x) at any x, whose partials inf - inf cancel
    in one mode and symbolically in the other), AD's NaN is honest and modes may differ."""
    with np.errstate(all="ignore"):
        vals = gc.backends.evaluate_all(graph, dict(zip(graph.input_names, x)))
    return all(np.all(np.isfinite(v)) for v in vals.values())


def check_forward_equals_reverse(g):
    for x in POINTS:
        if not (_all_intermediates_finite(gc.jacobian(g, mode="fwd"), x)
                and _all_intermediates_finite(gc.jacobian(g, mode="rev"), x)):
            continue
        with np.errstate(all="ignore"):
            fwd = _flat(gc.evaluate(gc.jacobian(g, mode="fwd"), *x))
            rev = _flat(gc.evaluate(gc.jacobian(g, mode="rev"), *x))
        for a, b in zip(fwd, rev):
            if np.isfinite(b):
                assert a == pytest.approx(float(b), rel=1e-10, abs=1e-12)


def check_finite_differences(g):
    x = POINTS[0]
    f = lambda v: float(gc.evaluate(g, *v))  # noqa: E731
    with np.errstate(all="ignore"):
        y = f(x)
        assume(math.isfinite(y) and abs(y) < 1e8)
        fd, err = richardson_gradient(f, x, h=1e-4)
        grad = np.array([float(v) for v in _flat(gc.evaluate(gc.grad(g), *x))])
    assume(_all_intermediates_finite(gc.grad(g), x))
    assume(np.all(np.isfinite(fd)) and err < 1e-6 * max(1.0, np.max(np.abs(fd))))
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7 + 100 * err)


def check_source_round_trip(g):
    again = gc.parse(to_source(g), inputs=g.input_names)
    assert again.outputs[0] is g.outputs[0]


PROPERTIES = [check_llvm_equals_interpreter, check_forward_equals_reverse,
              check_source_round_trip]


@pytest.mark.parametrize("prop", PROPERTIES, ids=lambda p: p.__name__)
@settings(max_examples=SHORT, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=random_graphs(n_inputs=3, max_ops=8, smooth=False))
def test_fuzz_all_primitives(prop, g):
    note(to_text(g))
    prop(g)


@settings(max_examples=SHORT, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=random_graphs(n_inputs=3, max_ops=8, smooth=True))
def test_fuzz_finite_differences(g):
    note(to_text(g))
    check_finite_differences(g)


@pytest.mark.slow
@pytest.mark.parametrize("prop", PROPERTIES + [check_finite_differences],
                         ids=lambda p: p.__name__)
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=random_graphs(n_inputs=3, max_ops=10, smooth=True))
def test_fuzz_long(prop, g):
    note(to_text(g))
    prop(g)
