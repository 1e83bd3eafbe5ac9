"""Numerics at the edges: IEEE NaN/inf propagation identical to NumPy, the documented
derivative conventions at kinks and singularities, stable forms far in the tails."""

import math

import numpy as np
import pytest

import graphc as gc
from graphc.ir import PRIMITIVES, Graph, apply, ops

SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e308, -1e308,
                     5e-324, 0.5, 2.0])


@pytest.mark.parametrize("prim", [p for p in PRIMITIVES.values() if p.arity and p.elementwise],
                         ids=lambda p: p.name)  # array ops: tests/tensors
@pytest.mark.parametrize("target", ["llvm", "numpy"])
def test_special_values_follow_numpy(prim, target):
    xs = [ops.variable(f"a{i}") for i in range(prim.arity)]
    g = Graph(xs, [apply(prim, *xs)])
    grids = np.meshgrid(*([SPECIALS] * prim.arity), indexing="ij")
    args = [a.ravel() for a in grids]
    with np.errstate(all="ignore"):
        want = prim.impl(*args, **dict(prim.param_defaults))
    got = gc.compile(g, target=target)(*args)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    if prim.name in ("exp", "sin", "cos", "tan", "log", "pow", "tanh", "sinh", "cosh",
                     "asin", "acos", "atan", "log1p", "expm1", "sigmoid", "logistic_pdf", "softplus", "elu",
                     "exp2", "log2", "log10", "asinh", "acosh", "atanh", "atan2", "hypot",
                     "erf", "erfc", "cbrt", "logaddexp"):  # libm/libmvec: within an ulp
        close = np.isclose(got, want, rtol=1e-15, atol=0)
        same |= close
    bad = ~same
    assert not bad.any(), {tuple(a[bad][:3] for a in args): (got[bad][:3], want[bad][:3])}


CONVENTIONS = [  # (expression, point, derivative wrt x) as documented in docs/limits.md
    ("relu(x)", 0.0, 0.0),
    ("abs(x)", 0.0, 0.0),
    ("heaviside(x)", 0.0, 0.0),
    ("sign(x)", 0.0, 0.0),
    ("max(x, 1)", 1.0, 0.5),
    ("min(x, 1)", 1.0, 0.5),
    ("leaky_relu(x, 0.1)", 0.0, 0.1),
    ("elu(x)", 0.0, 1.0),
    ("sqrt(x)", 0.0, math.inf),
    ("log(x)", 0.0, math.inf),
    ("x ^ 2", 0.0, 0.0),
    ("x ^ 0.5", 0.0, math.inf),
    ("x ^ 3", -2.0, 12.0),          # integer exponent, negative base
    ("x ^ 0.5", -1.0, math.nan),    # non-integer exponent, negative base: NaN as NumPy
    ("2 ^ x", 3.0, 8 * math.log(2)),
    ("asin(x)", 1.0, math.inf),
    ("asin(x)", -1.0, math.inf),
    ("acos(x)", 1.0, -math.inf),
    ("where(x > 0, sqrt(x), 0)", 0.0, 0.0),
    ("where(x > 0, log(x), x)", 0.0, 1.0),
    ("sqrt(max(x, 0))", -1.0, 0.0),
    ("sqrt(relu(x))", -1.0, 0.0),
]


@pytest.mark.parametrize("src, at, want", CONVENTIONS, ids=[c[0] + f"@{c[1]}" for c in CONVENTIONS])
@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_derivative_conventions(src, at, want, mode):
    g = gc.parse(src, inputs=["x"])
    J = gc.jacobian(g, "x", mode=mode)
    for k in (gc.compile(J, target="numpy"), gc.compile(J)):
        got = float(k(x=at))
        if math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == want


@pytest.mark.parametrize("src", ["sigmoid(x)", "softplus(x)", "tanh(x)", "elu(x)",
                                 "leaky_relu(x)"])
def test_stable_forms_in_the_tails(src):
    g = gc.parse(src)
    x = np.array([-1000.0, -745.0, -40.0, 40.0, 745.0, 1000.0])
    for k in (gc.compile(gc.value_and_grad(g)), gc.compile(gc.value_and_grad(g), target="numpy")):
        y, (d,) = k(x=x)
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(d)), (src, y, d)
        assert np.all(d >= 0)


def test_sigmoid_and_softplus_values_far_out():
    k = gc.compile(gc.parse("sigmoid(x) + 0*softplus(x)"))
    assert k(x=-1000.0) == 0.0 and k(x=1000.0) == 1.0
    sp = gc.compile(gc.value_and_grad(gc.parse("softplus(x)")))
    y, (d,) = sp(x=np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(y, [0.0, 1000.0])
    np.testing.assert_array_equal(d, [0.0, 1.0])
    # sigmoid'(x) = s(x)s(-x) keeps relative accuracy in the tails (1 - s would be 0)
    d40 = float(gc.compile(gc.grad(gc.parse("sigmoid(x)"), "x"))(x=40.0))
    assert d40 == pytest.approx(math.exp(-40), rel=1e-12)
    t20 = float(gc.compile(gc.grad(gc.parse("tanh(x)"), "x"))(x=20.0))
    assert t20 == pytest.approx(4 * math.exp(-40), rel=1e-12)


def test_nan_and_inf_inputs_propagate_like_numpy():
    g = gc.parse("x*y + sin(x) - y/x")
    x = np.array([np.nan, np.inf, 0.0, 1.0])
    y = np.array([1.0, 1.0, np.inf, np.nan])
    with np.errstate(all="ignore"):
        want = x * y + np.sin(x) - y / x
    got = gc.compile(g)(x=x, y=y)
    np.testing.assert_array_equal(got, want)
