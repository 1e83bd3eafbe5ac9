"""Transformed functions under ``vmap`` and inside traced code, at the shapes they are
given (issue 13, part 5).

* A ``gc.function`` declared with symbolic dimensions (``shapes={"x": ("n",)}``) takes
  graph values of any shape that binds its symbols consistently: it is traced at the
  given shapes (``n = 6`` under ``vmap`` over ``(3, 6)``; ``n = m`` inside a function
  traced with a symbolic ``("m",)``).
* A plain Python callable is traced with scalar inputs and maps elementwise over
  larger graph values when its graph is elementwise; otherwise (slicing, sums) it is
  traced again at the given shapes, as JAX traces.

Ground truth: JAX (``jax.vmap`` of ``jax.grad``/``jvp``/``vjp``, float64) and central
finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

RTOL, ATOL = 1e-12, 1e-13
RNG = np.random.default_rng(13)
X = RNG.uniform(0.5, 1.5, size=(3, 6))
V = RNG.normal(size=(3, 6))


def _close(got, want, rtol=RTOL, atol=ATOL):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.allclose(got, want, rtol=rtol, atol=atol), np.max(np.abs(got - want))


def _slice_sq(x):
    return gnp.sum(x[1:-2] ** 2)


def _slice_sq_jax(x):
    return jnp.sum(x[1:-2] ** 2)


def _mixed(x):
    """Slicing, a reduction and elementwise functions: not an elementwise graph."""
    return gnp.sum(gnp.sin(x[1:]) * x[:-1]) + gnp.sum(x) ** 2 / 4


def _mixed_jax(x):
    return jnp.sum(jnp.sin(x[1:]) * x[:-1]) + jnp.sum(x) ** 2 / 4


# the ways to declare the function: symbolic, concrete, a plain callable
KINDS = {
    "symbolic": lambda fn: gc.function(fn, shapes={"x": ("n",)}),
    "concrete": lambda fn: gc.function(fn, shapes={"x": (6,)}),
    "plain": lambda fn: fn,
}
FUNCS = [(_slice_sq, _slice_sq_jax), (_mixed, _mixed_jax)]


# ---------------------------------------------------------------------------------
# the reproducers of the issue

def test_vmap_grad_of_a_symbolically_shaped_function():
    @gc.function(shapes={"x": ("n",)})
    def f(x):
        return gc.numpy.sum(x[1:-2] ** 2)
    want = jax.vmap(jax.grad(_slice_sq_jax))(X)
    _close(gc.vmap(gc.grad(f))(X), want)
    _close(gc.grad(f)(X[0]), want[0])          # without vmap, as before


def test_vmap_grad_of_a_plain_callable_that_slices():
    def f(x):
        return gc.numpy.sum(x[1:-2] ** 2)
    _close(gc.vmap(gc.grad(f))(X), jax.vmap(jax.grad(_slice_sq_jax))(X))


# ---------------------------------------------------------------------------------
# each transform under vmap

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fns", FUNCS, ids=["slice_sq", "mixed"])
def test_grad_and_value_and_grad(kind, fns):
    f, fj = KINDS[kind](fns[0]), fns[1]
    _close(gc.vmap(gc.grad(f))(X), jax.vmap(jax.grad(fj))(X))
    v, g = gc.vmap(gc.value_and_grad(f))(X)
    vj, gj = jax.vmap(jax.value_and_grad(fj))(X)
    _close(v, vj)
    _close(g, gj)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fns", FUNCS, ids=["slice_sq", "mixed"])
def test_jvp(kind, fns):
    f, fj = KINDS[kind](fns[0]), fns[1]
    yj, tj = jax.vmap(lambda x, v: jax.jvp(fj, (x,), (v,)))(X, V)
    y, t = gc.vmap(lambda x, v: gc.jvp(f, (x,), (v,)))(X, V)      # JAX's call form
    _close(y, yj)
    _close(t, tj)
    y, t = gc.vmap(gc.jvp(f))(X, V)                                # over (x, x_dot)
    _close(y, yj)
    _close(t, tj)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fns", FUNCS, ids=["slice_sq", "mixed"])
def test_vjp(kind, fns):
    f, fj = KINDS[kind](fns[0]), fns[1]
    cot = np.array([0.5, -1.0, 2.0])

    def jax_vjp(x, c):
        y, back = jax.vjp(fj, x)
        return y, back(c)[0]
    yj, gj = jax.vmap(jax_vjp)(X, cot)

    def graphc_vjp(x, c):
        y, back = gc.vjp(f, x)
        return y, back(c).x
    y, g = gc.vmap(graphc_vjp)(X, cot)                             # JAX's call form
    _close(y, yj)
    _close(g, gj)
    y, g = gc.vmap(gc.vjp(f))(X, cot)                              # over (x, y_bar)
    _close(y, yj)
    _close(g.x, gj)


def test_symbolic_shape_against_finite_differences():
    """An independent check of the batched gradient (central differences)."""
    f = gc.function(_mixed, shapes={"x": ("n",)})
    got = gc.vmap(gc.grad(f))(X)
    h = 1e-6
    for b in range(X.shape[0]):
        for i in range(X.shape[1]):
            e = np.zeros(X.shape[1])
            e[i] = h
            fd = (f(X[b] + e) - f(X[b] - e)) / (2 * h)
            assert abs(got[b, i] - fd) < 1e-7


def test_second_order_under_vmap():
    """Hessian-vector products, jvp of grad, per example."""
    f = gc.function(_mixed, shapes={"x": ("n",)})
    got = gc.vmap(lambda x, v: gc.jvp(gc.grad(f), (x,), (v,))[1])(X, V)
    want = jax.vmap(lambda x, v: jax.jvp(jax.grad(_mixed_jax), (x,), (v,))[1])(X, V)
    _close(got, want)
    got = gc.vmap(lambda x, v: gc.jvp(gc.grad(_mixed), (x,), (v,))[1])(X, V)  # plain
    _close(got, want)


def test_several_inputs_binding_one_symbol():
    """Two inputs declared with the same symbol (and a derived dimension), one mapped
    and one shared (in_axes=(0, None))."""
    def fn(x, w):
        return gnp.sum(x[1:] * w) + gnp.sum(x * x)

    def fn_jax(x, w):
        return jnp.sum(x[1:] * w) + jnp.sum(x * x)
    w = RNG.normal(size=5)
    want = jax.vmap(jax.grad(fn_jax, argnums=(0, 1)), in_axes=(0, None))(X, w)
    f = gc.function(fn, shapes={"x": ("n",), "w": ("n-1",)})
    got = gc.vmap(gc.grad(f, argnums=(0, 1)), in_axes=(0, None))(X, w)
    _close(got.x, want[0])
    _close(got.w, want[1])
    got = gc.vmap(gc.grad(fn, argnums=(0, 1)), in_axes=(0, None))(X, w)   # plain
    _close(got.x, want[0])
    _close(got.w, want[1])


def test_symbols_bound_inconsistently_are_an_error():
    f = gc.function(lambda x, y: gnp.sum(x[1:] * y[1:]), shapes={"x": ("n",), "y": ("n",)})
    with pytest.raises(gc.GraphcError, match="dimension n is 6 in input 'x' but 5"):
        gc.vmap(gc.grad(f), in_axes=(0, None))(X, np.ones(5))


def test_a_concrete_shape_that_differs_is_an_error():
    f = gc.function(_slice_sq, shapes={"x": (5,)})
    with pytest.raises(gc.GraphcError, match="elementwise"):
        gc.vmap(gc.grad(f))(X)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fns", FUNCS, ids=["slice_sq", "mixed"])
def test_jacobians_of_arrays_inside_traced_code(kind, fns):
    """jacrev/jacfwd/hessian of array inputs inside traced code (here under vmap) are
    built from jvp/vjp over the basis directions, as JAX builds them: per-example
    (6,) gradients' Jacobians and Hessians of shape (6, 6), whatever way the input is
    declared."""
    f, fj = fns
    f = KINDS[kind](f)
    _close(gc.vmap(gc.hessian(f))(X), jax.vmap(jax.hessian(fj))(X))
    _close(gc.vmap(gc.jacfwd(gc.grad(f)))(X), jax.vmap(jax.jacfwd(jax.grad(fj)))(X))
    _close(gc.vmap(gc.jacrev(gc.grad(f)))(X), jax.vmap(jax.jacrev(jax.grad(fj)))(X))


def test_jacobians_of_scalar_functions_under_vmap():
    """A scalar function's Jacobian maps elementwise over the example's entries."""
    def fn(x):
        return gc.sin(x) * x
    want = jax.vmap(jax.vmap(jax.grad(lambda x: jnp.sin(x) * x)))(X)
    for tr in (gc.jacrev, gc.jacfwd):
        _close(gc.vmap(tr(fn))(X), want)


# ---------------------------------------------------------------------------------
# elementwise functions keep mapping elementwise

def test_elementwise_plain_callable_still_maps_elementwise():
    def fn(x):
        return gc.sin(x) * x
    want = jax.vmap(jax.vmap(jax.grad(lambda x: jnp.sin(x) * x)))(X)
    _close(gc.vmap(gc.grad(fn))(X), want)
    _close(gc.grad(fn)(X), want)                      # NumPy arrays: elementwise kernel
    g = gc.function(lambda x: gnp.sum(gc.grad(fn)(x)), shapes={"x": (6,)})
    _close(g(X[0]), np.sum(want[0]))


# ---------------------------------------------------------------------------------
# inside a traced gc.function

def test_nested_in_a_function_with_a_symbolic_shape():
    """grad of a function declared ("n",) called inside a function traced with
    ("m",): the symbol binds to the other symbol; one kernel for every size."""
    f = gc.function(_mixed, shapes={"x": ("n",)})
    outer = gc.function(lambda xs: gc.grad(f)(xs) * 2.0, shapes={"xs": ("m",)})
    assert outer.graph.outputs[0].shape == ("m",)
    plain = gc.function(lambda xs: gc.grad(_mixed)(xs) * 2.0, shapes={"xs": ("m",)})
    for size in (4, 6, 9):
        x0 = RNG.uniform(size=size)
        want = 2.0 * np.asarray(jax.grad(_mixed_jax)(x0))
        _close(outer(x0), want)
        _close(outer.compile("llvm")(x0), want)
        _close(plain.compile("llvm")(x0), want)


def test_nested_vmap_in_a_traced_function_and_its_gradient():
    """A loss summing per-example gradients, differentiated again (second order)."""
    f = gc.function(_mixed, shapes={"x": ("n",)})

    def loss(xs):
        return gnp.sum(gc.vmap(gc.grad(f))(xs) ** 2)

    def loss_jax(xs):
        return jnp.sum(jax.vmap(jax.grad(_mixed_jax))(xs) ** 2)
    outer = gc.function(loss, shapes={"xs": X.shape})
    _close(outer(X), loss_jax(X))
    _close(gc.grad(outer)(X), jax.grad(loss_jax)(X))
    # the plain callable's gradient inside traced code: traced at the argument's shape
    nested = gc.function(lambda xs: gc.grad(loss)(xs), shapes={"xs": X.shape})
    _close(nested(X), jax.grad(loss_jax)(X))


# ---------------------------------------------------------------------------------
# the hint for an input traced as a scalar

def test_indexing_a_scalar_traced_input_says_how_to_declare_its_shape():
    with pytest.raises(gc.ShapeError, match=r"too many indices.*input 'x' was traced as a "
                                            r"scalar.*shapes=\{'x': \('n',\)\}"):
        _ = gc.function(lambda x: gnp.sum(x[1:])).graph
    with pytest.raises(gc.ShapeError, match="input 'x' was traced as a scalar"):
        _ = gc.function(lambda x, y: x[0] + y, shapes={"y": (2,)}).graph


def test_no_hint_when_the_shape_was_declared():
    """A declared scalar (shapes={'x': ()}), an example of a vmap (traced at its
    declared example shape) and an indexed intermediate value get no hint."""
    for build in (lambda: gc.function(lambda x: x[0], shapes={"x": ()}).graph,
                  lambda: gc.vmap(lambda x: x[0])(np.ones(3)),
                  lambda: gc.function(lambda x: gnp.sum(x)[0], shapes={"x": (3,)}).graph):
        with pytest.raises(gc.ShapeError, match="too many indices") as info:
            build()
        assert "traced as a scalar" not in str(info.value)
