"""Fuzzing with hypothesis over every primitive of the registry.

CI runs a short budget. The long run (10^4 cases per property) is
``GRAPHC_FUZZ_EXAMPLES=10000 python -m pytest -m slow tests/hardening/test_fuzz.py``.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import graphc as gc
from graphc.corpus import scale_aware_rel_diff
from graphc.ir import to_source

from helpers import random_graphs, richardson_gradient

SHORT = 40
LONG = int(os.environ.get("GRAPHC_FUZZ_EXAMPLES", "10000"))
POINTS = [np.array([0.7, 1.3, -0.4]), np.array([-1.9, 0.05, 2.5])]


def _flat(tree):
    out, stack = [], [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, tuple):
            stack.extend(reversed(t))
        else:
            out.append(np.asarray(t, dtype=float))
    return out


def check_llvm_equals_interpreter(g):
    rng = np.random.default_rng(1)
    xs = [np.concatenate([rng.uniform(-3, 3, 29), [0.0, -0.0, 1.0]]) for _ in g.inputs]
    vg = gc.value_and_grad(g)
    with np.errstate(all="ignore"):
        want = _flat(gc.evaluate(vg, *xs))
    got = _flat(gc.compile(vg)(*xs))
    for a, b in zip(got, want):
        assert scale_aware_rel_diff(a, b) <= 1e-9, (a, b)


def check_forward_equals_reverse(g):
    for x in POINTS:
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
    prop(g)


@settings(max_examples=SHORT, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=random_graphs(n_inputs=3, max_ops=8, smooth=True))
def test_fuzz_finite_differences(g):
    check_finite_differences(g)


@pytest.mark.slow
@pytest.mark.parametrize("prop", PROPERTIES + [check_finite_differences],
                         ids=lambda p: p.__name__)
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
@given(g=random_graphs(n_inputs=3, max_ops=10, smooth=True))
def test_fuzz_long(prop, g):
    prop(g)
