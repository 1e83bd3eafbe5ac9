"""Custom derivative rules (issue 13, part 6): ``gc.custom_jvp`` and ``gc.custom_vjp``
with JAX's API and meaning, used by both AD modes and at higher order.

Generated over the registry: each smooth elementwise primitive wrapped in a custom
function whose rule is *three times* the true derivative (so the test can tell that the
rule, not the body, was differentiated), in forward and reverse mode, first and second
order, both dtypes, against SymPy's derivatives of the primitive's formula. The
numerically stable examples of JAX's custom_jvp documentation (log1pexp, a safe norm,
x / (1 + sqrt x) at 0) are checked against closed forms evaluated with NumPy.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy

import graphc as gc
from graphc.ir import PRIMITIVES
from graphc.numpy_api import PRIMITIVE_FUNCTIONS

from _registry_truth import BINARY, DTYPES, TOL, UNARY, formula  # noqa: E402
from _registry_truth import close as _close  # noqa: E402
from _registry_truth import point as _point  # noqa: E402

K = (3.0, 5.0)   # the rules scale the true partials by these (per argument)


@functools.lru_cache(maxsize=None)
def _truth(name):
    """SymPy's (first partials, second partials d/dx of each first partial) at the point."""
    expr, syms = formula(name)
    pt = dict(zip(syms, _point(name)))
    first = [sympy.diff(expr, s) for s in syms]
    return ([float(d.subs(pt).evalf(30)) for d in first],
            [float(sympy.diff(d, syms[0]).subs(pt).evalf(30)) for d in first])


def _scaled_custom(name, kind):
    """The primitive as a custom_jvp or custom_vjp function whose rule gives K[i] times
    each true partial (the partials come from gc.grad of the primitive: a transform
    inside a rule)."""
    P = PRIMITIVE_FUNCTIONS[name]
    n = PRIMITIVES[name].arity
    partial = [gc.grad(P, argnums=i) for i in range(n)]
    body = (lambda x: P(x)) if n == 1 else (lambda x, y: P(x, y))
    if kind == "jvp":
        f = gc.custom_jvp(body)

        @f.defjvp
        def rule(primals, tangents):
            return f(*primals), sum(K[i] * partial[i](*primals) * tangents[i]
                                    for i in range(n))
        return f
    f = gc.custom_vjp(body)
    f.defvjp(lambda *a: (f(*a), a),
             lambda res, g: tuple(K[i] * partial[i](*res) * g for i in range(n)))
    return f


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["jvp", "vjp"])
@pytest.mark.parametrize("name", UNARY)
def test_rule_is_used_in_both_modes_and_at_second_order(name, kind, dtype):
    f = _scaled_custom(name, kind)
    fn = gc.function(lambda x: f(x), dtype=dtype)
    (x0,) = _point(name)
    x = np.asarray(x0, dtype)
    (d1,), (d2,) = _truth(name)
    _close(fn(x), float(PRIMITIVES[name].impl(np.float64(x0))), dtype)   # the body
    for D in (gc.grad, gc.jacfwd):
        got = D(fn, target="numpy")(x)
        assert np.asarray(got).dtype == np.dtype(dtype)
        _close(got, K[0] * d1, dtype)
    for D1, D2 in ((gc.grad, gc.grad), (gc.jacfwd, gc.grad), (gc.grad, gc.jacfwd)):
        _close(D1(D2(fn), target="numpy")(x), K[0] * d2, dtype)


@pytest.mark.parametrize("kind", ["jvp", "vjp"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_rule_in_both_modes(name, kind):
    f = _scaled_custom(name, kind)
    point = _point(name)
    (d1, d2), _ = _truth(name)
    for D in (gc.grad, gc.jacfwd):
        g = D(f, argnums=(0, 1), target="numpy")(*point)
        _close(g[0], K[0] * d1)
        _close(g[1], K[1] * d2)


# ---------------------------------------------------------------------------------
# JAX's examples

@gc.custom_jvp
def log1pexp(x):
    return gc.log(1.0 + gc.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * (1.0 - 1.0 / (1.0 + gc.exp(x)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", ["numpy", "llvm"])
def test_log1pexp_is_finite_where_plain_ad_is_nan(target, dtype):
    xs = np.array([-30.0, 0.0, 3.0, 80.0, 800.0], dtype=dtype)
    with np.errstate(over="ignore"):
        want = 1.0 / (1.0 + np.exp(-xs.astype(np.float64)))     # the logistic sigmoid
    fn = gc.function(lambda x: log1pexp(x), dtype=dtype)
    plain = gc.function(lambda x: gc.log(1.0 + gc.exp(x)), dtype=dtype)
    for D in (gc.grad, gc.jacfwd):
        got = D(fn, target=target)(xs)
        assert np.allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])
        assert np.isnan(D(plain, target=target)(xs)[-1])        # inf / inf
    assert np.allclose(fn.compile(target)(xs[:3]), np.logaddexp(0, xs[:3].astype(float)),
                       rtol=TOL[dtype])


@gc.custom_jvp
def safe_norm(x):
    return gc.sqrt(gc.sum(x * x))


@safe_norm.defjvp
def _safe_norm_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    n = safe_norm(x)
    zero = gc.equal(n, 0.0)
    return n, gc.where(zero, 0.0, gc.sum(x * t) / gc.where(zero, 1.0, n))


@pytest.mark.parametrize("target", ["numpy", "llvm"])
def test_safe_norm_on_arrays(target):
    """A custom rule on an array argument: the gradient x/|x| away from 0 and 0 at 0
    (plain AD divides 0 by 0 there), in both modes."""
    fn = gc.function(lambda x: safe_norm(x), shapes={"x": (3,)})
    for x0 in (np.array([3.0, 0.0, 4.0]), np.zeros(3)):
        n = np.linalg.norm(x0)
        want = x0 / n if n else np.zeros(3)
        assert np.allclose(gc.grad(fn, target=target)(x0), want)
        for i in range(3):
            e = np.eye(3)[i]
            y, t = gc.jvp(fn, (x0,), (e,), target=target)
            assert np.isclose(y, n) and np.isclose(t, want[i])


@gc.custom_jvp
def f_sqrt(x):
    return x / (1.0 + gc.sqrt(x))


@f_sqrt.defjvp
def _f_sqrt_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    ans = f_sqrt(x)
    return ans, t * (gc.sqrt(x) + 2.0) / (2.0 * (gc.sqrt(x) + 1.0) ** 2)


def test_differentiation_convention_at_zero():
    """JAX's x / (1 + sqrt x): the rule's form is finite at 0 (value 1)."""
    xs = np.array([0.0, 0.25, 4.0])
    want = (np.sqrt(xs) + 2) / (2 * (np.sqrt(xs) + 1) ** 2)
    for D in (gc.grad, gc.jacfwd):
        assert np.allclose(D(f_sqrt)(xs), want, rtol=1e-14)


def test_gradient_clipping_custom_vjp():
    """JAX's clip_gradient: the identity whose cotangent is clipped. Forward mode would
    have to transpose bwd, which is not linear: a NotDifferentiableError."""
    @gc.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None),
                         lambda _, g: (gc.clip(g, -0.5, 0.5),))
    f = lambda x: clip_gradient(5.0 * gc.sin(x))              # noqa: E731
    xs = np.array([0.0, 1.2, 3.0])
    assert np.allclose(gc.grad(f)(xs), 0.5 * 5.0 * np.cos(xs))   # cotangent 1 -> 0.5
    assert np.allclose(gc.function(f)(xs), 5.0 * np.sin(xs))
    with pytest.raises(gc.NotDifferentiableError, match="not linear"):
        gc.jacfwd(f)(0.3)


def test_custom_vjp_gets_forward_mode_by_transposition():
    """JAX's custom_vjp example f(x, y) = sin(x)·y; its jvp comes from bwd transposed."""
    @gc.custom_vjp
    def f(x, y):
        return gc.sin(x) * y

    def f_fwd(x, y):
        return f(x, y), (gc.cos(x), gc.sin(x), y)

    def f_bwd(res, g):
        cos_x, sin_x, y = res
        return (cos_x * g * y, sin_x * g)

    f.defvjp(f_fwd, f_bwd)
    y, t = gc.jvp(f, (0.5, 2.0), (1.0, 3.0))
    assert np.isclose(y, np.sin(0.5) * 2.0)
    assert np.isclose(t, np.cos(0.5) * 2.0 + 3.0 * np.sin(0.5))
    H = gc.hessian(f, argnums=(0, 1))(0.5, 2.0)
    assert np.allclose(np.array(H, dtype=float),
                       [[-np.sin(0.5) * 2.0, np.cos(0.5)], [np.cos(0.5), 0.0]])


def test_custom_function_inside_nested_transforms():
    """A custom function differentiated inside a traced program (derivatives inside
    programs), to third order."""
    def h(x):
        return x * gc.grad(gc.grad(log1pexp))(x)      # x · σ'(x)
    s = 1.0 / (1.0 + np.exp(-0.7))
    d1 = s * (1 - s)
    d2 = d1 * (1 - 2 * s)
    assert np.isclose(gc.grad(h)(0.7), d1 + 0.7 * d2, rtol=1e-13)


def test_errors():
    @gc.custom_jvp
    def no_rule(x):
        return x * 2.0
    with pytest.raises(gc.GraphcError, match="defjvp"):
        gc.grad(no_rule)(1.0)

    def closes(w):
        @gc.custom_jvp
        def g(x):
            return x * w
        g.defjvp(lambda p, t: (g(*p), t[0] * w))
        return g(w)
    with pytest.raises(gc.GraphcError, match="arguments"):
        gc.grad(closes)(1.0)

    @gc.custom_jvp
    def bad(x):
        return x * 2.0
    bad.defjvp(lambda p, t: t[0])
    with pytest.raises(gc.GraphcError, match="primal_out, tangent_out"):
        gc.jacfwd(bad)(1.0)

    @gc.custom_vjp
    def badv(x, y):
        return x * y
    badv.defvjp(lambda x, y: (badv(x, y), (x, y)), lambda r, g: (g,))
    with pytest.raises(gc.GraphcError, match="2 cotangent"):
        gc.grad(badv)(1.0, 2.0)
    assert badv(2.0, 3.0) == 6.0                            # numbers: the body
