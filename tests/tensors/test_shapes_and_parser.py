"""Shapes with named dimensions, shape errors, and the parser's array syntax
(``@``, subscripts, ``axis=``/``keepdims=`` literals, reductions beside max/min)."""

import numpy as np
import pytest

import graphc as gc
from graphc.ir import GraphcError, InputError, ParseError, ShapeError, array_ops as A, ops
from graphc.ir.shapes import dim_add, dim_sub, eval_dim, is_array_graph


def test_dimension_algebra():
    assert dim_sub("n", 1) == "n-1"
    assert dim_add("n-1", 1) == "n"
    assert dim_add("n", "m") == "m+n" and dim_add("m", "n") == "m+n"
    assert dim_sub("n", "n") == 0
    assert dim_add(dim_add("n", "n"), -3) == "2*n-3"
    assert eval_dim("2*n-3", {"n": 5}) == 7
    with pytest.raises(ShapeError, match="n"):
        eval_dim("n+1", {})


def test_symbolic_shapes_flow_through_the_ops():
    f = gc.parse("sum(x[1:] - x[:-1], axis=0)", x=("n",))
    assert f.outputs[0].shape == ()
    nodes = {n.op: n.shape for n in f.nodes}
    assert nodes["getitem"] == ("n-1",)
    g = gc.parse("concatenate(x, y, axis=0) @ W", x=("n", 3), y=("m", 3), W=(3, "k"))
    assert g.outputs[0].shape == ("m+n", "k")
    h = gc.parse("reshape(X, (B, 2, 3))", X=("B", 6))
    assert h.outputs[0].shape == ("B", 2, 3)


def test_build_time_shape_errors_name_both_shapes_and_the_op():
    with pytest.raises(ParseError) as e:
        gc.parse("W @ X", W=("H", "D"), X=("E", "B"))
    assert "(H, D)" in str(e.value) and "(E, B)" in str(e.value) and "matmul" in str(e.value)
    with pytest.raises(ParseError, match=r"\(3, 4\).*\(5,\)|broadcast"):
        gc.parse("x + y", x=(3, 4), y=(5,))
    with pytest.raises(ParseError, match="axis 2 is out of range"):
        gc.parse("sum(x, axis=2)", x=(3, 4))
    with pytest.raises(ParseError, match="cannot reshape"):
        gc.parse("reshape(x, (5,))", x=(2, 3))
    with pytest.raises(ShapeError, match="B"):
        A.matmul(ops.variable("a", shape=(2, "B")), ops.variable("b", shape=("C", 2)))


def test_call_time_errors_name_the_input_and_both_shapes():
    f = gc.parse("sum(W @ X)", W=("H", "D"), X=("D", "B"))
    for run in (lambda **kw: gc.evaluate(f, **kw), gc.compile(f)):
        with pytest.raises(InputError, match=r"dimension D is 3 in input 'W'.*4 in input 'X'"):
            run(W=np.ones((2, 3)), X=np.ones((4, 5)))
        with pytest.raises(InputError, match=r"input 'X' has shape \(3,\).*\(D, B\)"):
            run(W=np.ones((2, 3)), X=np.ones(3))
    g = gc.parse("x + y", x=(3,), y=(3,))
    with pytest.raises(InputError, match=r"dimension 0: 4 vs 3"):
        gc.evaluate(g, x=np.ones(4), y=np.ones(3))


def test_call_time_shape_rule_failure_names_the_node():
    f = gc.parse("sum(x[:5])", x=("n",))
    assert gc.evaluate(f, np.arange(7.0)) == 10.0
    for run in (lambda v: gc.evaluate(f, v), gc.compile(f)):
        with pytest.raises(ShapeError, match=r"v1 = v0\[:5\].*n=3"):
            run(np.arange(3.0))


def test_kernels_are_specialised_per_binding():
    f = gc.parse("sum(tanh(x) * y)", x=("n",), y=("n",))
    k = gc.compile(f)
    for n in (1, 7, 64, 7):
        x, y = np.linspace(-1, 1, n), np.linspace(0, 2, n)
        assert k(x, y) == pytest.approx(np.sum(np.tanh(x) * y), rel=1e-14)
    assert sorted(dict(key)["n"] for key in k._programs) == [1, 7, 64]


def test_scalar_graphs_still_map_over_batches():
    g = gc.parse("x * y + 1")
    assert not is_array_graph(g)
    np.testing.assert_array_equal(gc.evaluate(g, np.arange(3.0), 2.0), [1.0, 3.0, 5.0])
    assert is_array_graph(gc.parse("sum(x)"))
    assert is_array_graph(gc.parse("x * 2", x=(3,)))


def test_subscripts_parse_like_numpy():
    x = np.arange(24.0).reshape(4, 6)
    for src, want in [("x[1:]", x[1:]), ("x[:-1]", x[:-1]), ("x[2]", x[2]),
                      ("x[-1, ::2]", x[-1, ::2]), ("x[1:3, 4:]", x[1:3, 4:]),
                      ("-x[0]^2", -x[0] ** 2), ("(x + 1)[1:, 0]", (x + 1)[1:, 0]),
                      ("x[::-1][0]", x[::-1][0]), ("transpose(x)[0]", x.T[0])]:
        np.testing.assert_array_equal(gc.evaluate(gc.parse(src, x=(4, 6)), x), want,
                                      err_msg=src)


@pytest.mark.parametrize("src, where", [
    ("x[1.5]", "not an integer"), ("x[1", "never closed"), ("x[]", "empty index"),
    ("x[a]", "unexpected 'a'"), ("[x]", "in an array literal"), ("x[1:2:3:4]", "at most two"),
    ("x[0, 0, 0]", "3 entries")])
def test_subscript_errors(src, where):
    with pytest.raises(ParseError, match=where):
        gc.parse(src, x=(4, 6))


def test_reductions_and_elementwise_max_min_coexist():
    x = np.array([[1.0, 5.0, 2.0], [4.0, 0.0, 6.0]])
    y = np.full((2, 3), 3.0)
    ev = lambda s: gc.evaluate(gc.parse(s, ["x", "y"], x=(2, 3), y=(2, 3)), x=x, y=y)  # noqa: E731
    assert ev("max(x)") == 6.0 and ev("min(x)") == 0.0
    np.testing.assert_array_equal(ev("max(x, y)"), np.maximum(x, y))
    np.testing.assert_array_equal(ev("max(x, y, 4)"), np.maximum(np.maximum(x, y), 4))
    np.testing.assert_array_equal(ev("max(x, axis=0)"), x.max(axis=0))
    np.testing.assert_array_equal(ev("min(x, axis=-1, keepdims=True)"),
                                  x.min(axis=-1, keepdims=True))
    np.testing.assert_array_equal(ev("sum(x, axis=(0, 1), keepdims=True)"),
                                  x.sum(axis=(0, 1), keepdims=True))
    np.testing.assert_array_equal(ev("mean(x, 1)"), x.mean(axis=1))
    np.testing.assert_array_equal(ev("prod(x + 1, axis=None)"), np.prod(x + 1))
    np.testing.assert_array_equal(ev("stack(x, y, axis=1)"), np.stack([x, y], axis=1))
    np.testing.assert_array_equal(ev("concatenate(x, y, x, axis=1)"),
                                  np.concatenate([x, y, x], axis=1))
    np.testing.assert_array_equal(ev("reshape(x, (3, 2))"), x.reshape(3, 2))
    np.testing.assert_array_equal(ev("transpose(x) @ y"), x.T @ y)
    np.testing.assert_array_equal(ev("dot(x[0], y[1])"), x[0] @ y[1])
    with pytest.raises(ParseError, match="literal"):
        gc.parse("sum((0, 1))", x=(2, 3))
    with pytest.raises(ParseError, match="no parameter"):
        gc.parse("sum(x, axes=0)", x=(2, 3))


def test_printed_programs_parse_back_to_the_same_graph():
    for src, shapes in [("sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)", dict(x=("n",))),
                        ("max(softmax(W @ X, axis=0), axis=1, keepdims=True)",
                         dict(W=(3, 4), X=(4, "B"))),
                        ("logsumexp(reshape(transpose(x, axes=(1, 0, 2)), (B, 6)), axis=1)",
                         dict(x=(2, "B", 3))),
                        ("cross_entropy(z, y, axis=0) + mse(z[0], y)", dict(z=(3, 5), y=(5,)))]:
        g = gc.parse(src, **shapes)
        again = gc.parse(gc.to_source(g), **shapes)
        assert again.outputs[0] is g.outputs[0], gc.to_source(g)


def test_gradient_of_broadcast_sums_over_the_broadcast_axes():
    g = gc.grad(gc.parse("sum(sin(x) * b)", x=(3, 4), b=(4,)), "b")
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(gc.evaluate(g, x=x, b=np.ones(4)), np.sin(x).sum(axis=0))
    g2 = gc.grad(gc.parse("sum(x + c)", x=(2, 3), c=()), "c")
    assert gc.evaluate(g2, x=np.ones((2, 3)), c=1.0) == 6.0


def test_jacobian_and_hessian_refuse_arrays_with_advice():
    f = gc.parse("sum(x^2)", x=(3,))
    with pytest.raises(GraphcError, match="jvp of grad"):
        gc.hessian(f)
    with pytest.raises(GraphcError, match="scalar inputs"):
        gc.jacobian(f)
