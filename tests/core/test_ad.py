"""Automatic differentiation: modes agree with each other and with finite differences,
compose to higher orders, and reproduce the lectures' numbers."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import graphc as gc
from graphc.ir import ops
from graphc.corpus import scale_aware_rel_diff
from graphc.passes import ad

from helpers import flat, random_graphs, richardson_gradient

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(n_inputs=3, max_ops=7), )
def test_forward_equals_reverse_equals_finite_differences(g):
    x = np.array([0.7, 1.3, -0.4])
    f = lambda v: float(gc.evaluate(g, *v))  # noqa: E731
    with np.errstate(all="ignore"):
        y = f(x)
        assume(math.isfinite(y) and abs(y) < 1e6)
        fwd = np.array([float(v) for v in flat(gc.evaluate(gc.jacobian(g, mode="fwd"), *x))])
        rev = np.array([float(v) for v in flat(gc.evaluate(gc.jacobian(g, mode="rev"), *x))])
        fd, err = richardson_gradient(f, x, h=1e-4)
    assume(np.all(np.isfinite(fd)) and err < 1e-6 * max(1.0, np.max(np.abs(fd))))
    # A chain through a singular partial can cancel symbolically in one mode and
    # numerically (inf - inf) in the other, e.g. sqrt(x - x): skip such points.
    assume(np.all(np.isfinite(fwd)) and np.all(np.isfinite(rev)))
    np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rev, fd, rtol=1e-6, atol=1e-7 + 100 * err)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(n_inputs=2, max_ops=6, smooth=False))
def test_llvm_equals_interpreter_on_random_graphs(g):
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-2, 2, 33) for _ in g.inputs]
    vg = gc.value_and_grad(g)
    with np.errstate(all="ignore"):
        want = flat(gc.evaluate(vg, *xs))
    got = flat(gc.compile(vg)(*xs))
    # A derivative that is zero by cancellation (d/dx atan2(sign(x), c)) is rounding
    # noise of the size eps * |terms| in both implementations; compare it on the scale
    # of the graph's values, not on its own (a 1e-16 vs 2e-16 'relative error of 0.5').
    floor = 1e-12 * max([1.0] + [float(np.max(np.abs(b[np.isfinite(b)]), initial=0.0))
                                 for b in want])
    for a, b in zip(got, want):
        # a few ulp per libm/libmvec call, amplified where the graph cancels
        diff = scale_aware_rel_diff(a, b)
        with np.errstate(invalid="ignore"):   # inf - inf where b is not finite
            close = np.all(np.isfinite(a) == np.isfinite(b)) and \
                np.all(np.abs(np.where(np.isfinite(b), a - b, 0.0)) <= floor)
        assert diff <= 1e-9 or close, (diff, a, b)


def test_derivatives_compose_to_higher_orders():
    f = gc.parse("sin(x) * exp(x)")
    g = f
    at = 0.3
    # d^k/dx^k (e^x sin x) = 2^(k/2) e^x sin(x + k pi/4)
    for k in range(1, 5):
        g = gc.grad(g, "x")
        want = 2 ** (k / 2) * math.exp(at) * math.sin(at + k * math.pi / 4)
        assert float(gc.evaluate(g, x=at)) == pytest.approx(want, rel=1e-13)


def test_api_shapes_and_wrt_order():
    f = gc.parse(BAYDIN)
    y, (d1, d2) = gc.evaluate(gc.value_and_grad(f), x1=2, x2=5)
    assert (float(y), float(d1), float(d2)) == pytest.approx((11.652071455, 5.5, 1.716337814))
    d2_, d1_ = gc.evaluate(gc.grad(f, wrt=["x2", "x1"]), 2, 5)
    assert (float(d1_), float(d2_)) == (float(d1), float(d2))
    assert float(gc.evaluate(gc.grad(f, wrt="x2"), 2, 5)) == float(d2)
    y, ydot = gc.evaluate(gc.jvp(f, seed={"x1": 1.0}), 2, 5)
    assert float(ydot) == 5.5
    y, ydot = gc.evaluate(gc.jvp(f), 2, 5, 1.0, 0.0)  # tangent inputs x1_dot, x2_dot
    assert float(ydot) == 5.5
    y, (b1, b2) = gc.evaluate(gc.vjp(f), 2, 5, 2.0)  # cotangent input f_bar
    assert (float(b1), float(b2)) == pytest.approx((11.0, 3.432675628))
    H = gc.evaluate(gc.hessian(f), 2, 5)
    np.testing.assert_allclose(np.array(H, float), [[-0.25, 1], [1, math.sin(5)]])
    with pytest.raises(gc.GraphcError, match="cannot differentiate with respect to 'z'"):
        gc.grad(f, wrt=["z"])


def test_jacobian_modes_agree_on_vector_functions():
    g = gc.parse("x*y + sin(z)")
    h = gc.parse("exp(x - z) / y")
    both = gc.Graph(g.inputs, [g.outputs[0], h.outputs[0]], ["g", "h"])
    Jf = np.array(gc.evaluate(gc.jacobian(both, mode="fwd"), 0.5, 2.0, 0.1), float)
    Jr = np.array(gc.evaluate(gc.jacobian(both, mode="rev"), 0.5, 2.0, 0.1), float)
    np.testing.assert_allclose(Jf, Jr, rtol=1e-15)
    assert Jf.shape == (2, 3)


# --- the lectures' numbers (../shared/STYLE.md "Known-good numbers") -----------------

def test_baydin_example():
    """Baydin et al. (2018), Tables 2 and 3: f = ln(x1) + x1 x2 - sin(x2) at (2, 5)."""
    f = gc.parse(BAYDIN)
    vals = gc.backends.evaluate_all(f, {"x1": 2.0, "x2": 5.0})
    by_number = {f.numbers[n]: float(v) for n, v in vals.items() if n in f.numbers}
    want = {1: 0.693147, 2: 10.0, 3: -0.958924, 4: 10.693147, 5: 11.652071}
    for k, v in want.items():
        assert by_number[k] == pytest.approx(v, abs=5e-7)
    _, ydot = gc.evaluate(gc.jvp(f, seed={"x1": 1.0}), 2.0, 5.0)
    assert float(ydot) == pytest.approx(5.5, abs=1e-15)
    y, (b1, b2) = gc.compile(gc.value_and_grad(f))(2.0, 5.0)
    assert (float(b1), float(b2)) == pytest.approx((5.5, 1.716338), abs=5e-7)


def test_deisenroth_example_with_intermediate_adjoints():
    """Deisenroth, Faisal & Ong, Mathematics for Machine Learning (2020), §5.6:
    f = sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2)) at x = 2."""
    src = "a = x^2; b = exp(a); c = a + b; d = sqrt(c); e = cos(c); f = d + e"
    g = gc.parse(src)
    names = {v: n for n, v in g.labels.items()}
    vals = gc.backends.evaluate_all(g, {"x": 2.0})
    for name, want in dict(a=4, b=54.598, c=58.598, d=7.6549, e=-0.46, f=7.194).items():
        assert float(vals[names[name]]) == pytest.approx(want, abs=6e-3)
    adj = ad.adjoints(g, list(g.inputs), [ops.const(1.0)])
    wanted = {"c": -0.822, "a": -45.717}
    out = gc.Graph(g.inputs, [adj[id(names[k])] for k in wanted] + [adj[id(g.inputs[0])]])
    got = [float(v) for v in gc.evaluate(out, x=2.0)]
    assert got == pytest.approx([-0.822, -45.717, -182.87], abs=6e-3)


def test_modular_regression_example_with_relu():
    """F(x) = w2 relu(w1 x + b1) + b2, loss (F - y)^2 at w1=5, w2=-1, b1=0, b2=1, x=3,
    y=-12: F = -14, dl/dF = -4."""
    src = "h = relu(w1*x + b1); F = w2*h + b2; l = (F - y)^2"
    g = gc.parse(src)
    at = dict(w1=5.0, w2=-1.0, b1=0.0, b2=1.0, x=3.0, y=-12.0)
    names = {v: n for n, v in g.labels.items()}
    vals = gc.backends.evaluate_all(g, at)
    assert float(vals[names["F"]]) == -14.0
    adj = ad.adjoints(g, list(g.inputs), [ops.const(1.0)])
    assert float(gc.evaluate(gc.Graph(g.inputs, [adj[id(names["F"])]]), **at)) == -4.0
    grads = gc.compile(gc.grad(g, wrt=["w1", "w2", "b1", "b2"]))(**at)
    # dl/dw2 = -4 * h = -60, dl/db2 = -4, dl/dw1 = -4 * w2 * x = 12, dl/db1 = 4
    assert [float(v) for v in grads] == [12.0, -60.0, 4.0, -4.0]


def test_griewank_walther_example():
    """Griewank & Walther (2008) §2: f = [sin(x1/x2) + x1/x2 - e^x2][x1/x2 - e^x2]."""
    f = gc.parse("(sin(x1/x2) + x1/x2 - exp(x2)) * (x1/x2 - exp(x2))")
    y, (b1, b2) = gc.compile(gc.value_and_grad(f))(1.5, 0.5)
    assert float(y) == pytest.approx(2.016647, abs=5e-7)
    assert (float(b1), float(b2)) == pytest.approx((3.011843, -13.723962), abs=5e-6)
