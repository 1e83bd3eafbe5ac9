"""NumPy-style arrays in traced functions (issue 13, part 3): Node operators, indexing,
methods, graphc.numpy, array constants and parser array literals.

Ground truth is NumPy (values, the exact gradient of linear maps) and the parse-string
frontend; tables are generated from the primitive registry."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import graphc as gc
import graphc.numpy as gnp
from graphc.frontend.tracer import trace
from graphc.ir import ops
from graphc.ir.array_ops import parse_index
from graphc.ir.numpy_dispatch import MAX_ARRAY_CONSTANT, array_constant
from graphc.ir.primitive import PRIMITIVES, apply
from helpers import integer_arguments

_py_max, _py_min, _py_sum = builtins.max, builtins.min, builtins.sum
DTYPES = ("float64", "float32")
RTOL = {"float64": 1e-12, "float32": 2e-5}
NP = {"float64": np.float64, "float32": np.float32}
ARRAY_PRIMS = [p for p in PRIMITIVES.values() if not p.elementwise and p.examples]
EXAMPLES = [(p.name, i) for p in ARRAY_PRIMS for i in range(len(p.examples))]
ELEMENTWISE_NAMES = sorted(n for n, p in gnp.NAMES.items()
                           if PRIMITIVES[p].elementwise and not PRIMITIVES[p].param_names)


def _inputs(prim, shapes, params, dtype, rng):
    """Sample arguments in the primitive's domain (at most [-2, 2]); integer arguments
    (labels, indices) from their valid range (the record's ``integer_args``)."""
    out = []
    ints = integer_arguments(prim, shapes, params)
    for k, (shape, (lo, hi)) in enumerate(zip(shapes, prim.domain)):
        if k in ints:
            out.append(rng.integers(*ints[k], size=shape).astype(NP[dtype]))
        else:
            out.append(rng.uniform(_py_max(lo, -2.0), _py_min(hi, 2.0), shape).astype(NP[dtype]))
    return out


def _gnp_names(prim_name):
    return sorted(n for n, p in gnp.NAMES.items() if p == prim_name)


def test_every_array_primitive_has_a_gnp_name():
    missing = [p.name for p in ARRAY_PRIMS if not _gnp_names(p.name)]
    assert not missing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim_name,i", EXAMPLES)
def test_gnp_functions_build_the_primitive_and_compute_its_value(prim_name, i, dtype):
    """Every array primitive example through gc.parse, Python indexing (getitem) and
    every gnp name of it (called on nodes and in a traced function): the graph is the
    primitive's node (identical interned node); on arrays the gnp value equals the
    primitive's node evaluated, and NumPy's function of that name where NumPy has one."""
    prim = PRIMITIVES[prim_name]
    shapes, params = prim.examples[i]
    rng = np.random.default_rng(i)
    xs = [ops.variable(f"x{j}", dtype, tuple(s)) for j, s in enumerate(shapes)]
    want = apply(prim, *xs, **params)
    arrays = _inputs(prim, shapes, params, dtype, rng)
    ref = gc.evaluate(gc.ir.Graph(xs, [want]), **{f"x{j}": a for j, a in enumerate(arrays)})
    names = [f"x{j}" for j in range(len(xs))]
    decl = {n: tuple(s) for n, s in zip(names, shapes)}
    if prim_name == "getitem":  # the parser's subscript and Python's x[...] on a node
        text = f"x0[{params['index']}]"
        assert xs[0][parse_index(params["index"])] is want
    elif prim_name != "unslice":  # (no parser form: internal transpose of getitem)
        kw = "".join(f", {k}={v!r}" for k, v in params.items())
        text = f"{prim_name}({', '.join(names)}{kw})"
    if prim_name != "unslice":
        assert gc.parse(text, inputs=names, dtype=dtype, **decl).outputs[0] is want, text
    for name in _gnp_names(prim_name):
        fn = getattr(gnp, name)
        if name == "stack":
            continue  # stack is reshape + concatenate, not one primitive node
        if name == "concatenate":
            call = lambda *a: fn(list(a), **params)  # noqa: E731
        else:
            call = lambda *a: fn(*a, **params)  # noqa: E731
        body = {1: lambda x0: call(x0), 2: lambda x0, x1: call(x0, x1),
                3: lambda x0, x1, x2: call(x0, x1, x2)}[len(xs)]
        traced = trace(body, dtype=dtype, shapes={f"x{j}": tuple(s)
                                                  for j, s in enumerate(shapes)}) \
            if name != "size" else None
        got = call(*xs)
        if name == "size":
            assert got == ref
        else:
            assert got is want and traced.outputs[0] is want, name
        value = call(*arrays)
        np.testing.assert_allclose(value, ref, rtol=RTOL[dtype], err_msg=name)
        np_fn = getattr(np, name, None)
        if np_fn is not None and name not in ("size",) and prim.arity == 1:
            np_params = dict(params)
            if name in ("reshape", "broadcast_to"):
                np_ref = np_fn(arrays[0], np_params["shape"])
            elif name == "transpose":
                np_ref = np_fn(arrays[0], np_params.get("axes"))
            else:
                np_ref = np_fn(arrays[0], **np_params)
            np.testing.assert_allclose(value, np_ref, rtol=RTOL[dtype], err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE_NAMES)
def test_generated_elementwise_names(name, dtype):
    """Every elementwise gnp name (generated from the registry): on graph values the
    primitive's node; on arrays NumPy's ufunc of that name where NumPy has one."""
    prim = PRIMITIVES[gnp.NAMES[name]]
    fn = getattr(gnp, name)
    xs = [ops.variable(f"x{j}", dtype, (3,)) for j in range(prim.arity)]
    assert fn(*xs) is apply(prim, *xs)
    rng = np.random.default_rng(0)
    arrays = _inputs(prim, [(3,)] * prim.arity, {}, dtype, rng)
    value = fn(*arrays)
    ref = gc.evaluate(gc.ir.Graph(xs, [apply(prim, *xs)]),
                      **{f"x{j}": a for j, a in enumerate(arrays)})
    np.testing.assert_allclose(value, ref, rtol=RTOL[dtype])
    ufunc = getattr(np, name, None)
    if isinstance(ufunc, np.ufunc) and ufunc.nin == prim.arity:
        np.testing.assert_allclose(value, ufunc(*arrays), rtol=RTOL[dtype])


# ---------------------------------------------------------------------------------
# Node methods and properties vs NumPy

AXES = [None, 0, -1, (0, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["sum", "mean", "max", "min", "prod"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_methods_match_numpy(method, axis, keepdims, dtype):
    a = np.random.default_rng(1).uniform(0.5, 1.5, (2, 3, 4)).astype(NP[dtype])
    f = gc.function(lambda x: getattr(x, method)(axis=axis, keepdims=keepdims),
                    dtype=dtype, shapes={"x": a.shape})
    want = getattr(a, method)(axis=axis, keepdims=keepdims)
    assert f.graph.outputs[0].shape == want.shape
    np.testing.assert_allclose(f(a), want, rtol=RTOL[dtype])


def test_shape_properties_and_structural_methods():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = ops.variable("x", shape=a.shape)
    assert (x.shape, x.ndim, x.size, len(x)) == (a.shape, a.ndim, a.size, len(a))
    cases = [(x.T, a.T), (x.transpose(), a.transpose()),
             (x.transpose(1, 0, 2), a.transpose(1, 0, 2)),
             (x.transpose((2, 0, 1)), a.transpose((2, 0, 1))), (x.reshape(6, 4), a.reshape(6, 4)),
             (x.reshape((4, -1)), a.reshape((4, -1))), (list(x)[1], list(a)[1])]
    for node, ref in cases:
        np.testing.assert_array_equal(gc.evaluate(gc.ir.Graph([x], [node]), x=a), ref)
    v = ops.variable("v", shape=(3,))
    assert v.T is v
    s = ops.variable("s")
    with pytest.raises(TypeError):
        len(s)
    sym = ops.variable("y", shape=("N",))
    with pytest.raises(gc.ShapeError):
        sym.size


# ---------------------------------------------------------------------------------
# basic indexing (hypothesis) vs NumPy: value and gradient

@st.composite
def basic_index(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    items, axis = [], 0
    use_ellipsis = draw(st.booleans())
    n = draw(st.integers(0, len(shape)))
    for d in shape[:n]:
        kind = draw(st.sampled_from(["int", "slice", "none"]))
        if kind == "none":
            items.append(None)
        if kind == "int":
            items.append(draw(st.integers(-d, d - 1)))
        else:
            bound = st.none() | st.integers(-d - 2, d + 2)
            step = draw(st.none() | st.sampled_from([1, 2, 3, -1, -2]))
            items.append(slice(draw(bound), draw(bound), step))
        axis += 1
    if use_ellipsis:
        items.append(Ellipsis)  # the explicit entries index the leading axes
    if draw(st.booleans()):
        items.append(None)
    index = tuple(items) if len(items) != 1 or draw(st.booleans()) else items[0]
    return shape, index


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=basic_index(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_basic_indexing_matches_numpy_value_and_gradient(case, dtype, seed):
    shape, index = case
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shape).astype(NP[dtype])
    want = a[index]
    if want.size == 0:
        return
    c = rng.normal(size=want.shape).astype(NP[dtype])
    f = gc.function(lambda x: x[index], dtype=dtype, shapes={"x": shape})
    assert f.graph.outputs[0].shape == want.shape
    np.testing.assert_array_equal(f(a), want)
    loss = gc.function(lambda x: (x[index] * c).sum(), dtype=dtype, shapes={"x": shape})
    g = np.zeros_like(a)
    g[index] = c  # the gradient of the linear map sum(x[index] * c) (no repeats)
    (got,) = gc.evaluate(gc.grad(loss.graph), x=a)
    np.testing.assert_allclose(got, g, rtol=RTOL[dtype])


def test_indexing_in_the_llvm_backend():
    a = np.arange(24.0).reshape(2, 3, 4)
    f = gc.function(lambda x: (x[1, ::-1, None, 1:3] ** 2).sum() + x[..., -1].mean(),
                    shapes={"x": a.shape})
    k = gc.compile(gc.value_and_grad(f.graph))
    val, grad = k(x=a)
    assert val == pytest.approx((a[1, ::-1, None, 1:3] ** 2).sum() + a[..., -1].mean())
    np.testing.assert_allclose(grad, gc.evaluate(gc.grad(f.graph), x=a))


@pytest.mark.parametrize("index", [(np.array([0]), np.array([1])), (0, [0, 1]), (True,),
                                   np.array([True, False]), (Ellipsis, Ellipsis), (0, 0, 0),
                                   2.0])
def test_advanced_and_bad_indices_raise_graphc_errors(index):
    x = ops.variable("x", shape=(2, 2))
    with pytest.raises(gc.GraphcError):
        x[index]


# ---------------------------------------------------------------------------------
# array constants (NumPy arrays in traced code, parser literals)

arrays = st.integers(1, 3).flatmap(lambda nd: st.lists(
    st.integers(1, 4), min_size=nd, max_size=nd)).flatmap(lambda shape: st.lists(
        st.sampled_from([0.0, -0.0, 1.0, -2.5, 3.0, 0.1, np.nan]), min_size=int(np.prod(shape)),
        max_size=int(np.prod(shape))).map(lambda v: np.array(v).reshape(shape)))


@settings(max_examples=40, deadline=None)
@given(a=arrays, dtype=st.sampled_from(DTYPES))
def test_numpy_array_constants_in_traced_code(a, dtype):
    x = ops.variable("x", dtype, a.shape)
    c = array_constant(a, dtype)
    assert c.shape == a.shape and c.dtype == dtype
    alone = np.asarray(gc.evaluate(gc.ir.Graph([], [c])))
    np.testing.assert_array_equal(alone, a.astype(NP[dtype]))
    np.testing.assert_array_equal(np.signbit(alone), np.signbit(a))
    xs = np.ones(a.shape, NP[dtype])
    np.testing.assert_array_equal(gc.evaluate(gc.ir.Graph([x], [c + x]), x=xs),
                                  a.astype(NP[dtype]) + xs)
    assert (x + a) is (x + c) and (a + x) is (c + x) and np.multiply(a, x) is c * x
    assert gc.multiply(x, a) is x * c
    assert (x - a.tolist()) is (x - c) and (a.tolist() - x) is (c - x)  # lists as NumPy
    text = repr(a.tolist())
    g = gc.parse(f"x + {text}", x=a.shape, dtype=dtype)
    np.testing.assert_array_equal(gc.evaluate(g, x=xs), a.astype(NP[dtype]) + xs)


def test_array_constant_limits():
    big = np.arange(MAX_ARRAY_CONSTANT + 1.0)
    with pytest.raises(gc.InputError, match="input"):
        array_constant(big)
    assert array_constant(np.ones(10**6)).shape == (10**6,)  # one const node
    with pytest.raises(gc.InputError):
        array_constant(np.array(["a"]))
    for bad in ["[1, [2]]", "[]", "[1 2]", "[[1, 2], [3]]", "[x]", "[1,", "[sin(1)]",
                "[1, -]", "[[1], 2]"]:
        with pytest.raises(gc.ParseError):
            gc.parse(bad)
    g = gc.parse("x * [pi, -e, -inf, +2e1]", x=(4,))
    np.testing.assert_array_equal(gc.evaluate(g, x=np.ones(4)),
                                  [np.pi, -np.e, -np.inf, 20.0])


# ---------------------------------------------------------------------------------
# the 2-layer MLP: Python function vs parse string, value and gradient

MLP_TEXT = "sum((W2 @ tanh(W1 @ x + b1) - y)^2)"
MLP_SHAPES = {"W1": (4, 3), "b1": (4,), "x": (3,), "W2": (2, 4), "y": (2,)}


def mlp(W1, b1, x, W2, y):
    h = gnp.tanh(W1 @ x + b1)
    return gnp.sum((W2 @ h - y) ** 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_written_in_python_equals_the_parse_string(dtype):
    f = gc.function(mlp, dtype=dtype, shapes=MLP_SHAPES)
    g = gc.parse(MLP_TEXT, dtype=dtype, inputs=list(MLP_SHAPES), **MLP_SHAPES)
    assert f.graph.outputs[0] is g.outputs[0]
    rng = np.random.default_rng(3)
    vals = {k: rng.normal(size=s).astype(NP[dtype]) for k, s in MLP_SHAPES.items()}
    gf, gg = gc.grad(f.graph), gc.grad(g)
    assert [n.key for n in gf.outputs] == [n.key for n in gg.outputs]
    for a, b in zip(gc.evaluate(gf, **vals), gc.evaluate(gg, **vals)):
        np.testing.assert_allclose(a, b, rtol=RTOL[dtype])
    k = gc.compile(gc.value_and_grad(f.graph))
    val, grads = k(**vals)
    # forward mode: the tangent along a random direction is <grad, direction>
    direction = tuple(rng.normal(size=s).astype(NP[dtype]) for s in MLP_SHAPES.values())
    _, tangent = gc.jvp(f, tuple(vals.values()), direction)
    assert tangent == pytest.approx(_py_sum(np.sum(a * b) for a, b in zip(grads, direction)),
                                    rel=RTOL[dtype] * 100)
    W1, b1, x, W2, y = (vals[k] for k in MLP_SHAPES)
    assert val == pytest.approx(np.sum((W2 @ np.tanh(W1 @ x + b1) - y) ** 2),
                                rel=RTOL[dtype] * 10)
    # finite differences of the NumPy value in W1 (float64 only: step size)
    if dtype == "float64":
        def loss(w):
            return np.sum((W2 @ np.tanh(w @ x + b1) - y) ** 2)
        fd = np.zeros_like(W1)
        for idx in np.ndindex(W1.shape):
            e = np.zeros_like(W1)
            e[idx] = 1e-6
            fd[idx] = (loss(W1 + e) - loss(W1 - e)) / 2e-6
        np.testing.assert_allclose(grads[0], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_array_constants_compile_with_llvm(dtype):
    c = np.array([[1.0, 2.0, 2.0], [-3.0, 0.5, 0.5]])
    f = gc.function(lambda x: gnp.sum(gnp.tanh(c @ x + np.ones(2)) * np.arange(2.0)),
                    dtype=dtype, shapes={"x": (3,)})
    a = np.array([0.3, -0.2, 0.1], NP[dtype])
    val, (grad,) = gc.compile(gc.value_and_grad(f.graph))(x=a)
    t = np.tanh(c @ a + 1.0)
    assert val == pytest.approx(np.sum(t * np.arange(2.0)), rel=RTOL[dtype] * 10)
    np.testing.assert_allclose(grad, c.T @ ((1 - t ** 2) * np.arange(2.0)),
                               rtol=RTOL[dtype] * 10)
