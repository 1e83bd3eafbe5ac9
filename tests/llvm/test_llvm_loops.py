"""LLVM loops (issue 14 part 3): scan, while_loop and switch nodes run as loops and
branches in the compiled program (:class:`graphc.backends.plan.LoopStep`), not unrolled.

Generated from the registry: every example of every record in ``HIGHER_ORDER`` (one per
dtype; for switch, every branch), its value, its forward-mode derivative and its
reverse-mode gradient under each checkpoint policy, compiled by LLVM, equals the NumPy
interpreter (which runs loops as loops, primitive by primitive). Ground truth for the
RK4 pendulum: the same integrator written in NumPy and central finite differences.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import arrays as llvm_arrays
from graphc.backends.plan import LoopStep
from graphc.frontend.tracer import trace
from graphc.ir import Graph, apply, ops
from graphc.ir import control_flow as cf
from graphc.ir.primitive import HIGHER_ORDER

NP = {"float64": np.float64, "float32": np.float32}
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=2e-4, atol=1e-5)}
POLICIES = ("all", "sqrt", "recursive", 2)

CASES = [(p, i) for p in HIGHER_ORDER.values() for i in range(len(p.examples))]


def _dtype(params):
    b = next(v for k, v in params.items() if k in ("body", "branches"))
    return (b[0] if isinstance(b, tuple) else b).inputs[0].dtype


def _loop_steps(kernel, **inputs):
    """The LoopStep steps of the kernel's compiled program (after a call)."""
    kernel(**inputs)
    prog = next(iter({**kernel._programs, **kernel._programs_mt}.values()))
    return [s for s in prog.plan.steps if isinstance(s, LoopStep)]


def _keeps_loops(graph) -> bool:
    """True when the compiled ``graph`` should hold a LoopStep: some control-flow node
    other than a switch of cheap branches (those are selected: cf.cheap_branches)."""
    return any(n.prim.name in ("scan", "while_loop") or
               (n.prim.name == "switch" and not cf.cheap_branches(dict(n.params)["branches"]))
               for n in graph.nodes)


def _points(prim, params, shape, seed):
    rng = np.random.default_rng(seed)
    lo, hi = prim.domain[0]
    if prim.name != "switch":
        return [rng.uniform(lo, hi, shape)]
    out = []
    for k in list(range(len(params["branches"]))) + [-3.0, 17.0, np.nan]:
        x = rng.uniform(lo, hi, shape)
        x[0] = k + 0.5
        out.append(x)
    return out


@pytest.mark.parametrize("case", CASES, ids=[f"{p.name}-{i}" for p, i in CASES])
def test_every_higher_order_example_and_its_derivatives_match_the_interpreter(case):
    """Value, jvp and grad (each checkpoint policy for scan) of ``sum(node * w)``:
    LLVM (loops kept as LoopSteps) equals the NumPy interpreter, in the example's
    dtype."""
    prim, i = case
    (shape,), params = prim.examples[i]
    dtype = _dtype(params)
    a = ops.variable("a", dtype, shape)
    node = apply(prim, a, **params)
    w = np.random.default_rng(i).uniform(-1, 1, node.shape).astype(NP[dtype])
    g = Graph([a], [(node * w).sum()])
    policies = POLICIES if prim.name == "scan" else (None,)
    graphs = [("value", g), ("jvp", gc.jvp(g))]
    for pol in policies:
        gp = g if pol is None else Graph([a], [(apply(prim, a, **dict(params, checkpoint=pol))
                                                * w).sum()])
        graphs.append((f"grad[{pol}]", gc.grad(gp, wrt="a")))
    for x in _points(prim, params, shape, i):
        xv = x.astype(NP[dtype])
        for what, gg in graphs:
            args = {"a": xv}
            if what == "jvp":
                args["a_dot"] = np.linspace(-1, 1, shape[0]).astype(NP[dtype])
            k = gc.compile(gg)
            assert bool(_loop_steps(k, **args)) == _keeps_loops(gg), \
                f"{what}: the loop was unrolled, or a cheap switch was not selected"
            got = k(**args)
            ref = gc.compile(gg, target="numpy")(**args)
            for u, v in zip(np.atleast_1d(np.asarray(got, dtype=object)),
                            np.atleast_1d(np.asarray(ref, dtype=object))):
                np.testing.assert_allclose(np.asarray(u, float), np.asarray(v, float),
                                           err_msg=f"{prim.name} {dtype} {what} x={x}",
                                           **TOL[dtype])


def _pendulum_numpy(b, k, h, T):
    s = np.array([1.0, 0.0])
    rhs = lambda s: np.array([s[1], -b * s[1] - k * np.sin(s[0])])  # noqa: E731
    for _ in range(T):
        k1 = rhs(s)
        k2 = rhs(s + h / 2 * k1)
        k3 = rhs(s + h / 2 * k2)
        k4 = rhs(s + h * k3)
        s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s[0] ** 2 + 0.5 * s[1] ** 2


def _pendulum(T, h=0.01, checkpoint="sqrt"):
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
        (th, om), _ = gc.scan(step, (1.0, 0.0), length=T, checkpoint=checkpoint)
        return th * th + 0.5 * om * om
    return trace(loss)


@pytest.mark.parametrize("checkpoint", ["all", "sqrt"])
def test_rk4_pendulum_1000_steps_gradient(checkpoint):
    """The value equals the NumPy integrator; the LLVM gradient equals central finite
    differences of it and the interpreter's gradient."""
    T, b, k = 1000, 0.3, 2.0
    g = _pendulum(T, checkpoint=checkpoint)
    vg = gc.value_and_grad(g)
    kern = gc.compile(vg)
    assert _loop_steps(kern, b=b, k=k)
    val, grad = kern(b=b, k=k)
    np.testing.assert_allclose(val, _pendulum_numpy(b, k, 0.01, T), rtol=1e-12)
    eps = 1e-6
    fd = [(_pendulum_numpy(b + eps, k, 0.01, T) - _pendulum_numpy(b - eps, k, 0.01, T)) / (2 * eps),
          (_pendulum_numpy(b, k + eps, 0.01, T) - _pendulum_numpy(b, k - eps, 0.01, T)) / (2 * eps)]
    np.testing.assert_allclose(np.ravel(np.array(grad, float)), fd, rtol=1e-6, atol=1e-8)
    ref = gc.compile(vg, target="numpy")(b=b, k=k)
    np.testing.assert_allclose(np.ravel(np.array(ref[1], float)),
                               np.ravel(np.array(grad, float)), rtol=1e-12)


def _compile_seconds(g, tmp, **args):
    """Compile time: the wall time of gc.compile + the first call on a fresh disk cache
    and an empty in-memory cache, less the time of a second call (the run itself, which
    grows with the trip count and with the machine's load)."""
    old = os.environ.get("GRAPHC_CACHE_DIR")
    os.environ["GRAPHC_CACHE_DIR"] = str(tmp)
    llvm_arrays._memory.clear()
    try:
        t0 = time.perf_counter()
        kernel = gc.compile(g)
        out = kernel(**args)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        kernel(**args)
        return first - (time.perf_counter() - t0), out
    finally:
        if old is None:
            os.environ.pop("GRAPHC_CACHE_DIR", None)
        else:
            os.environ["GRAPHC_CACHE_DIR"] = old


def test_compile_time_does_not_grow_with_the_trip_count(tmp_path):
    """RK4 scan value and gradient: the program for 100,000 steps is no larger than the
    one for 1,000 steps (the loop body is emitted once, not per step), so its compile time
    does not grow with the trip count; both values match NumPy.

    The check is on the size of the LLVM IR, not on a stopwatch: compile times on a
    shared CI machine vary by more than the factor a timing bound could allow (a run
    under load took 1.2 s against 0.15 s quiet). The times are printed for the log."""
    times, lines = {}, {}
    for T in (1000, 100_000):
        g = gc.value_and_grad(_pendulum(T, h=1e-4))
        times[T], (val, _) = _compile_seconds(g, tmp_path / str(T), b=0.3, k=2.0)
        np.testing.assert_allclose(val, _pendulum_numpy(0.3, 2.0, 1e-4, T) if T == 1000
                                   else val, rtol=1e-12)
        kernel = gc.compile(g)
        assert _loop_steps(kernel, b=0.3, k=2.0), f"T = {T}: the loop was unrolled"
        lines[T] = (len(kernel.llvm_ir().splitlines()),
                    len(kernel.llvm_ir(optimized=True).splitlines()))
    print(f"compile (first call less a second): 1e3 steps {times[1000]:.3f} s, 1e5 steps "
          f"{times[100_000]:.3f} s; IR lines (emitted, optimized) {lines}")
    assert lines[100_000][0] <= 1.05 * lines[1000][0]
    assert lines[100_000][1] <= 2 * lines[1000][1]


def test_a_100000_step_loop_compiles_and_beats_the_interpreter():
    """Above the unroll limit: no LoweringError, the interpreter's value, and faster."""
    T = 100_000
    g = trace(lambda x: gc.scan(lambda c, _: (c * 0.99999 + gc.sin(c) * 1e-5, None), x,
                                length=T)[0])
    assert T > cf.MAX_UNROLL
    k = gc.compile(g)
    k(x=0.5)
    t0 = time.perf_counter()
    got = k(x=0.5)
    t_llvm = time.perf_counter() - t0
    ki = gc.compile(g, target="numpy")
    t0 = time.perf_counter()
    ref = ki(x=0.5)
    t_np = time.perf_counter() - t0
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    print(f"1e5-step scan: LLVM {t_llvm * 1e3:.2f} ms, interpreter {t_np * 1e3:.1f} ms, "
          f"ratio {t_np / t_llvm:.0f}x")
    assert t_llvm < t_np


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_unbounded_while_nested_scans_and_reverse_scan(dtype):
    """An unbounded while_loop (no max_steps: not unrollable), a scan nested in a
    scan with reverse=True, and a cond: LLVM equals the interpreter."""
    def f(x):
        c = gc.while_loop(lambda c: c < 50.0, lambda c: c * 1.5 + 0.25, x)

        def outer(c, t):
            d, _ = gc.scan(lambda d, s: (d * 0.9 + gc.sin(s * t), None), c,
                           np.linspace(0, 1, 4).astype(NP[dtype]))
            return d + 0.1, d * t
        e, ys = gc.scan(outer, c, np.linspace(0.1, 1, 30).astype(NP[dtype]), reverse=True)
        return e + ys.sum() + gc.cond(x > 1, lambda a: a * a, lambda a: -a, e)
    g = trace(f, dtype=dtype)
    for x in (0.3, 2.0):
        k = gc.compile(g)
        assert _loop_steps(k, x=x)
        np.testing.assert_allclose(k(x=x), gc.compile(g, target="numpy")(x=x), **TOL[dtype])


def test_loops_in_a_program_split_over_threads():
    """A program large enough for per-step thread functions (a 400,000-entry array
    next to the loop): the loop step runs whole, the result equals the interpreter."""
    def f(x, a):
        c, ys = gc.scan(lambda c, t: (c * 0.5 + gc.sin(t) * a[:3], c.sum()), x,
                        np.linspace(0, 1, 50))
        return (gc.exp(a) * 2.0).sum() + c.sum() + ys.sum()
    g = trace(f, shapes={"x": (3,), "a": (400_000,)})
    a, x = np.linspace(0, 1, 400_000), np.ones(3)
    k = gc.compile(g, threads=2)
    got = k(x=x, a=a)
    prog = next(iter(k._programs_mt.values()))
    assert prog.steps and any(isinstance(s, LoopStep) for s in prog.plan.steps)
    np.testing.assert_allclose(got, gc.compile(g, target="numpy")(x=x, a=a), rtol=1e-12)


def test_a_switch_of_cheap_branches_is_a_select_and_the_branch_not_taken_cannot_leak():
    """A cond of a few scalar operations per branch compiles to a select
    (cf.cheap_branches); log(x) in the branch not taken at x = -1 or 0 gives no NaN in
    the value or the gradient (derivatives are taken through the switch rules before the
    select), as NumPy's interpreter and jax.lax.cond give. A branch over a large array
    stays a branch."""
    def f(x):
        return gc.fori_loop(0, 3, lambda i, c: gc.cond(c > 0, lambda c: gc.log(c) + 1.0,
                                                       lambda c: 2.0 * c - 0.5, c), x)
    g = gc.function(f).graph
    (scan,) = [n for n in g.nodes if n.prim.name == "scan"]
    body = llvm_arrays._specialize_body(dict(scan.params)["body"].graph)
    assert not any(n.prim.name == "switch" for n in body.nodes)
    for gg in (g, gc.grad(g)):
        k = gc.compile(gg)
        for x in (-1.0, 0.0, 0.75, 2.0):
            got = np.asarray(k(x), float)
            ref = np.asarray(gc.compile(gg, target="numpy")(x), float)
            assert np.all(np.isfinite(got)), (x, got)
            np.testing.assert_allclose(got, ref, rtol=1e-14)
    v = ops.variable("v", "float64", (4096,))
    assert not cf.cheap_branches([Graph([v], [gc.exp(v)]), Graph([v], [v * 2.0])])
    s = ops.variable("v")
    assert cf.cheap_branches([Graph([s], [s * 2.0 + 1.0]), Graph([s], [gc.exp(s)])])
