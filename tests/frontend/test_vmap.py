"""gc.vmap (issue 13, part 5): JAX's vmap over graphc's primitives, by batching rules
(the ``batch`` field of each record) that rewrite one traced example into one graph.

Ground truth from outside graphc: ``jax.vmap`` of the jax.numpy equivalent, and a
Python loop over the examples with NumPy (each example evaluated by the primitive's
NumPy implementation, the reference semantics), for every elementwise primitive at
in_axes 0 / 1 / None combinations and every array primitive of array_ops, conv_ops and
index_ops on its record's ``examples``, in float64 and float32. Then nested vmap,
per-example gradients of a small MLP against ``jax.vmap(jax.grad(...))``, gradients
through vmap, out_axes, and the error cases.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp
from graphc.ir import PRIMITIVES, GraphcError, apply, ops
from graphc.ir.array_ops import ARRAY_PRIMITIVES, parse_index
from graphc.ir.conv_ops import CONV_PRIMITIVES
from graphc.ir.index_ops import INDEX_PRIMITIVES
from helpers import integer_arguments

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
jsp = jax.scipy.special

DTYPES = ["float64", "float32"]
TOL = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 2e-5, "atol": 2e-6}}
NP = {"float64": np.float64, "float32": np.float32}
B = 4  # batch size


# ---------------------------------------------------------------------------------
# the registry: every primitive has a batching rule

def test_every_registered_primitive_has_a_batching_rule():
    missing = [n for n, p in PRIMITIVES.items() if p.arity > 0 and p.batch is None]
    assert not missing, f"primitives without a batch rule: {missing}"


def test_elementwise_primitives_share_the_default_rule():
    from graphc.ir.batching import elementwise_batch
    for p in PRIMITIVES.values():
        if p.elementwise:
            assert p.batch is elementwise_batch, p.name


# ---------------------------------------------------------------------------------
# elementwise primitives

JAX_ELEMENTWISE = {
    "add": jnp.add, "sub": jnp.subtract, "mul": jnp.multiply, "div": jnp.divide,
    "neg": jnp.negative, "pow": jnp.power, "exp": jnp.exp, "log": jnp.log,
    "sqrt": jnp.sqrt, "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "asin": jnp.arcsin,
    "acos": jnp.arccos, "atan": jnp.arctan, "sinh": jnp.sinh, "cosh": jnp.cosh,
    "tanh": jnp.tanh, "log1p": jnp.log1p, "expm1": jnp.expm1, "abs": jnp.abs,
    "sign": jnp.sign, "heaviside": lambda x: jnp.heaviside(x, 0.0),
    "sigmoid": jax.nn.sigmoid, "logistic_pdf": lambda x: jax.nn.sigmoid(x) * jax.nn.sigmoid(-x),
    "relu": jax.nn.relu,
    "leaky_relu": lambda x: jax.nn.leaky_relu(x, 0.01), "elu": jax.nn.elu,
    "softplus": jax.nn.softplus, "minimum": jnp.minimum, "maximum": jnp.maximum,
    "lt": lambda a, b: jnp.where(a < b, 1.0, 0.0), "le": lambda a, b: jnp.where(a <= b, 1.0, 0.0),
    "gt": lambda a, b: jnp.where(a > b, 1.0, 0.0), "ge": lambda a, b: jnp.where(a >= b, 1.0, 0.0),
    "eq": lambda a, b: jnp.where(a == b, 1.0, 0.0), "ne": lambda a, b: jnp.where(a != b, 1.0, 0.0),
    "where": lambda c, a, b: jnp.where(c != 0, a, b), "floor": jnp.floor, "ceil": jnp.ceil,
    "round": jnp.round, "mod": jnp.mod, "exp2": jnp.exp2, "log2": jnp.log2,
    "log10": jnp.log10, "hypot": jnp.hypot, "asinh": jnp.arcsinh, "acosh": jnp.arccosh,
    "atanh": jnp.arctanh, "atan2": jnp.arctan2, "erf": jsp.erf, "erfc": jsp.erfc,
    "cbrt": jnp.cbrt, "clip": lambda x, lo, hi: jnp.minimum(jnp.maximum(x, lo), hi),
    "logaddexp": jnp.logaddexp, "square": jnp.square, "reciprocal": jnp.reciprocal,
}

ELEMENTWISE = sorted(n for n, p in PRIMITIVES.items() if p.elementwise and p.arity > 0)


def _sample(rng, lo_hi, shape, dtype):
    lo, hi = lo_hi
    return rng.uniform(lo, hi, size=shape).astype(NP[dtype])


def _axes_combos(arity):
    """in_axes combinations of 0, 1 and None, not all None (all of them for arity up
    to 2; for three arguments, one per pattern of batched/unbatched with both axes)."""
    combos = [c for c in itertools.product((0, 1, None), repeat=arity)
              if any(a is not None for a in c)]
    if arity <= 2:
        return combos
    return [c for c in combos if c.count(None) < 2 or c in ((0, None, None),
                                                            (None, None, 1))][:9]


def _stack(examples, axis):
    return np.stack(examples, axis=axis)


def _elementwise_case(name, axes, dtype, seed, example_shapes=None):
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(seed)
    shapes = example_shapes or [(3,)] * prim.arity
    per = [[_sample(rng, prim.domain[i], shapes[i], dtype) for _ in range(B)]
           for i in range(prim.arity)]
    args = [ex[0] if ax is None else _stack(ex, ax) for ex, ax in zip(per, axes)]
    return prim, per, args


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_against_loop_and_jax(name, dtype):
    prim = PRIMITIVES[name]
    for k, axes in enumerate(_axes_combos(prim.arity)):
        _, per, args = _elementwise_case(name, axes, dtype, k)
        f = gc.vmap(lambda *a: apply(prim, *a), in_axes=axes, target="numpy")
        got = f(*args)
        assert got.dtype == NP[dtype]
        loop = np.stack([prim.impl(*[ex[0 if ax is None else i] for ex, ax in zip(per, axes)],
                                   **prim.param_defaults) for i in range(B)])
        np.testing.assert_allclose(got, loop, **TOL[dtype], err_msg=f"{name} {axes}")
        # JAX (slow to dispatch) on a few combinations, the NumPy loop on all of them
        few = k == 0 or dtype == "float64" and (k == 1 or None in axes and k % 3 == 0)
        if name in JAX_ELEMENTWISE and few:
            want = jax.vmap(JAX_ELEMENTWISE[name], in_axes=axes)(*args)
            np.testing.assert_allclose(got, np.asarray(want), **TOL[dtype],
                                       err_msg=f"{name} {axes} vs jax")


def test_every_elementwise_primitive_has_a_jax_counterpart_here():
    # the JAX half of the registry test above covers every elementwise primitive
    assert set(ELEMENTWISE) <= set(JAX_ELEMENTWISE), set(ELEMENTWISE) - set(JAX_ELEMENTWISE)


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_examples_of_different_ranks(dtype):
    # a scalar per example against a vector per example: the batched scalar is padded
    # with an axis of length 1 after the batch axis before broadcasting
    for axes in ((0, 0), (0, None), (None, 0), (1, 0)):
        _, _, args = _elementwise_case("hypot", axes, dtype, 7, [(3, 2), ()])
        got = gc.vmap(gc.hypot, in_axes=axes, target="numpy")(*args)
        want = jax.vmap(jnp.hypot, in_axes=axes)(*args)
        np.testing.assert_allclose(got, np.asarray(want), **TOL[dtype], err_msg=str(axes))


# ---------------------------------------------------------------------------------
# array primitives (array_ops, conv_ops, index_ops) on their records' examples

def _jax_conv(x, w, *, stride, padding, dilation, groups):
    return jax.lax.conv_general_dilated(x, w, stride, [(p, p) for p in padding],
                                        rhs_dilation=dilation, feature_group_count=groups)


def _jax_pool(x, init, op, kernel, stride, padding, dilation=None):
    nd = len(kernel)
    return jax.lax.reduce_window(x, init, op, (1, 1) + tuple(kernel), (1, 1) + tuple(stride),
                                 [(0, 0), (0, 0)] + [(p, p) for p in padding],
                                 window_dilation=(1, 1) + tuple(dilation or (1,) * nd))


def _jax_avg_pool(x, *, kernel, stride, padding, count_include_pad):
    s = _jax_pool(x, 0.0, jax.lax.add, kernel, stride, padding)
    if count_include_pad:
        return s / np.prod(kernel)
    return s / _jax_pool(jnp.ones_like(x), 0.0, jax.lax.add, kernel, stride, padding)


def _jax_one_hot(labels, like, *, axis):
    n = like.shape[axis]
    return jnp.moveaxis(jax.nn.one_hot(labels.astype(int), n, dtype=like.dtype), -1, axis)


def _jax_cross_entropy(z, y, *, axis):
    ls = jax.nn.log_softmax(z, axis=axis)
    if y.shape != z.shape:
        y = _jax_one_hot(y, z, axis=axis)
    return -jnp.sum(y * ls) / (z.size // z.shape[axis])


def _jax_unslice(y, *, shape, index):
    return jnp.zeros(shape, y.dtype).at[parse_index(index)].set(y)


def _jax_gather(x, idx, *, axis):
    shape = tuple(i if d == axis else max(a, i) for d, (a, i) in enumerate(zip(x.shape,
                                                                               idx.shape)))
    xs = tuple(x.shape[axis] if d == axis else s for d, s in enumerate(shape))
    return jnp.take_along_axis(jnp.broadcast_to(x, xs), jnp.broadcast_to(idx, shape)
                               .astype(int), axis=axis, mode="clip")


JAX_ARRAY = {
    "matmul": lambda a, b: a @ b,
    "transpose": lambda x, *, axes: jnp.transpose(x, axes),
    "reshape": lambda x, *, shape: jnp.reshape(x, shape),
    "broadcast_to": lambda x, *, shape: jnp.broadcast_to(x, shape),
    "sum": lambda x, *, axis, keepdims: jnp.sum(x, axis, keepdims=keepdims),
    "mean": lambda x, *, axis, keepdims: jnp.mean(x, axis, keepdims=keepdims),
    "prod": lambda x, *, axis, keepdims: jnp.prod(x, axis, keepdims=keepdims),
    "reduce_max": lambda x, *, axis, keepdims: jnp.max(x, axis, keepdims=keepdims),
    "reduce_min": lambda x, *, axis, keepdims: jnp.min(x, axis, keepdims=keepdims),
    "size": lambda x, *, axis: jnp.asarray(float(np.prod([x.shape[a] for a in axis]))),
    "getitem": lambda x, *, index: x[parse_index(index)],
    "unslice": _jax_unslice,
    "concatenate": lambda a, b, *, axis: jnp.concatenate([a, b], axis),
    "softmax": lambda x, *, axis: jax.nn.softmax(x, axis=axis),
    "log_softmax": lambda x, *, axis: jax.nn.log_softmax(x, axis=axis),
    "logsumexp": lambda x, *, axis, keepdims: jsp.logsumexp(x, axis, keepdims=keepdims),
    "mse": lambda a, b: jnp.mean((a - b) ** 2),
    "cross_entropy": _jax_cross_entropy,
    "one_hot": _jax_one_hot,
    "conv": _jax_conv,
    "max_pool": lambda x, *, kernel, stride, padding, dilation: _jax_pool(
        x, -jnp.inf, jax.lax.max, kernel, stride, padding, dilation),
    "avg_pool": _jax_avg_pool,
    "gather": _jax_gather,
    "det": jnp.linalg.det,
}

ARRAY_CASES = [(p.name, k, ex) for p in ARRAY_PRIMITIVES + CONV_PRIMITIVES + INDEX_PRIMITIVES
               for k, ex in enumerate(p.examples)]


def _array_args(prim, shapes, params, dtype, axes, rng):
    ints = integer_arguments(prim, shapes, params)
    per = []
    for i, s in enumerate(shapes):
        if i in ints:
            per.append([rng.integers(*ints[i], size=s).astype(NP[dtype]) for _ in range(B)])
        else:
            per.append([_sample(rng, prim.domain[i], s, dtype) for _ in range(B)])
    args = [ex[0] if ax is None else _stack(ex, ax) for ex, ax in zip(per, axes)]
    return per, args


def _array_axes(arity, shapes):
    """All arguments at axis 0; only the first batched (axis 0); only the last batched,
    its batch on the last axis."""
    out = [(0,) * arity]
    if arity > 1:
        out.append((0,) + (None,) * (arity - 1))
    out.append((None,) * (arity - 1) + (len(shapes[-1]),))
    return list(dict.fromkeys(out))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,k,example", ARRAY_CASES,
                         ids=[f"{n}-{k}" for n, k, _ in ARRAY_CASES])
def test_array_primitive_against_loop_and_jax(name, k, example, dtype):
    prim = PRIMITIVES[name]
    shapes, params = example
    rng = np.random.default_rng(k)
    for j, axes in enumerate(_array_axes(prim.arity, shapes)):
        per, args = _array_args(prim, shapes, params, dtype, axes, rng)
        f = gc.vmap(lambda *a: apply(prim, *a, **params), in_axes=axes, target="numpy")
        got = f(*args)
        node = apply(prim, *[ops.variable(f"a{i}", dtype, s) for i, s in enumerate(shapes)],
                     **params)
        canon = {kk: v for kk, v in node.params if not kk.startswith("_")}
        loop = np.stack([prim.impl(*[ex[0 if ax is None else i] for ex, ax in zip(per, axes)],
                                   **canon) for i in range(B)])
        assert got.shape == loop.shape, (axes, got.shape, loop.shape)
        np.testing.assert_allclose(got, loop, **TOL[dtype], err_msg=f"{name} {axes}")
        if name in JAX_ARRAY and (j == 0 or dtype == "float64"):  # JAX: fewer, for time
            jf = JAX_ARRAY[name]
            want = jax.vmap(lambda *a, jf=jf, canon=canon: jf(*a, **canon),
                            in_axes=axes)(*args)
            np.testing.assert_allclose(got, np.asarray(want), **TOL[dtype],
                                       err_msg=f"{name} {axes} vs jax")


def test_scatter_add_against_jax():
    # scatter_add's JAX counterpart, x.at[idx].add(v) on one broadcast shape
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, 5))
    idx = rng.integers(0, 5, size=(B, 7)).astype(float)
    v = rng.normal(size=(B, 7))
    got = gc.vmap(lambda a, i, b: apply(PRIMITIVES["scatter_add"], a, i, b, axis=0),
                  target="numpy")(x, idx, v)
    want = jax.vmap(lambda a, i, b: a.at[i.astype(int)].add(b))(x, idx, v)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------
# one graph, one kernel; nesting; gradients

def test_one_graph_compiled_by_llvm():
    f = gc.vmap(lambda W, x: gnp.tanh(W @ x), in_axes=(None, 0))
    rng = np.random.default_rng(0)
    W, X = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    g = f.graph_for(W, X)
    assert [x.shape for x in g.inputs] == [(4, 3), (6, 3)]
    assert g.outputs[0].shape == (6, 4)
    assert "scan" not in gc.to_text(g)
    np.testing.assert_allclose(f(W, X), np.tanh(X @ W.T), rtol=1e-12)
    np.testing.assert_allclose(gc.compile(g)(W, X), np.tanh(X @ W.T), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nested_vmap(dtype):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 2)).astype(NP[dtype])
    b = rng.normal(size=(5, 2)).astype(NP[dtype])

    def f(x, y):
        return gnp.sum(x * gc.exp(y))

    def jf(x, y):
        return jnp.sum(x * jnp.exp(y))

    inner = (0, None)
    got = gc.vmap(gc.vmap(f, in_axes=inner), in_axes=(None, 0))(a, b)
    want = jax.vmap(jax.vmap(jf, in_axes=inner), in_axes=(None, 0))(a, b)
    assert got.shape == (5, 3) and got.dtype == NP[dtype]
    np.testing.assert_allclose(got, np.asarray(want), **TOL[dtype])
    loop = np.array([[np.sum(a[i] * np.exp(b[j])) for i in range(3)] for j in range(5)])
    np.testing.assert_allclose(got, loop, **TOL[dtype])


def _mlp():
    def loss(W1, b1, W2, x, y):
        h = gnp.tanh(W1 @ x + b1)
        return gnp.sum((W2 @ h - y) ** 2)

    def jloss(W1, b1, W2, x, y):
        h = jnp.tanh(W1 @ x + b1)
        return jnp.sum((W2 @ h - y) ** 2)

    rng = np.random.default_rng(2)
    params = (rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=(2, 5)))
    X, Y = rng.normal(size=(B, 3)), rng.normal(size=(B, 2))
    shapes = {"W1": (5, 3), "b1": (5,), "W2": (2, 5), "x": (3,), "y": (2,)}
    return gc.function(loss, shapes=shapes), jloss, params, X, Y


def test_per_example_gradients_of_an_mlp():
    loss, jloss, params, X, Y = _mlp()
    axes = (None, None, None, 0, 0)
    got = gc.vmap(gc.grad(loss, argnums=(0, 1, 2)), in_axes=axes)(*params, X, Y)
    want = jax.vmap(jax.grad(jloss, argnums=(0, 1, 2)), in_axes=axes)(*params, X, Y)
    assert type(got).__name__ == "Gradient" and got._fields == ("W1", "b1", "W2")
    for g, w in zip(got, want):
        assert g.shape == (B,) + w.shape[1:]
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-10, atol=1e-12)


def test_gradient_through_vmap():
    loss, jloss, params, X, Y = _mlp()
    axes = (None, None, None, 0, 0)

    def total(W1, b1, W2):
        return gnp.sum(gc.vmap(loss, in_axes=axes)(W1, b1, W2, X, Y))

    f = gc.function(total, shapes={"W1": (5, 3), "b1": (5,), "W2": (2, 5)})
    got = gc.grad(f, argnums=(0, 1, 2))(*params)
    want = jax.grad(lambda *p: jnp.sum(jax.vmap(jloss, in_axes=axes)(*p, X, Y)),
                    argnums=(0, 1, 2))(*params)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-10, atol=1e-12)


def test_jvp_of_vmap_with_declared_shapes():
    f = gc.function(lambda x: gnp.sum(gc.sin(x) ** 2), shapes={"x": (3,)})
    v = gc.vmap(f, axis_size=B)
    assert v.graph.inputs[0].shape == (B, 3)
    x, t = np.random.default_rng(4).normal(size=(2, B, 3))
    y, dy = gc.jvp(v, (x,), (t,))
    jy, jdy = jax.jvp(jax.vmap(lambda x: jnp.sum(jnp.sin(x) ** 2)), (x,), (t,))
    np.testing.assert_allclose(y, np.asarray(jy), rtol=1e-12)
    np.testing.assert_allclose(dy, np.asarray(jdy), rtol=1e-12)


def test_vmap_closing_over_a_traced_value():
    # inside a trace, values of the enclosing function stay unbatched
    X = np.random.default_rng(5).normal(size=(B, 3))

    def outer(w):
        return gnp.sum(gc.vmap(lambda x: gnp.sum(gc.sin(w * x)))(X))

    f = gc.function(outer, shapes={"w": (3,)})
    w = np.array([0.3, -0.2, 0.5])
    np.testing.assert_allclose(gc.grad(f)(w), jax.grad(
        lambda w: jnp.sum(jax.vmap(lambda x: jnp.sum(jnp.sin(w * x)))(X)))(w), rtol=1e-12)


# ---------------------------------------------------------------------------------
# out_axes, axis_size

@pytest.mark.parametrize("dtype", DTYPES)
def test_out_axes(dtype):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(B, 3, 2)).astype(NP[dtype])
    y = rng.normal(size=(2,)).astype(NP[dtype])

    def f(a, b):
        return a * b, gnp.sum(a, axis=0), b

    def jf(a, b):
        return a * b, jnp.sum(a, axis=0), b

    for out_axes in (1, -1, (2, 0, None), (0, 1, 0)):
        got = gc.vmap(f, in_axes=(0, None), out_axes=out_axes, target="numpy")(x, y)
        want = jax.vmap(jf, in_axes=(0, None), out_axes=out_axes)(x, y)
        assert isinstance(got, tuple) and len(got) == 3
        for g, w in zip(got, want):
            assert g.shape == w.shape, (out_axes, g.shape, w.shape)
            np.testing.assert_allclose(g, np.asarray(w), **TOL[dtype])


def test_axis_size_broadcasts_unmapped_outputs():
    y = np.arange(3.0)
    got = gc.vmap(lambda a: a * 2.0, in_axes=None, axis_size=5, target="numpy")(y)
    want = jax.vmap(lambda a: a * 2.0, in_axes=None, axis_size=5)(y)
    np.testing.assert_array_equal(got, np.asarray(want))


# ---------------------------------------------------------------------------------
# errors

def test_mismatched_batch_sizes():
    with pytest.raises(GraphcError, match="inconsistent sizes"):
        gc.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(GraphcError, match="inconsistent sizes"):
        gc.vmap(lambda a, b: a + b, in_axes=(0, 1))(np.ones((3, 2)), np.ones((2, 4)))
    with pytest.raises(GraphcError, match="axis_size=5"):
        gc.vmap(lambda a: a, axis_size=5)(np.ones(3))


def test_all_none_in_axes_without_axis_size():
    with pytest.raises(GraphcError, match="every entry of in_axes is None"):
        gc.vmap(lambda a, b: a + b, in_axes=None)(np.ones(3), np.ones(3))
    with pytest.raises(GraphcError, match="every entry of in_axes is None"):
        gc.vmap(lambda a, b: a + b, in_axes=(None, None))(np.ones(3), np.ones(3))


def test_bad_axes():
    with pytest.raises(GraphcError, match="2 entries"):
        gc.vmap(lambda a: a, in_axes=(0, 0))(np.ones(3))
    with pytest.raises(GraphcError, match="has 1 axis"):
        gc.vmap(lambda a: a, in_axes=1)(np.ones(3))
    with pytest.raises(GraphcError, match="int or None"):
        gc.vmap(lambda a: a, in_axes="0")
    with pytest.raises(GraphcError, match="out_axes gives None"):
        gc.vmap(lambda a: a, out_axes=None)(np.ones(3))
    with pytest.raises(GraphcError, match="by position"):
        gc.vmap(lambda a: a)(a=np.ones(3))
    with pytest.raises(GraphcError, match="takes a function"):
        gc.vmap(3)


# ---------------------------------------------------------------------------------
# control flow and custom rules

@pytest.mark.parametrize("dtype", DTYPES)
def test_scan_against_jax(dtype):
    def f(c0, ts, k):
        def step(c, t):
            return c * t + gc.sin(c) * k, c * t
        return gc.scan(step, c0, ts)

    def jf(c0, ts, k):
        return jax.lax.scan(lambda c, t: (c * t + jnp.sin(c) * k, c * t), c0, ts)

    rng = np.random.default_rng(8)
    c0 = rng.normal(size=(B, 2)).astype(NP[dtype])
    ts = rng.normal(size=(B, 5, 2)).astype(NP[dtype])
    k = rng.normal(size=(B,)).astype(NP[dtype])
    for axes in ((0, 0, 0), (0, None, None), (None, 1, None), (None, None, 0)):
        args = [c0 if axes[0] is not None else c0[0],
                np.moveaxis(ts, 0, axes[1]) if axes[1] is not None else ts[0],
                k if axes[2] is not None else k[0]]
        got = gc.vmap(f, in_axes=axes, target="numpy")(*args)
        want = jax.vmap(jf, in_axes=axes)(*args)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, np.asarray(w), **TOL[dtype], err_msg=str(axes))


def test_while_loop_runs_each_example_to_its_own_end():
    def f(x, lim):
        return gc.while_loop(lambda c: c < lim, lambda c: c * 2.0 + 0.5, x)

    def jf(x, lim):
        return jax.lax.while_loop(lambda c: c < lim, lambda c: c * 2.0 + 0.5, x)

    x, lim = np.array([0.1, 3.0, 20.0, -0.2]), np.array([10.0, 10.0, 10.0, 100.0])
    for axes in ((0, 0), (0, None), (None, 0)):
        args = (x if axes[0] is not None else x[1], lim if axes[1] is not None else lim[0])
        got = gc.vmap(f, in_axes=axes)(*args)
        np.testing.assert_array_equal(got, np.asarray(jax.vmap(jf, in_axes=axes)(*args)))


def test_cond_and_switch_select_per_example():
    P, X = np.array([1.0, -1.0, 2.0, -3.0]), np.array([0.3, 0.4, 0.5, 0.6])
    got = gc.vmap(lambda p, x: gc.cond(p > 0, gc.sin, gc.cos, x))(P, X)
    want = jax.vmap(lambda p, x: jax.lax.cond(p > 0, jnp.sin, jnp.cos, x))(P, X)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-14)
    idx = np.array([0.0, 2.0, 1.0, 5.0])
    branches = [gc.sin, gc.cos, lambda x: x * x]
    jbranches = [jnp.sin, jnp.cos, lambda x: x * x]
    for axes in ((0, 0), (0, None), (None, 0)):
        args = (idx if axes[0] is not None else idx[1], X if axes[1] is not None else X[0])
        got = gc.vmap(lambda i, x: gc.switch(i, branches, x), in_axes=axes)(*args)
        want = jax.vmap(lambda i, x: jax.lax.switch(i.astype(int), jbranches, x),
                        in_axes=axes)(*args)
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-14, err_msg=str(axes))


def test_gradient_through_a_vmapped_scan():
    xs = np.array([0.1, 0.5, -0.3])

    def total(w):
        step = lambda c, _: (c * w + gc.sin(c), None)
        return gnp.sum(gc.vmap(lambda x: gc.scan(step, x, length=4)[0])(xs))

    def jtotal(w):
        step = lambda c, _: (c * w + jnp.sin(c), None)
        return jnp.sum(jax.vmap(lambda x: jax.lax.scan(step, x, length=4)[0])(xs))

    f = gc.function(total)
    for w in (0.7, -1.2):
        np.testing.assert_allclose(gc.grad(f)(w), jax.grad(jtotal)(w), rtol=1e-12)
        np.testing.assert_allclose(gc.grad(f, target="numpy")(w), jax.grad(jtotal)(w),
                                   rtol=1e-12)


def test_control_flow_primitives_have_batching_rules():
    from graphc.ir.primitive import HIGHER_ORDER
    assert all(p.batch is not None for p in HIGHER_ORDER.values())


def test_scalar_custom_function_batches_and_array_one_is_refused():
    @gc.custom_jvp
    def softplus(x):
        return gc.log1p(gc.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        return softplus(primals[0]), tangents[0] * gc.sigmoid(primals[0])

    xs = np.linspace(-2.0, 2.0, 5)
    np.testing.assert_allclose(gc.vmap(softplus)(xs), jax.nn.softplus(xs), rtol=1e-14)
    np.testing.assert_allclose(gc.vmap(gc.grad(softplus))(xs), jax.nn.sigmoid(xs),
                               rtol=1e-14)

    @gc.custom_jvp
    def sq(v):
        return gnp.sum(v * v)

    @sq.defjvp
    def _(primals, tangents):
        return sq(primals[0]), 2.0 * gnp.sum(primals[0] * tangents[0])

    with pytest.raises(GraphcError, match="custom_jvp/custom_vjp function of array"):
        gc.vmap(sq)(np.ones((3, 2)))
