"""Control flow (issue 14): gc.scan, gc.fori_loop, gc.while_loop, gc.cond, gc.switch.

Ground truth from outside graphc: the same loops run in NumPy, central finite
differences, and JAX (jax.lax.scan / while_loop / cond under jax.grad and jax.jvp).
The scan tables are generated from the primitive registry: every smooth unary
elementwise primitive that NumPy and jax.numpy also have appears in a scan body;
the cond table takes every ``unbounded`` unary primitive at a point where it is not
finite, in the branch not taken.
"""

from __future__ import annotations

import functools
import pickle
import tracemalloc

import numpy as np
import pytest

import graphc as gc
from graphc.frontend.tracer import trace
from graphc.ir import PRIMITIVES, Graph, GraphcError, ShapeError, ops
from graphc.ir.primitive import HIGHER_ORDER
from graphc.ir import control_flow as cf
from graphc.ir.errors import LoweringError, NotDifferentiableError
from graphc.passes import loops

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

DTYPES = ("float64", "float32")
NP = {"float64": np.float64, "float32": np.float32}
TOL = {"float64": 1e-9, "float32": 2e-4}

SMOOTH = [p for p in PRIMITIVES.values() if p.elementwise and p.arity == 1 and p.smooth
          and p.differentiable and not p.param_names and hasattr(np, p.name)
          and hasattr(jnp, p.name)]
UNBOUNDED = [p for p in PRIMITIVES.values() if p.elementwise and p.arity == 1 and p.unbounded
             and not p.param_names and hasattr(np, p.name)]


@pytest.fixture(autouse=True)
def _eager_jax():
    """JAX references run eagerly: compiling each short loop with XLA costs more."""
    with jax.disable_jit():
        yield


def _box(prim):
    lo, hi = prim.domain[0]
    return lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)


def _step(fn, lo, hi, lib):
    """The scan body of the generated tests: ``fn`` applied to the per-step input and
    to the carry squashed into ``fn``'s domain, for graphc (lib=gc), NumPy or JAX."""
    def step(c, x, theta):
        u = lo + (hi - lo) * (0.25 + 0.5 / (1 + lib.exp(-c)))
        return 0.5 * c + theta * fn(u) + 0.1 * x, fn(x) * c
    return step


def _graph(prim, dtype, T, checkpoint="auto"):
    lo, hi = _box(prim)
    f = getattr(gc, prim.name, None) or (lambda a: ops_apply(prim, a))
    step = _step(f, lo, hi, gc)
    w = np.linspace(-1, 1, 3 * T).reshape(T, 3).astype(NP[dtype])

    def loss(c0, xs, theta):
        c, ys = gc.scan(lambda c, x: step(c, x, theta), c0, xs, checkpoint=checkpoint)
        return c.sum() + (ys * w).sum()
    return trace(loss, dtype=dtype, shapes={"c0": (3,), "xs": (T, 3)}), w


def ops_apply(prim, a):
    from graphc.ir import apply
    return apply(prim, a)


def _numpy_loss(prim, c0, xs, theta, w, dtype):
    lo, hi = _box(prim)
    fn = getattr(np, prim.name)
    step = _step(fn, NP[dtype](lo), NP[dtype](hi), np)
    c, s = c0.astype(NP[dtype]), NP[dtype](0)
    theta = NP[dtype](theta)
    for t in range(len(xs)):
        c, y = step(c, xs[t].astype(NP[dtype]), theta)
        s = s + (y * w[t]).sum()
    return c.sum() + s


def _jax_loss(prim, w):
    lo, hi = _box(prim)
    step = _step(getattr(jnp, prim.name), lo, hi, jnp)

    def loss(c0, xs, theta):
        c, ys = jax.lax.scan(lambda c, x: step(c, x, theta), c0, xs)
        return c.sum() + (ys * w).sum()
    return loss


@functools.lru_cache(maxsize=None)
def _jax_gradient(name, T):
    """jax.grad of the generated loss at the sample point (float64; eager, which is
    faster than compiling for loops this short)."""
    prim = PRIMITIVES[name]
    c0, xs, theta = _sample(prim, T)
    w = np.linspace(-1, 1, 3 * T).reshape(T, 3)
    with jax.disable_jit():
        return jax.grad(_jax_loss(prim, w), argnums=(0, 1, 2))(
            jnp.asarray(c0), jnp.asarray(xs), jnp.asarray(theta))


def _sample(prim, T, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = _box(prim)
    return rng.uniform(-1, 1, 3), rng.uniform(lo, hi, (T, 3)), 0.3


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim", SMOOTH, ids=lambda p: p.name)
def test_scan_value_and_both_modes_match_numpy_and_jax(prim, dtype):
    """Value vs the NumPy loop; reverse-mode gradient and forward-mode directional
    derivative vs jax.grad of jax.lax.scan (float64; float32 within its precision)."""
    T = 6
    g, w = _graph(prim, dtype, T)
    c0, xs, theta = _sample(prim, T)
    args = dict(c0=c0.astype(NP[dtype]), xs=xs.astype(NP[dtype]), theta=NP[dtype](theta))
    got = gc.evaluate(g, **args)
    want = _numpy_loss(prim, c0, xs, theta, w, dtype)
    assert got.dtype == NP[dtype]
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])
    jg = _jax_gradient(prim.name, T)
    rev = gc.evaluate(gc.grad(g), **args)
    tol = dict(rtol=1e-8 if dtype == "float64" else 2e-3,
               atol=1e-10 if dtype == "float64" else 2e-3)
    for a, b in zip(rev, jg):
        np.testing.assert_allclose(a, np.asarray(b), **tol)
    rng = np.random.default_rng(1)
    dirs = {"c0_dot": rng.normal(size=3), "xs_dot": rng.normal(size=(T, 3)),
            "theta_dot": rng.normal()}
    fwd = gc.evaluate(gc.jvp(g), **args, **{k: NP[dtype](v) if np.ndim(v) == 0 else
                                            v.astype(NP[dtype]) for k, v in dirs.items()})
    want_dot = sum(float(np.sum(np.asarray(b) * d)) for b, d in zip(jg, dirs.values()))
    np.testing.assert_allclose(fwd[1], want_dot, **tol)


@pytest.mark.parametrize("policy", ["sqrt", 1, 2, 3, 5, "recursive", "auto"])
@pytest.mark.parametrize("T", [1, 2, 7, 13, 30])
def test_checkpointing_gives_bit_identical_gradients(policy, T):
    """Every storage policy performs the same operations in the same order as
    store-all: the gradients (and a Hessian-vector product) agree bit for bit."""
    prim = PRIMITIVES["tanh"]
    c0, xs, theta = _sample(prim, T, seed=T)
    args = dict(c0=c0, xs=xs, theta=theta)
    base, _ = _graph(prim, "float64", T, checkpoint="all")
    other, _ = _graph(prim, "float64", T, checkpoint=policy)
    for a, b in zip(gc.evaluate(gc.grad(base), **args), gc.evaluate(gc.grad(other), **args)):
        assert np.array_equal(a, b)
    tangent = dict(c0_dot=np.ones(3), xs_dot=np.zeros((T, 3)), theta_dot=0.5)
    ha = gc.evaluate(gc.jvp(gc.grad(base)), **args, **tangent)
    hb = gc.evaluate(gc.jvp(gc.grad(other)), **args, **tangent)
    for a, b in zip(ha[1], hb[1]):
        assert np.array_equal(a, b)


def _pendulum_numpy(theta0, omega0, b, k, h, T):
    def rhs(s):
        return np.array([s[1], -b * s[1] - k * np.sin(s[0])])
    s = np.array([theta0, omega0])
    for _ in range(T):
        k1 = rhs(s)
        k2 = rhs(s + h / 2 * k1)
        k3 = rhs(s + h / 2 * k2)
        k4 = rhs(s + h * k3)
        s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s[0] ** 2 + 0.5 * s[1] ** 2


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_rk4_damped_pendulum_1000_steps_gradient_vs_finite_differences(mode):
    h, T = 0.01, 1000

    def loss(b, k):
        def step(s, _):
            def rhs(s):
                return (s[1], -b * s[1] - k * gc.sin(s[0]))
            k1 = rhs(s)
            k2 = rhs(tuple(a + h / 2 * d for a, d in zip(s, k1)))
            k3 = rhs(tuple(a + h / 2 * d for a, d in zip(s, k2)))
            k4 = rhs(tuple(a + h * d for a, d in zip(s, k3)))
            return tuple(a + h / 6 * (p + 2 * q + 2 * r + u)
                         for a, p, q, r, u in zip(s, k1, k2, k3, k4)), None
        (th, om), _ = gc.scan(step, (1.0, 0.0), length=T, checkpoint="sqrt")
        return th * th + 0.5 * om * om
    g = trace(loss)
    assert len(g) < 40  # one loop node, not 1000 unrolled steps
    b, k = 0.3, 2.0
    np.testing.assert_allclose(gc.evaluate(g, b=b, k=k),
                               _pendulum_numpy(1.0, 0.0, b, k, h, T), rtol=1e-12)
    eps = 1e-6
    fd = [(_pendulum_numpy(1.0, 0.0, b + eps, k, h, T) -
           _pendulum_numpy(1.0, 0.0, b - eps, k, h, T)) / (2 * eps),
          (_pendulum_numpy(1.0, 0.0, b, k + eps, h, T) -
           _pendulum_numpy(1.0, 0.0, b, k - eps, h, T)) / (2 * eps)]
    J = gc.evaluate(gc.jacobian(g, mode=mode), b=b, k=k)
    np.testing.assert_allclose(np.ravel(J), fd, rtol=1e-6, atol=1e-8)


def _bad_point(prim):
    fn = getattr(np, prim.name)
    with np.errstate(all="ignore"):
        for v in (-2.0, -1.0, 0.0, 1e3, 2.0):
            if not np.isfinite(fn(v)):
                return v
    return None


NAN_CASES = [p for p in UNBOUNDED if _bad_point(p) is not None]


@pytest.mark.parametrize("taken", [True, False])
@pytest.mark.parametrize("prim", NAN_CASES, ids=lambda p: p.name)
def test_cond_untaken_branch_with_nan_does_not_poison_derivatives(prim, taken):
    """``prim`` is non-finite at x in the branch not taken: the value and both modes'
    derivatives are those of the taken branch, x³ (3x²), as jax.lax.cond gives."""
    x0 = _bad_point(prim)
    fn = getattr(gc, prim.name, None) or (lambda a: ops_apply(prim, a))
    safe, bad = (lambda a: a * a * a), (lambda a: fn(a))

    def f(x):
        pred = (x * 0 + 1) if taken else (x * 0)
        return gc.cond(pred, safe, bad, x) if taken else gc.cond(pred, bad, safe, x)
    g = trace(f)
    assert gc.evaluate(g, x=x0) == x0 ** 3
    assert gc.evaluate(gc.grad(g, wrt="x"), x=x0) == 3 * x0 ** 2
    assert gc.evaluate(gc.jvp(g), x=x0, x_dot=1.0)[1] == 3 * x0 ** 2
    jf = jax.grad(lambda x: jax.lax.cond(True, lambda a: a ** 3,
                                         lambda a: getattr(jnp, prim.name)(a), x))
    assert float(jf(x0)) == 3 * x0 ** 2
    # gc.where computes both sides: the non-finite side reaches the value only where
    # selected, and the masked derivative stays finite too (graphc/ir/ops.py, where)
    gw = trace(lambda x: gc.where(x * 0 + 1, safe(x), bad(x)))
    assert np.isfinite(gc.evaluate(gc.grad(gw, wrt="x"), x=x0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_switch_selects_clipped_index_and_differentiates_each_branch(dtype):
    branches = [lambda a, b: a * b, lambda a, b: gc.sin(a) + b, lambda a, b: a - b * b]
    np_branches = [lambda a, b: a * b, lambda a, b: np.sin(a) + b, lambda a, b: a - b * b]
    g = trace(lambda i, a, b: gc.switch(i, branches, a, b), dtype=dtype)
    jg = gc.grad(g, wrt=["a", "b"])
    for i in (-3.0, 0.0, 0.7, 1.0, 2.0, 2.9, 7.0, np.nan):
        k = 0 if np.isnan(i) else int(min(max(np.floor(i), 0), 2))
        got = gc.evaluate(g, i=i, a=0.4, b=1.5)
        np.testing.assert_allclose(got, np_branches[k](NP[dtype](0.4), NP[dtype](1.5)),
                                   rtol=TOL[dtype])
        jax_grad = jax.grad(lambda a, b: jax.lax.switch(k, [
            lambda a, b: a * b, lambda a, b: jnp.sin(a) + b, lambda a, b: a - b * b], a, b),
            argnums=(0, 1))(0.4, 1.5)
        np.testing.assert_allclose(gc.evaluate(jg, i=i, a=0.4, b=1.5), jax_grad,
                                   rtol=TOL[dtype])


def test_while_loop_both_modes_vs_python_loop_and_jax():
    def body(c):
        return (c[0] * 1.1 + gc.sin(c[0]) * c[2], c[1] + 1.0, c[2])

    def f(x, a):
        return gc.while_loop(lambda c: c[1] < 5, body, (x, 0.0, a), max_steps=8)[0]

    def py(x, a):
        c, i = x, 0
        while i < 5:
            c, i = c * 1.1 + np.sin(c) * a, i + 1
        return c
    g = trace(f)
    assert gc.evaluate(g, x=0.3, a=0.7) == pytest.approx(py(0.3, 0.7), rel=1e-14)

    def jf(x, a):
        return jax.lax.while_loop(lambda c: c[1] < 5,
                                  lambda c: (c[0] * 1.1 + jnp.sin(c[0]) * c[2], c[1] + 1.0,
                                             c[2]), (x, 0.0, a))[0]
    _, want = jax.jvp(jf, (0.3, 0.7), (1.0, -0.5))
    got = gc.evaluate(gc.jvp(g), x=0.3, a=0.7, x_dot=1.0, a_dot=-0.5)[1]
    assert got == pytest.approx(float(want), rel=1e-12)
    rev = gc.evaluate(gc.grad(g), x=0.3, a=0.7)
    assert rev[0] * 1.0 + rev[1] * -0.5 == pytest.approx(float(want), rel=1e-12)
    # unbounded: forward mode works, reverse mode names the rule
    g2 = trace(lambda x, a: gc.while_loop(lambda c: c[1] < 5, body, (x, 0.0, a))[0])
    assert gc.evaluate(gc.jvp(g2), x=0.3, a=0.7, x_dot=1.0, a_dot=-0.5)[1] == \
        pytest.approx(float(want), rel=1e-12)
    with pytest.raises(NotDifferentiableError, match="max_steps"):
        gc.grad(g2)
    # max_steps stops the loop (and bounds the reverse sweep)
    g3 = trace(lambda x: gc.while_loop(lambda c: c[1] < 5, lambda c: (c[0] * 2, c[1] + 1),
                                       (x, 0.0), max_steps=3)[0])
    assert gc.evaluate(g3, x=1.0) == 8.0 and gc.evaluate(gc.grad(g3, wrt="x"), x=1.0) == 8.0


def test_fori_loop_static_and_traced_bounds():
    def py(x, n):
        v = x
        for i in range(2, n):
            v = v * 0.9 + i * x
        return v
    g = trace(lambda x: gc.fori_loop(2, 12, lambda i, v: v * 0.9 + i * x, x))
    assert gc.evaluate(g, x=0.5) == pytest.approx(py(0.5, 12), rel=1e-14)
    eps = 1e-6
    fd = (py(0.5 + eps, 12) - py(0.5 - eps, 12)) / (2 * eps)
    assert gc.evaluate(gc.grad(g, wrt="x"), x=0.5) == pytest.approx(fd, rel=1e-8)
    gt = trace(lambda x, n: gc.fori_loop(2.0, n, lambda i, v: v * 0.9 + i * x, x,
                                         max_steps=20))
    assert gc.evaluate(gt, x=0.5, n=12.0) == pytest.approx(py(0.5, 12), rel=1e-14)
    assert gc.evaluate(gc.grad(gt, wrt="x"), x=0.5, n=12.0) == pytest.approx(fd, rel=1e-8)
    # all numbers: runs as Python
    assert gc.fori_loop(0, 3, lambda i, v: v + i, 0) == 3


def test_hessian_of_a_scanned_function_vs_jax():
    def f(x, y):
        c, ys = gc.scan(lambda c, t: (c * gc.sin(c + y) + t * x, c * x), x + 0.5,
                        np.linspace(0, 1, 9))
        return c + ys.sum()

    def jf(v):
        x, y = v
        c, ys = jax.lax.scan(lambda c, t: (c * jnp.sin(c + y) + t * x, c * x), x + 0.5,
                             jnp.linspace(0, 1, 9))
        return c + ys.sum()
    H = np.array(gc.evaluate(gc.hessian(trace(f)), x=0.3, y=-0.2))
    np.testing.assert_allclose(H, jax.hessian(jf)(jnp.array([0.3, -0.2])), rtol=1e-10)


def test_nested_scans_and_reverse():
    def f(x):
        def outer(c, t):
            inner, _ = gc.scan(lambda d, s: (d * 0.9 + gc.sin(s * c), None), c,
                               np.linspace(0, 1, 4))
            return inner + t, inner
        c, ys = gc.scan(outer, x, np.arange(5.0), reverse=True)
        return c + (ys * np.arange(1.0, 6.0)).sum()

    def jf(x):
        def outer(c, t):
            inner, _ = jax.lax.scan(lambda d, s: (d * 0.9 + jnp.sin(s * c), None), c,
                                    jnp.linspace(0, 1, 4))
            return inner + t, inner
        c, ys = jax.lax.scan(outer, x, jnp.arange(5.0), reverse=True)
        return c + (ys * jnp.arange(1.0, 6.0)).sum()
    g = trace(f)
    assert gc.evaluate(g, x=0.4) == pytest.approx(float(jf(0.4)), rel=1e-13)
    assert gc.evaluate(gc.grad(g, wrt="x"), x=0.4) == pytest.approx(
        float(jax.grad(jf)(0.4)), rel=1e-12)
    assert gc.evaluate(gc.grad(gc.grad(g, wrt="x"), wrt="x"), x=0.4) == pytest.approx(
        float(jax.grad(jax.grad(jf))(0.4)), rel=1e-10)


def test_bodies_intern_pickle_verify_and_clean_up():
    def f(x, a):
        return gc.scan(lambda c, _: (c * a * 1.0 + 0.0, None), x, length=4)[0]
    g1, g2 = trace(f), trace(f)
    assert g1.outputs[0] is g2.outputs[0]          # structural body key: one node
    g1.verify()
    h = pickle.loads(pickle.dumps(gc.grad(g1)))
    assert gc.evaluate(h, x=2.0, a=0.5) == gc.evaluate(gc.grad(g1), x=2.0, a=0.5)
    (loop,) = [n for n in g1.operations if cf.is_control(n)]
    before = len(cf.bodies(loop)[0].graph.operations)
    opt = gc.optimize(g1)
    (loop2,) = [n for n in opt.operations if cf.is_control(n)]
    assert len(cf.bodies(loop2)[0].graph.operations) < before  # x*1, +0 gone inside
    assert gc.evaluate(opt, x=2.0, a=0.5) == gc.evaluate(g1, x=2.0, a=0.5)


def test_loop_invariant_hoisting():
    c, k = ops.variable("c"), ops.variable("k")
    body = Graph([c, k], [c * gc.exp(k) + gc.sin(k)])
    x, a = ops.variable("x"), ops.variable("a")
    g = Graph([x, a], cf.scan_node(body, [x], [], [a], 6))
    h = loops.hoist_invariants(g)
    (loop,) = [n for n in h.operations if cf.is_control(n)]
    assert [n.prim.name for n in cf.bodies(loop)[0].graph.operations] == ["mul", "add"]
    assert gc.evaluate(h, x=0.3, a=0.2) == gc.evaluate(g, x=0.3, a=0.2)
    np.testing.assert_allclose(gc.evaluate(gc.grad(h), x=0.3, a=0.2),
                               gc.evaluate(gc.grad(g), x=0.3, a=0.2), rtol=1e-14)


def test_backends_compile_loops_and_cuda_runs_long_loops_per_point():
    def f(x):
        c, ys = gc.scan(lambda c, t: (c * 0.5 + gc.sin(t), c * c), x, np.linspace(0, 1, 5))
        return c + ys.sum() + gc.cond(x > 0, lambda a: a, lambda a: -a, x)
    g = trace(f)
    ref = gc.compile(gc.value_and_grad(g, wrt="x"), target="numpy")(x=0.7)
    got = gc.compile(gc.value_and_grad(g, wrt="x"))(x=0.7)   # LLVM: real loops
    np.testing.assert_allclose(np.array(got, float), np.array(ref, float), rtol=1e-12)
    long = trace(lambda x: gc.scan(lambda c, _: (c * 0.5 + 1.0, None), x,
                                   length=cf.MAX_UNROLL)[0])
    # LLVM emits the loop (no unrolling, no limit); its gradient matches the interpreter
    assert gc.compile(long)(x=1.0) == pytest.approx(2.0)
    assert gc.compile(long, target="numpy")(x=1.0) == pytest.approx(2.0)
    dlong = gc.grad(long, wrt="x")
    assert gc.compile(dlong)(x=1.0) == pytest.approx(
        float(gc.compile(dlong, target="numpy")(x=1.0)), rel=1e-12, abs=1e-300)
    # CUDA runs the loop per point (a Python loop in the kernel source, not unrolled):
    # the kernel of 20,000 steps is the kernel of 5 steps but for the trip count
    from graphc.backends.cuda import render
    short = trace(lambda x: gc.scan(lambda c, _: (c * 0.5 + 1.0, None), x, length=5)[0])
    assert render(long).text == render(short).text.replace("range(5)",
                                                           f"range({cf.MAX_UNROLL})")
    assert render(dlong).text.count("range(") < 20
    # graphs with array inputs are still unrolled by CUDA's array plan: above the limit
    # it refuses with a clear error (and CudaKernel runs them as one thread instead)
    from graphc.backends.cuda import arrays as cuda_arrays
    along = trace(lambda v: gc.scan(lambda c, _: (c * 0.5 + 1.0, None), v,
                                    length=cf.MAX_UNROLL)[0].sum(), shapes={"v": (2,)})
    with pytest.raises(LoweringError, match="unroll.*scalar inputs and outputs"):
        cuda_arrays.specialize(along, {})


def test_clear_errors():
    with pytest.raises(ShapeError, match="carry leaf 0 enters as shape"):
        trace(lambda x: gc.scan(lambda c, _: (c.sum(), None), x, length=3)[0],
              shapes={"x": (2,)})
    with pytest.raises(ShapeError, match="leading axis"):
        trace(lambda x: gc.scan(lambda c, t: (c, None), x, (np.ones(3), np.ones(4)))[0])
    with pytest.raises(ShapeError, match="checkpoint"):
        trace(lambda x: gc.scan(lambda c, _: (c, None), x, length=3, checkpoint="most")[0])
    with pytest.raises(ShapeError, match="same shapes"):
        trace(lambda x: gc.cond(x > 0, lambda a: a, lambda a: a + np.zeros(2), x))
    with pytest.raises(GraphcError, match="gc.where"):
        trace(lambda x: x if x > 0 else -x)


def test_eager_without_graph_values():
    carry, ys = gc.scan(lambda c, t: (c + t, c * t), 0.0, np.arange(4.0))
    assert carry == 6.0 and list(ys) == [0.0, 0.0, 2.0, 9.0]
    assert gc.while_loop(lambda v: v < 10, lambda v: v * 2, 1) == 16
    assert gc.cond(False, lambda a: a, lambda a: -a, 2.0) == -2.0


@pytest.mark.slow
def test_gradient_of_1e5_step_ode_in_sqrt_memory():
    """10⁵ RK4 steps of a 10-dimensional ODE: the "sqrt" policy's gradient matches
    store-all's bit for bit and its peak traced memory is O(√T) carries."""
    T, h = 100_000, 1e-4

    def loss(y0, th):
        def rhs(y):
            return -th * y + 0.1 * gc.sin(y)

        def step(y, _):
            k1 = rhs(y)
            k2 = rhs(y + h / 2 * k1)
            k3 = rhs(y + h / 2 * k2)
            k4 = rhs(y + h * k3)
            return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None
        y, _ = gc.scan(step, y0, length=T, checkpoint="sqrt")
        return (y * y).sum()
    g = trace(loss, shapes={"y0": (10,), "th": (10,)})
    k = gc.compile(gc.grad(g), target="numpy")
    y0, th = np.linspace(0.1, 1, 10), np.linspace(0.5, 1.5, 10)
    tracemalloc.start()
    try:
        gy, gth = k(y0=y0, th=th)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    store_all = T * 10 * 8          # bytes of the carries store-all keeps
    # segments also keep their steps' residuals (measured 1.2 MB of 7.8 MB)
    assert peak < store_all / 4, peak
    # d/dθ of |y(T)|² for y' = -θy + 0.1 sin y, by finite differences on the NumPy loop
    def np_loss(th):
        y = y0.copy()
        for _ in range(T):
            k1 = -th * y + 0.1 * np.sin(y)
            k2 = -th * (y + h / 2 * k1) + 0.1 * np.sin(y + h / 2 * k1)
            k3 = -th * (y + h / 2 * k2) + 0.1 * np.sin(y + h / 2 * k2)
            k4 = -th * (y + h * k3) + 0.1 * np.sin(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return (y * y).sum()
    e = np.zeros(10)
    e[3] = 1e-5
    fd = (np_loss(th + e) - np_loss(th - e)) / 2e-5
    assert gth[3] == pytest.approx(fd, rel=1e-6)


HIGHER_ORDER_CASES = [(p, i) for p in HIGHER_ORDER.values() for i in range(len(p.examples))]


def _central(fn, x, h):
    out = np.zeros_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = h
        out.flat[j] = (fn(x + e) - fn(x - e)) / (2 * h)
    return out


def _example_node(prim, params, arg):
    from graphc.ir import apply
    return apply(prim, arg, **params)


def _body_dtype(params):
    b = next(v for k, v in params.items() if k in ("body", "branches"))
    return (b[0] if isinstance(b, tuple) else b).inputs[0].dtype


@pytest.mark.parametrize("case", HIGHER_ORDER_CASES,
                         ids=[f"{p.name}-{i}" for p, i in HIGHER_ORDER_CASES])
def test_every_higher_order_primitive_value_decomposition_and_both_modes(case):
    """Each example of each record in HIGHER_ORDER (one per dtype; for switch, every
    branch): the loop-as-loop value equals its decompose rule's unrolled graph, and the
    reverse-mode gradient and forward-mode derivative of a weighted sum of the packed
    value match central finite differences of the float64 example."""
    from graphc.passes import decompose
    prim, i = case
    (shape,), params = prim.examples[i]
    dtype = _body_dtype(params)
    params64 = next(p for _, p in prim.examples if _body_dtype(p) == "float64")
    rng = np.random.default_rng(i)
    lo, hi = prim.domain[0]
    node = _example_node(prim, params, ops.variable("a", dtype, shape))
    w = rng.uniform(-1, 1, node.shape)
    g = Graph([ops.variable("a", dtype, shape)], [(node * w.astype(NP[dtype])).sum()])
    x64 = ops.variable("a", "float64", shape)
    g64 = Graph([x64], [(_example_node(prim, params64, x64) * w).sum()])
    assert gc.evaluate(g, a=np.zeros(shape, NP[dtype])).dtype == NP[dtype]
    indices = range(len(params["branches"])) if prim.name == "switch" else [None]
    tol = dict(rtol=1e-6, atol=1e-8) if dtype == "float64" else dict(rtol=1e-3, atol=1e-4)
    for k in indices:
        x = rng.uniform(lo, hi, shape)
        if k is not None:
            x[0] = k + 0.5
        xv = x.astype(NP[dtype])
        val = gc.evaluate(g, a=xv)
        np.testing.assert_allclose(val, gc.evaluate(decompose(g), a=xv), rtol=TOL[dtype])
        x = xv.astype(np.float64)
        fd = _central(lambda v: float(gc.evaluate(g64, a=v)), x, 1e-6)
        if k is not None:
            fd[0] = 0.0                                  # the index: no derivative
        np.testing.assert_allclose(gc.evaluate(gc.grad(g, wrt="a"), a=xv), fd, **tol)
        d = rng.normal(size=shape)
        jv = gc.evaluate(gc.jvp(g), a=xv, a_dot=d.astype(NP[dtype]))[1]
        np.testing.assert_allclose(jv, float(np.sum(fd * d)), **tol)


@pytest.mark.parametrize("x", [2.0, 1.3, 0.9])
def test_while_loop_masked_steps_with_nan_do_not_poison_reverse_mode(x):
    """After the condition fails, the bounded loop's remaining (masked) steps evaluate
    the body at the final carry, where sqrt(c - 0.45) is NaN: the gradient stays that
    of the steps taken (finite differences of the Python loop)."""
    def py(x):
        c, n = x, 0
        while c > 0.5 and n < 12:
            c, n = c - 0.3 + 0.1 * np.sqrt(c - 0.45), n + 1
        return c
    g = trace(lambda x: gc.while_loop(lambda c: c > 0.5,
                                      lambda c: c - 0.3 + 0.1 * gc.sqrt(c - 0.45), x,
                                      max_steps=12))
    assert py(x) < 0.45                                  # the masked steps see a NaN
    assert gc.evaluate(g, x=x) == py(x)
    fd = (py(x + 1e-7) - py(x - 1e-7)) / 2e-7
    assert gc.evaluate(gc.grad(g, wrt="x"), x=x) == pytest.approx(fd, rel=1e-7)
    assert gc.evaluate(gc.jvp(g), x=x, x_dot=1.0)[1] == pytest.approx(fd, rel=1e-7)


def test_python_numbers_in_a_float32_carry_are_weakly_typed():
    """A Python number beside float32 graph values in a loop's carry takes float32 (as
    JAX's weak types do): the body's float32 results then fit the carry, in value and
    in both AD modes. Closed form: x * 1.1^5 after five steps, d/dx = 1.1^5."""
    def by_while(x):
        return gc.while_loop(lambda c: c[1] < 5.0, lambda c: (c[0] * 1.1, c[1] + 1.0),
                             (x, 0.0), max_steps=10)[0]

    def by_scan(x):
        return gc.scan(lambda c, _: ((c[0] * 1.1, c[1] + 1.0), None), (x, 0.0),
                       length=5)[0][0]

    for f in (by_while, by_scan):
        F = gc.function(f, dtype="float32")
        assert all(n.dtype == "float32" for n in F.graph.outputs)
        value = gc.compile(F.graph, target="numpy")(np.float32(2.0))
        assert np.asarray(value).dtype == np.float32
        np.testing.assert_allclose(value, 2.0 * 1.1 ** 5, rtol=1e-6)
        for d in (gc.grad(F), gc.jacfwd(F)):
            np.testing.assert_allclose(d(np.float32(2.0)), 1.1 ** 5, rtol=1e-6)


def test_sqrt_checkpoints_use_equal_segments_when_a_divisor_is_near_sqrt_t():
    """"sqrt" picks a divisor of T within a factor 2 of ceil(sqrt T) when one exists, so
    the gradient graph has the same loops for T = 10^4 and 10^5 (no remainder segment);
    a prime T keeps ceil(sqrt T) and its remainder loops. Gradients stay bit-identical
    to storing every carry."""
    from graphc.passes.loops import _sqrt_segment
    assert [_sqrt_segment(T) for T in (10**4, 10**5, 1000, 99991)] == [100, 250, 25, 317]

    def scans(T, policy="sqrt"):
        f = lambda y0: gc.scan(lambda y, _: (y - 0.001 * gc.sin(y), None), y0,  # noqa: E731
                               length=T, checkpoint=policy)[0]
        g = gc.grad(gc.function(f)).graph
        return sum(n.prim.name == "scan" for n in g.nodes), g

    (a, _), (b, g5), (c, _) = scans(10**4), scans(10**5), scans(99991)
    assert a == b < c
    k_sqrt = gc.compile(g5, target="llvm")
    k_all = gc.compile(scans(10**5, "all")[1], target="llvm")
    assert k_sqrt(0.7) == k_all(0.7)
