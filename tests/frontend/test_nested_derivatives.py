"""Derivatives inside programs (issue 13, part 4) and nesting without perturbation
confusion (issue 15, part 2).

Transformed functions (grad, value_and_grad, jvp, vjp, jacfwd, jacrev, hessian) called
on graph values inside a traced function, closing over outer traced values. Ground
truth from outside graphc: SymPy's derivatives of each registry primitive's formula
(``gc.to_sympy`` of the undifferentiated primitive gives the formula, ``sympy.diff`` the
derivatives), closed forms written with NumPy, and central finite differences of NumPy
reimplementations. Generated tests walk the primitive registry in all four mode pairs
(outer/inner forward or reverse) and both dtypes.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import sympy

import graphc as gc
from graphc.numpy_api import PRIMITIVE_FUNCTIONS

from _registry_truth import BINARY, DTYPES, UNARY  # noqa: E402
from _registry_truth import formula as _formula  # noqa: E402
from _registry_truth import close as _close  # noqa: E402
from _registry_truth import point as _point  # noqa: E402

MODE = {"f": gc.jacfwd, "r": gc.grad}   # forward / reverse derivative of one input
PAIRS = ["ff", "fr", "rf", "rr"]        # (outer, inner)


def _num(expr, subs):
    return float(expr.subs(subs).evalf(30))


# ---------------------------------------------------------------------------------
# generated over the registry: d/dx [p(x) · D(y ↦ x·p(y))(x)], four mode pairs

@functools.lru_cache(maxsize=None)
def _unary_truth(name):
    (expr, (s,)) = _formula(name)
    x = sympy.Symbol("X", real=True)
    p = expr.subs(s, x)
    F = p * x * sympy.diff(p, x)          # p(x) · [d/dy (x·p(y))]_{y=x}
    (x0,) = _point(name)
    return _num(sympy.diff(F, x), {x: x0})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("name", UNARY)
def test_nested_unary_primitive(name, pair, dtype):
    """The inner derivative closes over the outer variable x and is taken at y = x, so
    mixing the two perturbations (perturbation confusion) would change the value."""
    P = PRIMITIVE_FUNCTIONS[name]
    outer, inner = MODE[pair[0]], MODE[pair[1]]

    def F(x):
        xo = x   # the inner parameter is named x too: it must be another input
        return P(x) * inner(lambda x: xo * P(x))(xo)

    d = outer(gc.function(F, dtype=dtype), target="numpy")
    (x0,) = _point(name)
    got = d(np.asarray(x0, dtype))
    assert np.asarray(got).dtype == np.dtype(dtype)
    _close(got, _unary_truth(name), dtype)


@functools.lru_cache(maxsize=None)
def _binary_truth(name):
    expr, (s, t) = _formula(name)
    x = sympy.Symbol("X", real=True)
    a0, b0 = _point(name)
    F = expr.subs({s: x, t: b0}) * sympy.diff(expr, t).subs({s: x, t: b0})
    return _num(sympy.diff(F, x), {x: a0})


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("name", BINARY)
def test_nested_binary_primitive(name, pair):
    """d/dx [p(x, b) · ∂p/∂y(x, b)] with the inner derivative a transform of a function
    of y closing over x."""
    P = PRIMITIVE_FUNCTIONS[name]
    outer, inner = MODE[pair[0]], MODE[pair[1]]
    a0, b0 = _point(name)

    def F(x):
        xo = x
        return P(x, b0) * inner(lambda x: P(xo, x))(b0)

    _close(outer(F, target="numpy")(a0), _binary_truth(name))


# ---------------------------------------------------------------------------------
# perturbation confusion (Siskind & Pearlmutter 2005), every mode combination

CONFUSION = [
    # (name, f built from D (a derivative operator), x0, the right value)
    ("d/dx x*(d/dy (x+y) at y=1) at x=1",
     lambda D: (lambda x: x * D(lambda y: x + y)(1.0)), 1.0, 1.0),
    ("d/dx x*(d/dy x*y at y=2) at x=1",   # = d/dx x^2 = 2x; confused: 2x + 2
     lambda D: (lambda x: x * D(lambda y: x * y)(2.0)), 1.0, 2.0),
    ("d/dx (d/dy x*y^2 at y=x) at x=3",    # d/dx 2x^2 = 4x
     lambda D: (lambda x: D(lambda y: x * y * y)(x)), 3.0, 12.0),
    # the same three with the inner parameter named like the outer one
    ("same names: d/dx x*(d/dx' (x+x') at x'=1) at x=1",
     lambda D: (lambda x: (lambda xo: xo * D(lambda x: xo + x)(1.0))(x)), 1.0, 1.0),
    ("same names: d/dx x*(d/dx' x*x' at x'=2) at x=1",
     lambda D: (lambda x: (lambda xo: xo * D(lambda x: xo * x)(2.0))(x)), 1.0, 2.0),
    ("same names: d/dx (d/dx' x*x'^2 at x'=x) at x=3",
     lambda D: (lambda x: (lambda xo: D(lambda x: xo * x * x)(xo))(x)), 3.0, 12.0),
]


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("case", CONFUSION, ids=[c[0] for c in CONFUSION])
def test_perturbation_confusion(case, pair):
    _, build, x0, want = case
    outer, inner = MODE[pair[0]], MODE[pair[1]]
    _close(outer(build(inner), target="numpy")(x0), want)


@pytest.mark.parametrize("modes", ["".join(m) for m in itertools.product("fr", repeat=3)])
def test_three_levels(modes):
    """d/dx (x · d/dy (x·y · d/dz (x + y + z) at z=1) at y=1) at x=1: the innermost is
    1, the middle x, so the outer is d/dx x² = 2."""
    D1, D2, D3 = (MODE[m] for m in modes)

    def f(x):
        return x * D2(lambda y: x * y * D3(lambda z: x + y + z)(1.0))(1.0)

    _close(D1(f, target="numpy")(1.0), 2.0)


def test_captured_node_with_the_same_parameter_name():
    """The inner function's parameter is named like the outer one and closes over a
    value computed from the outer x: its x is a different input."""
    def outer(x):
        u = x * 2.0
        return gc.grad(lambda x: u * x)(x)          # = u = 2x

    for D in (gc.grad, gc.jacfwd):
        _close(D(outer, target="numpy")(1.5), 2.0)


# ---------------------------------------------------------------------------------
# the other transforms inside programs

def test_jvp_vjp_value_and_grad_inside_against_sympy():
    x, y = sympy.symbols("x y", real=True)
    expr = x * sympy.sin(y) + sympy.exp(x * y)

    def f(a, b):
        return a * gc.sin(b) + gc.exp(a * b)

    def h(a, b):
        out, tan = gc.jvp(f, (a, b), (1.0, 2.0))              # f_x + 2 f_y
        val, vjp_fn = gc.vjp(f, a, b)
        bars = vjp_fn(3.0)                                     # 3 f_x, 3 f_y
        v2, g = gc.value_and_grad(f, argnums=(0, 1))(a, b)
        return out * tan + bars.a * bars.b + v2 * g.b + val

    F = (expr * (sympy.diff(expr, x) + 2 * sympy.diff(expr, y))
         + 9 * sympy.diff(expr, x) * sympy.diff(expr, y) + expr * sympy.diff(expr, y) + expr)
    pt = {x: 0.3, y: 0.7}
    v, g = gc.value_and_grad(h, argnums=(0, 1), target="numpy")(0.3, 0.7)
    _close(v, _num(F, pt))
    _close(g.a, _num(sympy.diff(F, x), pt))
    _close(g.b, _num(sympy.diff(F, y), pt))
    # jacfwd/jacrev/hessian inside, with keywords and names
    def k(a, b):
        H = gc.hessian(f, argnums=(0, 1))(a=a, b=b)
        J = gc.jacrev(f, wrt=["b"])(a, b)
        return H.a.b * J.b + gc.jacfwd(f, argnums=1)(a, b)
    Fk = (sympy.diff(expr, x, y) * sympy.diff(expr, y) + sympy.diff(expr, y))
    _close(gc.function(k)(0.3, 0.7), _num(Fk, pt))
    _close(gc.grad(k, target="numpy")(0.3, 0.7), _num(sympy.diff(Fk, x), pt))


@pytest.mark.parametrize("pair", PAIRS)
def test_autograd_style_grad_of_grad_with_a_repeated_argument(pair):
    """As autograd's nested tests: d/dx [∂fun/∂a (x, x)] for fun(a, b) = sin(a)·b, i.e.
    d/dx [cos(x)·x] = cos x − x sin x."""
    outer, inner = MODE[pair[0]], MODE[pair[1]]

    def fun(a, b):
        return gc.sin(a) * b

    d = outer(lambda x: inner(fun)(x, x), target="numpy")
    xs = np.array([-1.0, 0.3, 2.0])
    assert np.allclose(d(xs), np.cos(xs) - xs * np.sin(xs), rtol=1e-14)


def test_has_aux_inside():
    def h(a):
        g, aux = gc.grad(lambda t: (t * t * a, t + a), has_aux=True)(a)
        return g * aux                                   # 2a² · 2a = 4a³
    _close(gc.grad(h, target="numpy")(1.5), 12 * 1.5 ** 2)


def test_hessian_vector_product_of_logsumexp():
    """jvp of grad (forward over reverse) inside a traced function, on arrays; the
    Hessian of logsumexp is diag(s) - s sᵀ with s = softmax(x)."""
    n = 4
    f = gc.function(lambda x: gc.log(gc.sum(gc.exp(x))), shapes={"x": (n,)})

    def hvp(x, v):
        return gc.jvp(gc.grad(f), (x,), (v,))[1]

    rng = np.random.default_rng(3)
    x0, v0 = rng.normal(size=n), rng.normal(size=n)
    s = np.exp(x0) / np.exp(x0).sum()
    want = (np.diag(s) - np.outer(s, s)) @ v0
    for target in ("numpy", "llvm"):
        got = gc.function(hvp, shapes={"x": (n,), "v": (n,)}).compile(target)(x0, v0)
        assert np.allclose(got, want, rtol=1e-12, atol=1e-14)
    # the same product at top level, on numbers
    assert np.allclose(gc.jvp(gc.grad(f), (x0,), (v0,))[1], want, rtol=1e-12, atol=1e-14)


def test_sum_of_an_elementwise_gradient():
    """``sum(grad(f)(x))`` with x an array: the scalar function's derivative maps over
    x elementwise (as kernels map it), then sums; and its gradient."""
    fn = gc.function(lambda x: gc.sum(gc.grad(lambda y: gc.sin(y) * y)(x)),
                     shapes={"x": (5,)})
    x0 = np.linspace(-1.0, 2.0, 5)
    assert np.isclose(fn(x0), np.sum(np.sin(x0) + x0 * np.cos(x0)), rtol=1e-14)
    assert np.allclose(gc.grad(fn)(x0), 2 * np.cos(x0) - x0 * np.sin(x0), rtol=1e-13)


def test_array_argument_reaching_an_array_op_is_an_error():
    """A function declared with scalar inputs (gc.function without shapes) maps an
    array argument elementwise only; reaching an array operation is an error."""
    W = np.array([1.0, 2.0, 3.0])
    g = gc.function(lambda y: gc.sum(gc.exp(y * W)))
    fn = gc.function(lambda x: gc.grad(g)(x), shapes={"x": (3,)})
    with pytest.raises(gc.GraphcError, match="elementwise"):
        fn.graph


def test_plain_callable_reaching_an_array_op_is_traced_at_the_argument_shape():
    """A plain Python callable whose scalar graph is not elementwise in an array
    argument is traced again at the argument's shape (as JAX traces)."""
    W = np.array([1.0, 2.0, 3.0])
    fn = gc.function(lambda x: gc.grad(lambda y: gc.sum(gc.exp(y * W)))(x),
                     shapes={"x": (3,)})
    x0 = np.array([0.1, -0.2, 0.3])
    assert np.allclose(fn(x0), W * np.exp(x0 * W), rtol=1e-13)


def test_unique_output_names_at_every_depth():
    """Every sequence of up to three of jvp, vjp and value_and_grad (the transforms
    that keep outputs and add derivative outputs) gives unique output names; a jvp of a
    jvp used to repeat ``u_dot``."""
    base = gc.parse("u = sin(x) * y")
    steps = {"jvp": passes_jvp, "vjp": passes_vjp}
    for depth in (1, 2, 3):
        for seq in itertools.product(steps, repeat=depth):
            g = base
            for s in seq:
                g = steps[s](g)
            assert len(set(g.output_names)) == len(g.output_names), (seq, g.output_names)
            assert len(set(g.input_names)) == len(g.input_names), (seq, g.input_names)
    names = gc.jvp(gc.jvp(lambda u: gc.sin(u))).graph.output_names
    assert names == ("y", "y_dot", "y_dot_", "y_dot_dot")


def passes_jvp(g):
    return gc.jvp(g)


def passes_vjp(g):
    return gc.vjp(g)


# ---------------------------------------------------------------------------------
# the PINN pattern (one traced function, one LLVM kernel)

H, N, NU = 4, 3, 0.1


def _pinn_loss(W1, b1, W2, b2, X, T):
    def u(x, t):                                    # closes over the weights
        h = gc.tanh(W1[:, 0] * x + W1[:, 1] * t + b1)
        return gc.sum(W2 * h) + b2
    u_x = gc.grad(u, argnums=0)
    u_t = gc.grad(u, argnums=1)
    u_xx = gc.grad(u_x, argnums=0)
    total = 0.0
    for i in range(N):
        x, t = X[i], T[i]
        r = u_t(x, t) + u(x, t) * u_x(x, t) - NU * u_xx(x, t)   # Burgers' residual
        total = total + r * r
    return total / N


def _pinn_numpy(W1, b1, W2, b2, X, T):
    """The same loss with the network's derivatives written out by hand."""
    z = np.outer(X, W1[:, 0]) + np.outer(T, W1[:, 1]) + b1
    th = np.tanh(z)
    s2 = 1 - th ** 2
    u = th @ W2 + b2
    u_x = (s2 * W1[:, 0]) @ W2
    u_t = (s2 * W1[:, 1]) @ W2
    u_xx = (-2 * th * s2 * W1[:, 0] ** 2) @ W2
    r = u_t + u * u_x - NU * u_xx
    return np.mean(r ** 2)


def test_pinn_residual_gradient_against_finite_differences():
    fn = gc.function(_pinn_loss, shapes={"W1": (H, 2), "b1": (H,), "W2": (H,),
                                         "X": (N,), "T": (N,)})
    vg = gc.value_and_grad(fn, argnums=(0, 1, 2, 3))          # LLVM, one kernel
    rng = np.random.default_rng(0)
    P = [rng.normal(size=(H, 2)), rng.normal(size=H), rng.normal(size=H), 0.3]
    X, T = rng.uniform(-1, 1, N), rng.uniform(0, 1, N)
    v, g = vg(*P, X, T)
    assert np.isclose(v, _pinn_numpy(*P, X, T), rtol=1e-13)
    eps = 1e-6
    for k in range(4):
        base = np.asarray(P[k], dtype=float)
        fd = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            e = np.zeros_like(base)
            e[idx] = eps
            hi = [*P[:k], base + e, *P[k + 1:]]
            lo = [*P[:k], base - e, *P[k + 1:]]
            fd[idx] = (_pinn_numpy(*hi, X, T) - _pinn_numpy(*lo, X, T)) / (2 * eps)
        assert np.allclose(g[k], fd, rtol=1e-6, atol=1e-7), k


# ---------------------------------------------------------------------------------
# GradBench's saddle pattern, small: unrolled gradient steps, three levels of nesting

C, ETA, STEPS = 0.5, 0.1, 2


def _saddle_f(x1, y1, x2, y2):
    # GradBench's saddle function, plus a coupling term so the inner optimum moves
    return x1 * x1 + y1 * y1 - x2 * x2 - y2 * y2 + C * x1 * x2


def _inner_max(x1, y1, grad2):
    x2, y2 = 1.0, 1.0
    for _ in range(STEPS):
        g = grad2(x1, y1, x2, y2)
        x2, y2 = x2 + ETA * g[0], y2 + ETA * g[1]
    return _saddle_f(x1, y1, x2, y2)


def _saddle_graphc(x1, y1):
    def value(a, b):
        return _inner_max(a, b, lambda a_, b_, p, q: gc.grad(
            lambda u, v: _saddle_f(a_, b_, u, v), argnums=(0, 1))(p, q))
    for _ in range(STEPS):
        g = gc.grad(value, argnums=(0, 1))(x1, y1)
        x1, y1 = x1 - ETA * g[0], y1 - ETA * g[1]
    return x1, y1


def _saddle_numpy(x1, y1):
    def grad2(a, b, p, q):
        return (-2 * p + C * a, -2 * q)

    def value(a, b):
        return _inner_max(a, b, grad2)

    eps = 1e-6
    for _ in range(STEPS):
        g = ((value(x1 + eps, y1) - value(x1 - eps, y1)) / (2 * eps),
             (value(x1, y1 + eps) - value(x1, y1 - eps)) / (2 * eps))
        x1, y1 = x1 - ETA * g[0], y1 - ETA * g[1]
    return x1, y1


def test_gradbench_saddle_small():
    got = gc.function(_saddle_graphc)(1.0, 1.0)
    want = _saddle_numpy(1.0, 1.0)
    assert np.allclose(np.asarray(got, dtype=float), want, rtol=1e-8, atol=1e-9)
