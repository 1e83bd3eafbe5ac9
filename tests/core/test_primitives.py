"""Driven by the registry: every primitive has every piece, and its derivative rules
agree with central finite differences over its test domain, to second order.

The scalar-argument tests here walk the elementwise primitives; the array primitives
(``elementwise=False``: reductions, matmul, slices...) are walked with the example
shapes of their records by tests/tensors/test_array_primitives.py (finite differences
of JVP and VJP, the inner-product identity, LLVM vs NumPy)."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends import llvm as llvm_backend
from graphc.backends.llvm import arrays as llvm_arrays
from graphc.ir import PRIMITIVES, Graph, apply, ops

from helpers import richardson_gradient

OPS = [p for p in PRIMITIVES.values() if p.arity > 0 and p.elementwise]
ARRAY_OPS = [p for p in PRIMITIVES.values() if not p.elementwise]


@pytest.mark.parametrize("prim", list(PRIMITIVES.values()), ids=lambda p: p.name)
def test_record_is_complete(prim):
    assert callable(prim.impl)
    assert prim.fmt and prim.latex and prim.doc
    if not prim.elementwise:
        # array ops: lowered by the LLVM and CUDA array backends
        assert prim.llvm and llvm_arrays.supports(prim), \
            f"the LLVM array backend cannot lower {prim.name}"
        from graphc.backends.cuda.arrays import supports as cuda_supports
        assert cuda_supports(prim), f"the CUDA array backend cannot lower {prim.name}"
        assert prim.examples and len(prim.domain) == prim.arity, \
            f"{prim.name} needs example shapes and a domain per argument"
        if prim.differentiable:
            assert prim.jvp and prim.vjp, f"{prim.name} needs JVP and VJP rules"
        return
    assert prim.llvm and prim.cuda, f"{prim.name} lacks a backend lowering name"
    assert llvm_backend.supports(prim), f"the LLVM backend cannot lower {prim.name}"
    if prim.arity:
        assert len(prim.domain) == prim.arity, f"{prim.name} needs a test domain per arg"
        if prim.differentiable:
            assert prim.partials is not None or (prim.jvp and prim.vjp), \
                f"{prim.name} has no derivative rule"
        for name in prim.param_names:
            assert name in prim.param_defaults, f"{prim.name}: default for {name}"


def _points(prim, n, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, n) for lo, hi in prim.domain]


def _away_from_kinks(prim, xs):
    """Keep points away from non-smooth places (kinks at 0 and at ties x == y)."""
    if prim.smooth:
        return np.ones(len(xs[0]), bool)
    keep = np.all([np.abs(x) > 0.05 for x in xs], axis=0)
    if prim.arity >= 2:
        keep &= np.abs(xs[0] - xs[1]) > 0.05
    if prim.name == "where":
        keep &= np.abs(xs[0]) > 0.05
    return keep


def _graph(prim):
    names = [f"a{i}" for i in range(prim.arity)]
    xs = [ops.variable(n) for n in names]
    return Graph(xs, [apply(prim, *xs)])


@pytest.mark.parametrize("prim", [p for p in OPS if p.differentiable], ids=lambda p: p.name)
def test_first_and_second_derivatives_match_finite_differences(prim):
    g = _graph(prim)
    grad = gc.grad(g)
    hess = gc.hessian(g)
    xs = _points(prim, 12, seed=len(prim.name))
    keep = _away_from_kinks(prim, xs)
    checked = 0
    for i in np.nonzero(keep)[0]:
        x = np.array([v[i] for v in xs])

        def f(v):
            return float(gc.evaluate(g, *v))

        def df(v, j):
            return float(np.asarray(gc.evaluate(grad, *v)[j]))

        want, err = richardson_gradient(f, x, h=1e-3)
        got = np.array([float(v) for v in gc.evaluate(grad, *x)])
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9 + 10 * err,
                                   err_msg=f"{prim.name}' at {x}")
        H = np.array(gc.evaluate(hess, *x), dtype=float).reshape(prim.arity, prim.arity)
        for j in range(prim.arity):
            want_row, err = richardson_gradient(lambda v: df(v, j), x, h=1e-3)
            np.testing.assert_allclose(H[j], want_row, rtol=1e-6, atol=1e-8 + 10 * err,
                                       err_msg=f"{prim.name}'' at {x}")
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize("prim", [p for p in OPS if not p.differentiable],
                         ids=lambda p: p.name)
def test_piecewise_constant_ops_have_zero_derivative(prim):
    g = _graph(prim)
    xs = _points(prim, 5, seed=1)
    for i in range(5):
        got = gc.evaluate(gc.grad(g), *[v[i] for v in xs])
        assert all(float(v) == 0.0 for v in got)


@pytest.mark.parametrize("prim", OPS, ids=lambda p: p.name)
def test_llvm_matches_numpy_interpreter(prim):
    g = _graph(prim)
    xs = _points(prim, 257, seed=3)
    # include the special values, where defined as in NumPy
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan])
    xs = [np.concatenate([v, np.resize(specials, 7)]) for v in xs]
    got = gc.compile(g)(*xs)
    want = gc.evaluate(g, *xs)
    if prim.ulp == 0:  # correctly rounded or exact (the record's accuracy contract)
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=prim.ulp * np.finfo(float).eps,
                                   atol=1e-300)


def test_masked_branches_do_not_poison_gradients():
    """where(x > 0, sqrt(x), 0) and sqrt(relu(x)) at x <= 0: jax#1052, pytorch#2421."""
    x = np.array([0.0, -1.0, 4.0])
    for src in ("where(x > 0, sqrt(x), 0)", "sqrt(relu(x))", "where(x < 1, x, log(x - 1))"):
        g = gc.parse(src)
        for mode in ("fwd", "rev"):
            J = gc.evaluate(gc.jacobian(g, mode=mode), x)
            assert np.all(np.isfinite(J[0])), (src, mode, J)
            k = gc.compile(gc.jacobian(g, mode=mode))(x)
            np.testing.assert_array_equal(k[0], J[0])
    np.testing.assert_array_equal(gc.evaluate(gc.grad(gc.parse("sqrt(relu(x))")), x)[0],
                                  [0.0, 0.0, 0.25])


def test_conventions_at_kinks():
    d = lambda src, **at: float(gc.evaluate(gc.grad(gc.parse(src), "x"), **at))  # noqa
    assert d("relu(x)", x=0.0) == 0.0
    assert d("abs(x)", x=0.0) == 0.0
    assert d("max(x, y)", x=1.0, y=1.0) == 0.5
    assert d("min(x, y)", x=1.0, y=1.0) == 0.5
    assert d("sqrt(x)", x=0.0) == np.inf
    assert d("log(x)", x=0.0) == np.inf


@pytest.mark.parametrize("prim", ARRAY_OPS, ids=lambda p: p.name)
def test_array_ops_go_to_the_cuda_array_renderer(prim):
    """The scalar CUDA renderer refuses array graphs with a LoweringError that names
    the array renderer; that renderer lowers every example."""
    from graphc.backends.cuda.arrays import render_arrays
    from graphc.backends.cuda.render import render
    shapes, params = prim.examples[0]
    xs = [ops.variable(f"a{k}", shape=tuple(s)) for k, s in enumerate(shapes)]
    g = Graph(xs, [apply(prim, *xs, **params)])
    with pytest.raises(gc.LoweringError, match="array|" + prim.name):
        render(g)
    sizes = {d: 3 for s in shapes for d in s if isinstance(d, str)}
    assert "def graphc" in render_arrays(g, sizes).text
