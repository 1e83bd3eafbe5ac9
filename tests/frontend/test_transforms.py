"""Transforms on Python functions (issue 13, part 1): ``gc.grad``, ``value_and_grad``,
``jvp``, ``vjp``, ``jacfwd``, ``jacrev``, ``jacobian`` and ``hessian`` take a Python
callable, an ``@gc.function``, a Graph or an expression string.

Generated over the registry: every smooth differentiable elementwise primitive, both
dtypes, each transform and nesting depths 1-3, against SymPy's derivatives of the
primitive's formula (``sympy.diff``; the primal formula comes from ``gc.to_sympy`` of
the undifferentiated graph, the derivatives from SymPy alone). Kernels use the NumPy
target (cheap) except in one LLVM check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

import graphc as gc
from graphc import passes
from graphc.ir import PRIMITIVES, to_text
from graphc.numpy_api import PRIMITIVE_FUNCTIONS

SMOOTH = sorted(p.name for p in PRIMITIVES.values()
                if p.elementwise and p.arity in (1, 2) and p.smooth and p.differentiable
                and not p.param_names)
UNARY = [n for n in SMOOTH if PRIMITIVES[n].arity == 1]
BINARY = [n for n in SMOOTH if PRIMITIVES[n].arity == 2]
DTYPES = ["float64", "float32"]
TOL = {"float64": 1e-9, "float32": 2e-3}


def _fn(name):
    """A plain Python function of the primitive (params x or x, y)."""
    F = PRIMITIVE_FUNCTIONS[name]
    if PRIMITIVES[name].arity == 1:
        return lambda x: F(x)
    return lambda x, y: F(x, y)


def _point(name):
    """A point inside the primitive's test domain (not its middle, so odd functions
    do not give zeros)."""
    return tuple(lo + 0.37 * (hi - lo) for lo, hi in PRIMITIVES[name].domain)


def _sym(name):
    """(SymPy expression of the primitive, its symbols in argument order)."""
    g = gc.function(_fn(name)).graph
    expr = gc.to_sympy(g)
    syms = {s.name: s for s in expr.free_symbols}
    return expr, [syms.get(nm, sympy.Symbol(nm, real=True)) for nm in g.input_names]


def _val(expr, syms, point):
    return float(expr.subs(dict(zip(syms, point))).evalf(30))


def _close(got, want, dtype):
    got = float(np.asarray(got))
    assert math.isclose(got, want, rel_tol=TOL[dtype], abs_tol=TOL[dtype]), (got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_nested_grad_matches_sympy(name, depth, dtype):
    """gc.grad applied ``depth`` times to f(x) = prim(x) gives SymPy's d^k f/dx^k."""
    expr, (x,) = _sym(name)
    t = gc.function(_fn(name), dtype=dtype)
    for _ in range(depth):
        t = gc.grad(t, target="numpy")
    (p,) = _point(name)
    got = t(np.asarray(p, dtype=dtype))
    assert np.asarray(got).dtype == np.dtype(dtype)
    _close(got, _val(sympy.diff(expr, x, depth), [x], (p,)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SMOOTH)
def test_each_transform_matches_sympy(name, dtype):
    """grad, value_and_grad, jvp (both forms), vjp (both forms), jacfwd, jacrev and
    hessian of one primitive over all its arguments, against SymPy."""
    expr, syms = _sym(name)
    point = _point(name)
    args = [np.asarray(v, dtype=dtype) for v in point]
    f = gc.function(_fn(name), dtype=dtype)
    names = f.graph.input_names
    n = len(names)
    argnums = tuple(range(n))
    grads = [_val(sympy.diff(expr, s), syms, point) for s in syms]
    value = _val(expr, syms, point)

    g = gc.grad(f, argnums=argnums, target="numpy")(*args)
    assert type(g).__name__ == "Gradient" and g._fields == names
    for gi, want in zip(g, grads):
        _close(gi, want, dtype)
    v, g2 = gc.value_and_grad(f, wrt=list(names), target="numpy")(*args)
    _close(v, value, dtype)
    for gi, want in zip(g2, grads):
        _close(gi, want, dtype)
    single = gc.grad(f, argnums=0, target="numpy")(*args)
    _close(single, grads[0], dtype)

    tangent = [0.5 + k for k in range(n)]
    want_dot = sum(t * d for t, d in zip(tangent, grads))
    y, ydot = gc.jvp(f, tuple(args), tuple(np.asarray(t, dtype) for t in tangent),
                     target="numpy")
    _close(y, value, dtype)
    _close(ydot, want_dot, dtype)
    y, ydot = gc.jvp(f, target="numpy")(*args, *tangent)
    _close(ydot, want_dot, dtype)

    y, vjp_fn = gc.vjp(f, *args, target="numpy")
    _close(y, value, dtype)
    bars = vjp_fn(np.asarray(2.0, dtype))
    assert bars._fields == names
    for b, want in zip(bars, grads):
        _close(b, 2.0 * want, dtype)
    y, bars = gc.vjp(f, target="numpy")(*args, 2.0)
    for b, want in zip(bars, grads):
        _close(b, 2.0 * want, dtype)

    for jac in (gc.jacfwd, gc.jacrev):
        J = jac(f, argnums=argnums, target="numpy")(*args)
        for gi, want in zip(J, grads):
            _close(gi, want, dtype)

    H = gc.hessian(f, argnums=argnums, target="numpy")(*args)
    for i, si in enumerate(syms):
        assert H[i]._fields == names
        for j, sj in enumerate(syms):
            _close(H[i][j], _val(sympy.diff(expr, si, sj), syms, point), dtype)


@pytest.mark.parametrize("name", SMOOTH)
def test_graph_and_string_in_give_the_passes_graph(name):
    """Graph in -> Graph out exactly as the passes; a string is parsed first."""
    g = gc.function(_fn(name)).graph
    for ours, theirs in [(gc.grad, passes.grad), (gc.value_and_grad, passes.value_and_grad),
                         (gc.jvp, passes.jvp), (gc.vjp, passes.vjp),
                         (gc.hessian, passes.hessian), (gc.jacobian, passes.jacobian)]:
        out = ours(g)
        assert isinstance(out, gc.Graph)
        assert to_text(out) == to_text(theirs(g))
    assert to_text(gc.jacfwd(g)) == to_text(passes.jacobian(g, mode="fwd"))
    assert to_text(gc.jacrev(g)) == to_text(passes.jacobian(g, mode="rev"))
    s = "sin(x1) * x2 + x10"
    assert to_text(gc.grad(s)) == to_text(passes.grad(gc.parse(s)))


def test_issue_example_function_in_function_out():
    """The issue's report: gc.grad on an @gc.function raised AttributeError."""
    @gc.function
    def f(x1, x2):
        return gc.log(x1) + x1 * x2 - gc.sin(x2)

    g = gc.grad(f, argnums=(0, 1))
    assert isinstance(g, gc.TransformedFunction)
    assert g.graph.input_names == ("x1", "x2")
    assert "grad(f)(x1, x2)" in repr(g)
    want = (1 / 2 + 5, 2 - math.cos(5))  # Baydin et al.'s gradient at (2, 5)
    assert np.allclose(tuple(g(2.0, 5.0)), want, rtol=1e-14)          # LLVM
    assert np.allclose(tuple(g(2.0, 5.0, target="numpy")), want, rtol=1e-14)
    assert np.allclose(gc.compile(gc.grad(gc.function(f).graph))(2.0, 5.0), want)
    assert "x1=" in str(g(2.0, 5.0)) and g(2.0, 5.0).x2 == pytest.approx(want[1])
    # a lambda works the same way
    assert gc.grad(lambda x: x ** 3)(2.0) == pytest.approx(12.0)


def test_aux_and_argument_combinations():
    """argnums (int / tuple / negative), wrt (name / list), has_aux for grad and
    value_and_grad, against hand derivatives of f = x^2 y + sin(z)."""
    def f(x, y, z):
        return x * x * y + gc.sin(z)

    def f_aux(x, y, z):
        return x * x * y + gc.sin(z), (x + y, z * 2.0)

    p = (1.5, -0.7, 0.4)
    x, y, z = p
    d = {"x": 2 * x * y, "y": x * x, "z": math.cos(z)}
    aux = (x + y, 2 * z)
    for argnums in [0, 1, 2, -1, (0,), (2, 0), (0, 1, 2)]:
        names = [("x", "y", "z")[a] for a in ((argnums,) if isinstance(argnums, int)
                                             else argnums)]
        for spec in [dict(argnums=argnums),
                     dict(wrt=names[0] if isinstance(argnums, int) else names)]:
            g = gc.grad(f, target="numpy", **spec)(*p)
            ga, a = gc.grad(f_aux, has_aux=True, target="numpy", **spec)(*p)
            (v, a2), gv = gc.value_and_grad(f_aux, has_aux=True, target="numpy", **spec)(*p)
            assert np.allclose(a, aux) and np.allclose(a2, aux)
            assert v == pytest.approx(x * x * y + math.sin(z))
            for got in (g, ga, gv):
                if isinstance(argnums, int):
                    assert float(got) == pytest.approx(d[names[0]])
                else:
                    assert got._fields == tuple(names)
                    assert np.allclose(tuple(got), [d[n] for n in names])


def test_llvm_and_cached_kernel():
    g = gc.grad(gc.grad(gc.sin))
    assert g.target == "llvm"
    xs = np.linspace(-3, 3, 101)
    assert np.allclose(g(xs), -np.sin(xs), rtol=1e-14, atol=1e-15)
    assert g.compile() is g.compile()


def test_jacobian_of_several_outputs_is_rows():
    def f(x, y):
        return x * y, x + 2 * y

    for jac in (gc.jacfwd, gc.jacrev, gc.jacobian):
        J = jac(f, argnums=(0, 1), target="numpy")(3.0, 5.0)
        assert len(J) == 2 and J[0]._fields == ("x", "y")
        assert np.allclose([tuple(J[0]), tuple(J[1])], [[5.0, 3.0], [1.0, 2.0]])
    assert np.allclose(gc.jacfwd(f, target="numpy")(3.0, 5.0), (5.0, 1.0))


@pytest.mark.parametrize("bad", [
    lambda: gc.grad(42),
    lambda: gc.grad(lambda x, y: x * y, argnums=0, wrt="x"),
    lambda: gc.grad(lambda x, y: x * y, argnums=2),
    lambda: gc.grad(lambda x, y: x * y, argnums=True),
    lambda: gc.grad(lambda x, y: x * y, argnums="x"),
    lambda: gc.grad(lambda x, y: x * y, argnums=(0, 0)),
    lambda: gc.grad(lambda x, y: x * y, wrt=1),
    lambda: gc.grad(lambda x, y: x * y, wrt="q"),
    lambda: gc.grad(lambda x: (x, x * 2)),
    lambda: gc.grad(lambda x: x * 2, has_aux=True),
    lambda: gc.grad("x * y", has_aux=True),
    lambda: gc.value_and_grad(gc.parse("x * y"), has_aux=True),
    lambda: gc.jvp(lambda x: x * 2, 1.0, 1.0),
    lambda: gc.jvp(lambda x: x * 2, (1.0, 2.0), (1.0,)),
    lambda: gc.jvp(lambda x: x * 2, seed={"x": 1.0}),
    lambda: gc.vjp(lambda x: x * 2, 1.0)[1](1.0, 2.0),
    lambda: gc.jacobian(lambda x: x * 2, mode="sideways"),
    lambda: gc.hessian(gc.function(lambda x: x * x, shapes={"x": (3,)})),
], ids=range(18))
def test_errors_are_graphc_errors(bad):
    """Bad arguments raise a GraphcError subclass (evaluated on first call or .graph)."""
    with pytest.raises(gc.GraphcError) as info:
        out = bad()
        if isinstance(out, gc.TransformedFunction):
            out(1.0)
    assert len(str(info.value)) > 20


def test_array_jacobian_message_says_later():
    with pytest.raises(gc.GraphcError, match="drawn as a graph of its own"):
        gc.hessian(gc.function(lambda x: x * x, shapes={"x": (3,)})).graph


def test_jax_users_page_examples_run():
    """docs/jax-users.md's graphc snippets run and print what the page says."""
    import doctest
    from pathlib import Path
    page = Path(__file__).resolve().parents[2] / "docs" / "jax-users.md"
    result = doctest.testfile(str(page), module_relative=False, verbose=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_compile_takes_functions_and_strings():
    """gc.compile takes what the transforms take: an @gc.function, a transformed
    function (its graph) and an expression string, besides a Graph."""
    f = gc.function(lambda x1, x2: gc.log(x1) + x1 * x2 - gc.sin(x2))
    want = np.log(2.0) + 10.0 - np.sin(5.0)
    assert np.isclose(gc.compile(f)(2.0, 5.0), want)
    assert np.isclose(gc.compile("ln(x1) + x1*x2 - sin(x2)")(2.0, 5.0), want)
    g = gc.compile(gc.grad(f, argnums=(0, 1)))(2.0, 5.0)
    assert np.allclose(g, [1 / 2.0 + 5.0, 2.0 - np.cos(5.0)])
    with pytest.raises(gc.GraphcError, match="expression string"):
        gc.compile(3.0)
