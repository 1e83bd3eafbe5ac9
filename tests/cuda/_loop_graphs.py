"""Per-point programs with loops and branches, shared by ``cuda_sim_loop_cases.py``
(run on the simulator) and ``test_cuda_loops.py`` (PTX without a GPU).

Each builder takes a dtype and returns ``(python function, sample points)``; the
points are ``{input: list}`` of equal lengths. Nothing here imports Numba.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
import graphc.numpy as gnp
from graphc.ir import Graph, apply, ops
from graphc.ir import control_flow as cf
from graphc.ir.primitive import HIGHER_ORDER

NP = {"float64": np.float64, "float32": np.float32}


def rk4(steps: int, h: float = 0.05, checkpoint="auto"):
    """``f(x, k)``: ``steps`` RK4 steps of ``y' = -k y + sin(y)`` from ``y = x``."""
    def f(x, k):
        def rhs(y):
            return -k * y + gc.sin(y)

        def step(c, _):
            a = rhs(c)
            b = rhs(c + h / 2 * a)
            d = rhs(c + h / 2 * b)
            e = rhs(c + h * d)
            return c + h / 6 * (a + 2 * b + 2 * d + e), None
        return gc.scan(step, x, length=steps, checkpoint=checkpoint)[0]
    return f


def rk4_numpy(x, k, steps: int, h: float = 0.05):
    """The same integrator in NumPy (the ground truth for :func:`rk4`)."""
    rhs = lambda y: -k * y + np.sin(y)  # noqa: E731
    for _ in range(steps):
        a = rhs(x)
        b = rhs(x + h / 2 * a)
        d = rhs(x + h / 2 * b)
        e = rhs(x + h * d)
        x = x + h / 6 * (a + 2 * b + 2 * d + e)
    return x


def euler_xs(dtype: str):
    """Euler steps over per-step inputs (a forcing), ys stacked and reduced, and a
    reverse scan over them."""
    def f(x, w):
        ts = np.linspace(0.0, 1.0, 6).astype(NP[dtype])
        c, ys = gc.scan(lambda c, t: (c + 0.1 * (gc.cos(w * t) - c ** 2), c * t), x, ts)
        r, zs = gc.scan(lambda c, t: (c * 0.9 + t, c), c, ys, reverse=True)
        return c + ys.sum() + r * zs[1]
    return f, {"x": [0.3, -0.4, 1.1], "w": [1.0, 2.5, -0.5]}


def fori(dtype: str):
    """int bounds: a scan whose carry holds the float64 counter (mixed dtypes in one
    packed vector for float32 graphs)."""
    def f(x, a):
        return gc.fori_loop(0, 7, lambda i, v: v * a + gc.sin(v), x)
    return f, {"x": [0.2, 0.8, -1.0], "a": [0.5, 0.9, 0.3]}


def bounded_while(dtype: str):
    """Points that stop early, that run into max_steps, and that never start."""
    def f(x, r):
        v, s = gc.while_loop(lambda c: c[0] < 5.0, lambda c: (c[0] * r + 0.3, c[1] + c[0]),
                             (x, x * 0.0), max_steps=9)
        return v + 0.5 * s + s ** 3 / (1.0 + v ** 0.5)
    return f, {"x": [0.5, 0.01, 7.0, 1.0], "r": [1.5, 1.01, 2.0, 3.0]}


def branches(dtype: str):
    """cond and a three-way switch: only the branch taken runs (log of a negative
    number never reaches the value or the gradient)."""
    def f(x):
        a = gc.cond(x > 0, lambda u: gc.log(u) * u, lambda u: -u ** -2, x)
        b = gc.switch(x + 1.5, [lambda u: u, lambda u: gc.exp(u), lambda u: gc.sqrt(u)], x)
        return a + b
    return f, {"x": [-2.0, -0.7, 0.3, 0.9, 2.0]}


def vector_carry(dtype: str):
    """An array carry (shape (3,)) updated through views, a reduction and a product with
    a constant matrix; a max per step stacked as ys."""
    M = np.array([[0.9, 0.1, 0.0], [-0.1, 0.8, 0.2], [0.0, 0.3, 0.7]], NP[dtype])

    def f(x, y):
        s0 = gnp.stack([x, y, x * y])

        def step(s, _):
            return M @ gnp.tanh(s) + 0.1 * s[::-1] - 0.05 * gnp.sum(s), gnp.max(s)
        s, m = gc.scan(step, s0, length=5)
        return gnp.sum(s * s) + m.sum()
    return f, {"x": [0.2, -0.5, 1.0], "y": [0.7, 0.3, -1.2]}


PROGRAMS = {"euler_xs": euler_xs, "fori": fori, "bounded_while": bounded_while,
            "branches": branches, "vector_carry": vector_carry}
"""The per-point programs above by name."""

REGISTRY_CASES = [(p, i) for p in HIGHER_ORDER.values() for i in range(len(p.examples))]
"""``(primitive, example number)`` of every control-flow registry example."""


def registry_graph(prim, i: int):
    """Example ``i`` of ``prim`` on a packed operand of scalar inputs ``s0..``, weighted
    and summed to one scalar output: ``(graph, number of inputs, dtype)``."""
    (shape,), params = prim.examples[i]
    b = next(v for k, v in params.items() if k in ("body", "branches"))
    dtype = (b[0] if isinstance(b, tuple) else b).inputs[0].dtype
    xs = [ops.variable(f"s{k}", dtype) for k in range(shape[0])]
    node = apply(prim, cf.pack(xs), **params)
    w = np.random.default_rng(i).uniform(-1, 1, node.shape).astype(NP[dtype])
    return Graph(xs, [(node * w).sum()]), shape[0], dtype
