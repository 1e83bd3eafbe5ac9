"""Driven by the registry: every array primitive (``elementwise=False``) is evaluated on
the example shapes of its record and its derivative rules are checked against ground
truth we did not write: central finite differences of its NumPy implementation, for
the JVP (J·ẋ), the VJP (Jᵀ·ȳ, column by column) and the inner-product identity
⟨ȳ, J ẋ⟩ = ⟨Jᵀ ȳ, ẋ⟩, to second order (the JVP of the VJP against differences of the
VJP). The LLVM array backend must equal the NumPy interpreter on every example, on the
value and on the VJP graph."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import arrays as llvm_arrays
from graphc.ir import PRIMITIVES, Graph, apply, ops
from helpers import integer_arguments, sample_arguments

ARRAY_OPS = [p for p in PRIMITIVES.values() if not p.elementwise]
CASES = [(p, i) for p in ARRAY_OPS for i in range(len(p.examples))]


def _ids(case):
    prim, i = case
    return f"{prim.name}-{i}"


def test_every_array_primitive_has_examples_and_rules():
    assert ARRAY_OPS, "no array primitives registered"
    for p in ARRAY_OPS:
        assert p.examples, f"{p.name} has no example shapes"
        for shapes, params in p.examples:
            assert len(shapes) == p.arity, f"{p.name}: example {shapes} for arity {p.arity}"
        assert len(p.domain) == p.arity
        from graphc.backends.cuda.arrays import supports as cuda_supports
        assert cuda_supports(p), f"the CUDA array backend cannot lower {p.name}"
        assert llvm_arrays.supports(p), f"the LLVM array backend cannot lower {p.name}"
        if p.differentiable:
            assert p.jvp is not None and p.vjp is not None, f"{p.name} lacks JVP/VJP rules"


def _integer_args(prim, shapes, params=None) -> set[int]:
    """Arguments that hold integers (class labels, gather indices; not differentiable,
    sampled as integers): the record's ``integer_args``."""
    return set(integer_arguments(prim, shapes, params or {}))


def _sample(prim, shapes, params, seed):
    rng = np.random.default_rng(seed)
    vals = sample_arguments(prim, shapes, params, rng)
    if prim.name == "prod":  # keep away from 0, where out/x is undefined
        vals[0] = np.sign(vals[0]) * (0.5 + np.abs(vals[0]))
    return vals, _integer_args(prim, shapes, params)


def _graph(prim, shapes, params):
    xs = [ops.variable(f"a{k}", shape=tuple(s)) for k, s in enumerate(shapes)]
    return Graph(xs, [apply(prim, *xs, **params)])


def _f(g, vals):
    return np.asarray(gc.evaluate(g, *vals), dtype=float)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_value_matches_numpy_implementation(case):
    prim, i = case
    shapes, params = prim.examples[i]
    g = _graph(prim, shapes, params)
    vals, _ = _sample(prim, shapes, params, seed=i)
    node = g.outputs[0]
    want = prim.impl(*vals, **{k: v for k, v in node.params})
    got = gc.evaluate(g, *vals)
    assert np.shape(got) == tuple(node.shape)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def _fd_jvp(g, vals, k, direction, h=1e-6):
    plus = [v.copy() for v in vals]
    minus = [v.copy() for v in vals]
    plus[k] = plus[k] + h * direction
    minus[k] = minus[k] - h * direction
    return (_f(g, plus) - _f(g, minus)) / (2 * h)


@pytest.mark.parametrize("case", [c for c in CASES if c[0].differentiable], ids=_ids)
def test_jvp_vjp_and_inner_product_identity_match_finite_differences(case):
    prim, i = case
    shapes, params = prim.examples[i]
    g = _graph(prim, shapes, params)
    vals, ints = _sample(prim, shapes, params, seed=10 + i)
    rng = np.random.default_rng(100 + i)
    out_shape = g.outputs[0].shape
    ybar = rng.normal(size=out_shape)
    active = [k for k in range(prim.arity) if k not in ints]
    names = [f"a{k}" for k in active]
    fwd = gc.jvp(g, wrt=names)
    rev = gc.vjp(g, wrt=names)
    dirs = {k: rng.normal(size=shapes[k]) for k in active}
    # forward: J·ẋ for each argument's direction vs central differences
    for j, k in enumerate(active):
        tangents = [dirs[kk] if kk == k else np.zeros(shapes[kk]) for kk in active]
        got = gc.evaluate(fwd, *vals, *tangents)[1]
        want = _fd_jvp(g, vals, k, dirs[k])
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7,
                                   err_msg=f"{prim.name} JVP wrt a{k}")
    # reverse: Jᵀ·ȳ, column by column, vs central differences of ⟨ȳ, f⟩
    bars = gc.evaluate(rev, *vals, ybar)[1]
    for j, k in enumerate(active):
        assert np.shape(bars[j]) == tuple(shapes[k])
        want = np.zeros(shapes[k])
        for idx in np.ndindex(*shapes[k]):
            e = np.zeros(shapes[k])
            e[idx] = 1.0
            want[idx] = np.sum(ybar * _fd_jvp(g, vals, k, e))
        np.testing.assert_allclose(bars[j], want, rtol=1e-6, atol=1e-7,
                                   err_msg=f"{prim.name} VJP wrt a{k}")
    # the inner-product identity <ȳ, J ẋ> = <Jᵀ ȳ, ẋ> with all directions at once
    jx = gc.evaluate(fwd, *vals, *[dirs[k] for k in active])[1]
    lhs = float(np.sum(ybar * jx))
    rhs = float(sum(np.sum(b * dirs[k]) for b, k in zip(bars, active)))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if c[0].differentiable and c[0].smooth],
                         ids=_ids)
def test_second_order_jvp_of_vjp_matches_finite_differences(case):
    prim, i = case
    shapes, params = prim.examples[i]
    g = _graph(prim, shapes, params)
    vals, ints = _sample(prim, shapes, params, seed=20 + i)
    rng = np.random.default_rng(200 + i)
    k = next(k for k in range(prim.arity) if k not in ints)
    ybar = rng.normal(size=g.outputs[0].shape)
    rev = gc.vjp(g, wrt=f"a{k}")
    second = gc.jvp(rev, wrt=f"a{k}")
    d = rng.normal(size=shapes[k])
    got = gc.evaluate(second, *vals, ybar, d)[1][1][0]

    def bar(v):
        vv = list(vals)
        vv[k] = v
        return np.asarray(gc.evaluate(rev, *vv, ybar)[1][0])
    h = 1e-5
    want = (bar(vals[k] + h * d) - bar(vals[k] - h * d)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if not c[0].differentiable], ids=_ids)
def test_shape_only_ops_have_zero_derivative(case):
    prim, i = case
    shapes, params = prim.examples[i]
    g = _graph(prim, shapes, params)
    vals, _ = _sample(prim, shapes, params, seed=i)
    rev = gc.vjp(g)
    out = gc.evaluate(rev, *vals, np.ones(g.outputs[0].shape))
    for b in out[1]:
        assert not np.any(b)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_llvm_matches_numpy_interpreter(case):
    prim, i = case
    shapes, params = prim.examples[i]
    g = _graph(prim, shapes, params)
    vals, _ = _sample(prim, shapes, params, seed=30 + i)
    np.testing.assert_allclose(gc.compile(g)(*vals), gc.evaluate(g, *vals),
                               rtol=1e-13, atol=1e-14)
    if prim.differentiable:
        rev = gc.vjp(g)
        ybar = np.random.default_rng(i).normal(size=g.outputs[0].shape)
        got = gc.compile(rev)(*vals, ybar)
        want = gc.evaluate(rev, *vals, ybar)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
