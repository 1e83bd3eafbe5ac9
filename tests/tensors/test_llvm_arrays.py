"""The LLVM array backend against the NumPy interpreter: fusion (no temporaries for
elementwise chains, reductions fused with their producers), BLAS operands in every
layout, views, zero-size arrays, float32, odd outputs, and random array graphs."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import arrays
from graphc.ir import Graph, array_ops as A, ops


def _schedule(src, sizes=None, **shapes):
    g = gc.optimize(gc.parse(src, **shapes))
    return arrays.Plan(arrays.specialize(g, sizes or {}))


def _check(src, inputs, rtol=1e-13, atol=1e-14, grad=True, **shapes):
    g = gc.parse(src, list(inputs), **shapes)
    vals = [inputs[n] for n in g.input_names]
    np.testing.assert_allclose(gc.compile(g)(*vals), gc.evaluate(g, *vals), rtol=rtol,
                               atol=atol, err_msg=src)
    if grad and g.outputs[0].shape == ():
        vg = gc.value_and_grad(g)
        got, want = gc.compile(vg)(*vals), gc.evaluate(vg, *vals)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"grad of {src}")


def test_elementwise_chain_and_reduction_fuse_into_one_loop_without_temporaries():
    s = _schedule("sum(exp(sin(x) * 2 + 1) / (1 + x^2))", x=(1000,))
    assert len(s.steps) == 1 and s.work_bytes == 0
    loop = s.steps[0]
    assert [o.op for o in loop.outs] == ["sum"]


def test_softmax_shares_passes_over_memory():
    s = _schedule("softmax(x, axis=0)", x=(10, 64))
    loops = [st for st in s.steps if isinstance(st, arrays.LoopNest) and st.shape == (10, 64)]
    # max; exp stored and summed in the same pass; divide
    assert [[o.op for o in st.outs] for st in loops] == [["max"], ["store", "sum"], ["store"]]


def test_rosenbrock_value_is_one_loop():
    s = _schedule("sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)", {"n": 50}, x=("n",))
    assert len(s.steps) == 1 and s.work_bytes == 0


@pytest.mark.parametrize("blas", [True, False])
def test_matmul_operands_in_every_layout(blas, monkeypatch):
    monkeypatch.setattr(arrays, "GEMM_BLAS_MIN", 0)  # these small products: BLAS too
    rng = np.random.default_rng(0)
    A_, B_ = rng.normal(size=(5, 7)), rng.normal(size=(7, 3))
    cases = {
        "A @ B": dict(A=A_, B=B_), "transpose(At) @ B": dict(At=A_.T.copy(), B=B_),
        "A @ transpose(Bt)": dict(A=A_, Bt=B_.T.copy()),
        "transpose(At) @ transpose(Bt)": dict(At=A_.T.copy(), Bt=B_.T.copy()),
        "A[::2] @ B": dict(A=A_, B=B_), "A[1] @ B": dict(A=A_, B=B_),
        "A @ B[:, 1]": dict(A=A_, B=B_), "A[0] @ B[:, 0]": dict(A=A_, B=B_),
        "A @ broadcast_to(v, (7, 3))": dict(A=A_, v=rng.normal(size=(3,))),
        "(A + 1) @ tanh(B)": dict(A=A_, B=B_), "A[:, 2:5] @ B[3:6]": dict(A=A_, B=B_),
    }
    for src, inputs in cases.items():
        g = gc.parse(src, list(inputs), **{k: v.shape for k, v in inputs.items()})
        vals = [inputs[n] for n in g.input_names]
        k = gc.compile(g, blas=blas)
        np.testing.assert_allclose(k(*vals), gc.evaluate(g, *vals), rtol=1e-13,
                                   atol=1e-13, err_msg=src)


def test_views_concatenate_unslice_and_reshape_of_a_transpose():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(4, 6)), rng.normal(size=(4, 2))
    _check("sum(reshape(transpose(x), (3, 8)) * reshape(x, (3, 8)))", dict(x=x), x=(4, 6))
    _check("sum(concatenate(x, exp(y), axis=1) ^ 2)", dict(x=x, y=y), x=(4, 6), y=(4, 2))
    _check("sum(stack(x[0], x[1], x[3], axis=1) * 2)", dict(x=x), x=(4, 6))
    _check("sum((x[1:, ::2] - x[:-1, 1::2]) ^ 2)", dict(x=x), x=(4, 6))
    _check("sum(x[::-1] * x)", dict(x=x), x=(4, 6))
    _check("logsumexp(x, axis=0) * y[0, 0] @ x[0]", dict(x=x, y=y),
           x=(4, 6), y=(4, 2))


def test_reductions_along_every_axis_and_keepdims():
    x = np.random.default_rng(2).normal(size=(3, 4, 5))
    for op in ("sum", "max", "min", "prod", "mean", "logsumexp"):
        for axis in ("0", "1", "2", "(0, 2)", "(1, 2)", "None"):
            for kd in ("False", "True"):
                _check(f"{op}(x, axis={axis}, keepdims={kd})", dict(x=x), grad=False,
                       x=(3, 4, 5))
        _check(f"sum({op}(x, axis=1) ^ 2)", dict(x=x), x=(3, 4, 5))


def test_losses_and_one_hot_in_both_layouts():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, 6).astype(float)
    _check("cross_entropy(z, y)", dict(z=z, y=labels), z=(6, 4), y=(6,))
    _check("cross_entropy(z, y, axis=0)", dict(z=z.T.copy(), y=labels), z=(4, 6), y=(6,))
    _check("cross_entropy(z, p)", dict(z=z, p=rng.random((6, 4))), z=(6, 4), p=(6, 4))
    _check("sum(one_hot(y, z, axis=0) * z)", dict(z=z.T.copy(), y=labels), z=(4, 6), y=(6,))
    _check("mse(z, w)", dict(z=z, w=rng.normal(size=(4,))), z=(6, 4), w=(4,))


def test_zero_size_arrays():
    x = np.zeros((0,))
    assert gc.compile(gc.parse("sum(exp(x))", x=("n",)))(x) == 0.0
    k = gc.compile(gc.parse("A @ B", A=(2, "k"), B=("k", 3)))
    np.testing.assert_array_equal(k(np.ones((2, 0)), np.ones((0, 3))), np.zeros((2, 3)))
    assert gc.compile(gc.parse("x[1:] * 2", x=("n",)))(np.ones(1)).shape == (0,)


def test_float32_graphs():
    rng = np.random.default_rng(4)
    W, X = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=(5, 7)).astype(np.float32)
    g = gc.parse("sum(tanh(W @ X) ^ 2, axis=0)", W=(3, 5), X=(5, "B"), dtype="float32")
    got = gc.compile(g)(W, X)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, gc.evaluate(g, W, X), rtol=2e-6)


def test_outputs_that_are_inputs_views_constants_or_repeated():
    x = ops.variable("x", shape=(2, 3))
    y = ops.variable("y", shape=(3,))
    s = A.sum(x)
    g = Graph([x, y], [x, A.transpose(x), s, s, ops.const(2.0, shape=(3,)), ops.neg(y)])
    xv, yv = np.arange(6.0).reshape(2, 3), np.ones(3)
    got = gc.compile(g)(xv, yv)
    want = gc.evaluate(g, xv, yv)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert got[0] is not xv
    gy = gc.grad(gc.parse("sum(x)", ["x", "y"], x=(2, 3), y=(4,)), ["x", "y"])
    dx, dy = gc.compile(gy)(xv, np.ones(4))
    np.testing.assert_array_equal(dx, np.ones((2, 3)))
    np.testing.assert_array_equal(dy, np.zeros(4))


def _random_array_graph(rng):
    """A random graph over x (4, 6), v (6,), c (4, 1): elementwise ops with
    broadcasting, reductions, views, matmul, softmax; returns a scalar loss."""
    x = ops.variable("x", shape=(4, 6))
    v = ops.variable("v", shape=(6,))
    c = ops.variable("c", shape=(4, 1))
    pool = [x, v, c]
    for _ in range(rng.integers(3, 9)):
        a = pool[rng.integers(len(pool))]
        kind = rng.choice(["unary", "binary", "reduce", "view", "matmul", "softmax"])
        try:
            if kind == "unary":
                f = rng.choice([ops.sin, ops.tanh, ops.exp, ops.sigmoid, ops.neg, ops.abs])
                n = f(a)
            elif kind == "binary":
                b = pool[rng.integers(len(pool))]
                f = rng.choice([ops.add, ops.sub, ops.mul, ops.maximum])
                n = f(a, b)
            elif kind == "reduce" and a.shape:
                f = rng.choice([A.sum, A.amax, A.mean, A.logsumexp])
                n = f(a, axis=int(rng.integers(len(a.shape))), keepdims=bool(rng.integers(2)))
            elif kind == "view" and a.shape:
                n = rng.choice([lambda t: A.transpose(t), lambda t: A.getitem(t, "1:"),
                                lambda t: A.getitem(t, "::-1"),
                                lambda t: A.reshape(t, (-1,))])(a)
            elif kind == "matmul" and len(a.shape) == 2 and a.shape[1] == 6:
                n = A.matmul(a, ops.sin(A.reshape(v, (6, 1))) if rng.integers(2) else v)
            elif kind == "softmax" and a.shape:
                n = A.softmax(a, axis=int(rng.integers(len(a.shape))))
            else:
                continue
        except gc.ShapeError:
            continue
        pool.append(n)
    out = A.sum(ops.mul(pool[-1], pool[-1]))
    return Graph([x, v, c], [out])


@pytest.mark.parametrize("seed", range(40))
def test_random_array_graphs_value_and_gradient(seed):
    rng = np.random.default_rng(seed)
    g = _random_array_graph(rng)
    vals = [rng.normal(size=(4, 6)), rng.normal(size=(6,)), rng.normal(size=(4, 1))]
    vg = gc.value_and_grad(g)
    got, want = gc.compile(vg)(*vals), gc.evaluate(vg, *vals)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(got[1], want[1]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


def test_a_chain_of_concatenates_is_one_copy_per_operand():
    """concatenate is binary, so packing k pieces builds a chain; the links with one
    consumer are written straight into the chain's result (no temporaries), along any
    axis, and a link used elsewhere is still materialised. Values against NumPy."""
    rng = np.random.default_rng(0)
    for axis in (0, 1):
        xs = [ops.variable(f"x{i}", "float64", (3, 2 + i) if axis else (2 + i, 3))
              for i in range(4)]
        chain = xs[0]
        for x in xs[1:]:
            chain = A.concatenate(chain, ops.sin(x), axis=axis)
        g = Graph(xs, [chain * 2.0])
        s = arrays.Plan(arrays.specialize(g, {}))
        assert s.work_bytes > 0 and len(s.inline_concat) == 2
        vals = [rng.uniform(-1, 1, x.shape) for x in xs]
        want = 2 * np.concatenate([vals[0]] + [np.sin(v) for v in vals[1:]], axis=axis)
        np.testing.assert_allclose(gc.compile(g)(*vals), want, rtol=1e-15)
    a, b, c = (ops.variable(n, "float64", (4,)) for n in "abc")
    inner = A.concatenate(a, b)
    g = Graph([a, b, c], [A.concatenate(inner, c), inner * 3.0])
    s = arrays.Plan(arrays.specialize(g, {}))
    assert not s.inline_concat
    vals = [rng.uniform(size=4) for _ in range(3)]
    got = gc.compile(g)(*vals)
    np.testing.assert_array_equal(got[0], np.concatenate(vals))
    np.testing.assert_array_equal(got[1], 3.0 * np.concatenate(vals[:2]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reversed_runs_load_whole_vectors(dtype):
    """np.flip along a contiguous axis reads full SIMD blocks with one load and a lane
    reversal (the tail block lane by lane): every length around the block width, along
    the inner and an outer axis, equals NumPy exactly."""
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 8, 9, 15, 16, 17, 33, 1001):
        x = ops.variable("x", dtype, (3, n))
        g = Graph([x], [A.getitem(x, ":, ::-1") * 2.0, A.getitem(x, "::-1, ::-1") + 1.0])
        xv = rng.uniform(-1, 1, (3, n)).astype(dtype)
        got = gc.compile(g)(xv)
        np.testing.assert_array_equal(got[0], xv[:, ::-1] * np.asarray(2.0, dtype))
        np.testing.assert_array_equal(got[1], xv[::-1, ::-1] + np.asarray(1.0, dtype))
    k = gc.compile(Graph([x], [A.getitem(x, ":, ::-1") * 2.0]))
    assert "shufflevector" in k.llvm_ir()


def test_keyword_calls_agree_with_positional_ones_and_report_bad_names():
    """An array kernel called by keyword (in any order, or mixed with positions) takes
    the positional fast path with the inputs reordered; missing, unknown or repeated
    names go to the general path, which names them."""
    g = gc.parse("sum(W @ x + b)", W=(3, 4), x=(4,), b=(3,))
    k = gc.compile(g)
    W, x, b = np.arange(12.0).reshape(3, 4), np.linspace(-1, 1, 4), np.ones(3)
    args = dict(W=W, x=x, b=b)
    want = gc.evaluate(g, *[args[n] for n in g.input_names])
    for _ in range(2):   # the second call finds the kernel's last binding
        assert k(**args) == want
        assert k(**dict(reversed(list(args.items())))) == want
        first = g.input_names[0]
        rest = {n: args[n] for n in g.input_names[1:]}
        assert k(args[first], **rest) == want
    with pytest.raises(gc.InputError):
        k(W=W, x=x)
    with pytest.raises(gc.GraphcError):
        k(W=W, x=x, b=b, c=b)
    with pytest.raises(gc.GraphcError):
        k(W, W=W, x=x)
