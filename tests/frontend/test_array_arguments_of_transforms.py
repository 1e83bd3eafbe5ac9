"""Transforms of plain Python functions called on arrays, at the top level and inside
traced code, against JAX (float64).

A plain callable is traced on scalars and mapped elementwise over arrays only when
that scalar trace is a scalar function (every node 0-d and elementwise); one whose
argument reaches an array op (a sum, a slice, a matrix product, a product with an
array it closes over) is traced at the arguments' shapes, as JAX traces. Two wrong
numbers this guards against (both seen on main before the fix): the Hessian of
``sum(v**3)`` came back as the vector ``6v`` (the scalar trace's ``sum`` is the
identity), and ``grad(lambda v: sum(sin(x) * v))(w)`` inside a traced function,
closing over the traced ``x``, gave the scalar ``sum(sin(x))`` instead of ``sin(x)``.

Jacobians and Hessians of array inputs inside traced code are JAX's construction
(a jvp or vjp whose seed is batched over the basis directions); their values and the
gradients of functions that use them are compared with JAX's.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RNG = np.random.default_rng(7)
X = RNG.uniform(0.4, 1.6, size=5)
W = RNG.normal(size=5)
A = RNG.normal(size=(3, 5))


def _close(got, want):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def _close_tree(got, want):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            _close_tree(g, w)
    else:
        _close(got, want)


# Each array op that an argument can reach, written for graphc (m = graphc.numpy) and
# for JAX (m = jax.numpy): (name, op(m, x) -> array, closes over a NumPy array).
REACH = [
    ("sum", lambda m, x: m.sin(x) * m.sum(x)),
    ("slice", lambda m, x: m.concatenate([x[1:] * x[:-1], x[:1]])),
    ("index", lambda m, x: x * x[2]),
    ("matmul", lambda m, x: m.tanh(A @ x)),
    ("closure", lambda m, x: m.exp(-x) * W),
    ("max", lambda m, x: x * m.max(x)),
    ("mean", lambda m, x: (x - m.mean(x)) ** 2),
    ("prod", lambda m, x: m.log(x) + m.prod(x)),
]


def _scalar(op, m):
    return lambda x: m.sum(op(m, x) ** 2) / 3


def _vector(op, m):
    return lambda x: op(m, x)


TRANSFORMS = {
    "grad": (gc.grad, jax.grad, _scalar),
    "value_and_grad": (gc.value_and_grad, jax.value_and_grad, _scalar),
    "hessian": (gc.hessian, jax.hessian, _scalar),
    "jacfwd": (gc.jacfwd, jax.jacfwd, _vector),
    "jacrev": (gc.jacrev, jax.jacrev, _vector),
}


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("name,op", REACH, ids=[r[0] for r in REACH])
def test_top_level_call_on_an_array(transform, name, op):
    """A transform of a plain function whose argument reaches an array op, called on
    an array: traced at the array's shape, JAX's result and layout."""
    ours, theirs, make = TRANSFORMS[transform]
    _close_tree(ours(make(op, gnp))(X), theirs(make(op, jnp))(jnp.asarray(X)))


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("name,op", REACH, ids=[r[0] for r in REACH])
def test_inside_traced_code_and_its_gradient(transform, name, op):
    """The same transform called inside a traced function on a traced array: the
    values and the gradient of a scalar made from them."""
    ours, theirs, make = TRANSFORMS[transform]

    def reduce(r, m):
        leaves = list(r) if isinstance(r, tuple) else [r]
        return sum(m.sum(leaf * leaf) for leaf in leaves)

    def outer(x):
        return reduce(ours(make(op, gnp))(x), gnp)

    def outer_jax(x):
        return reduce(theirs(make(op, jnp))(x), jnp)

    f = gc.function(outer, shapes={"x": (5,)})
    _close(gc.compile(f.graph)(X), outer_jax(jnp.asarray(X)))
    _close(gc.grad(f)(X), jax.grad(outer_jax)(jnp.asarray(X)))


def test_a_gradient_closing_over_a_traced_array():
    """grad of a function closing over a traced array, on another traced array: the
    gradient has the argument's shape (main gave the scalar sum(sin(x)))."""
    def outer(x, w):
        return gc.grad(lambda v: gnp.sum(gnp.sin(x) * v))(w)
    f = gc.function(outer, shapes={"x": (5,), "w": (5,)})
    _close(gc.compile(f.graph)(X, W), np.sin(X))


def test_hessian_of_a_sum_is_a_matrix():
    _close(gc.hessian(lambda v: gnp.sum(v ** 3))(X), np.diag(6 * X))


def test_elementwise_functions_still_map_elementwise():
    """A scalar function (no array op) maps over arrays: graphc's kernels' meaning,
    documented in docs/jax-users.md (JAX would need vmap)."""
    _close(gc.grad(lambda x: gnp.sin(x) * x)(X), np.cos(X) * X + np.sin(X))
    _close(gc.hessian(lambda x: x ** 3)(X), 6 * X)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0)])
@pytest.mark.parametrize("kind", ["jacfwd", "jacrev", "hessian"])
def test_several_arguments_inside_traced_code(kind, argnums):
    """argnums over two array arguments (nested named tuples for hessian), zero
    blocks included (the function is linear in w)."""
    ours = getattr(gc, kind)
    theirs = getattr(jax, kind)

    def fn(m):
        if kind == "hessian":
            return lambda z, w: m.sum(m.sin(z) * w) * m.sum(z ** 3)
        return lambda z, w: m.sin(z) * m.sum(z * w)

    def flat(r):
        if isinstance(r, (tuple, list)):
            return [leaf for item in r for leaf in flat(item)]
        return [r]

    def outer(x, w):
        return tuple(flat(ours(fn(gnp), argnums=argnums)(x, w)))

    f = gc.function(outer, shapes={"x": (5,), "w": (5,)})
    got = gc.compile(f.graph)(X, W)
    got = list(got) if isinstance(got, tuple) else [got]
    want = flat(theirs(fn(jnp), argnums=argnums)(jnp.asarray(X), jnp.asarray(W)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        _close(g, w)


def test_tuple_outputs_inside_traced_code():
    def fo(m):
        return lambda z: (m.sin(z), m.sum(z) * z[0])

    def outer(x):
        return gc.jacrev(fo(gnp))(x)

    got = gc.compile(gc.function(outer, shapes={"x": (5,)}).graph)(X)
    _close_tree(got, jax.jacrev(fo(jnp))(jnp.asarray(X)))


def test_array_jacobians_still_refuse_a_graph_of_their_own():
    with pytest.raises(gc.GraphcError, match="drawn as a graph of its own"):
        _ = gc.jacrev(gc.function(lambda x: gnp.sin(x), shapes={"x": (3,)})).graph
