"""GradBench ``ode``: ``s`` steps of fourth-order Runge-Kutta on ``y' = f(y)`` from
``y(0) = 0`` to ``t = 2``, ``primal`` (the final state) and ``gradient`` (of its last
component with respect to ``x``, by graphc's reverse mode).

Input: ``{"x": [n floats], "s": int, "min_runs", "min_seconds"}``. The right-hand side
is GradBench's (cmpad's): ``f(y)_0 = x_0``, ``f(y)_i = x_i·y_{i-1}``, i.e.
``concatenate(x[0:1], x[1:] * y[:-1])``. The ``s`` steps are one :func:`graphc.scan`
(as GradBench's JAX tool's ``jax.lax.scan``): its body, one RK4 step, is traced and
compiled once, so compile time does not depend on ``s``; reverse mode runs the
reverse scan of the step's VJP over every stored state (the default checkpointing,
``"all"`` up to 1,024 steps, docs/loops.md: 80 MB at n=100,000, s=100, as JAX's scan
stores; ``"sqrt"`` would store 16 MB, but its nested loop doubled the compile CPU at
s=10, 0.7 s against 0.34 s, and saved little at s=100, 0.9-1.1 s against 1.0-1.3 s).
Kernels are compiled per ``(n, s)`` (loops need concrete shapes).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc
import graphc.numpy as gnp
from graphc.frontend.tracer import trace

TF = 2.0


def rk4(x, s: int):
    """The state ``y(TF)`` after ``s`` RK4 steps, for a graph value ``x`` of shape
    ``(n,)`` (traced: one scan node)."""
    h = TF / s
    x0, xr = x[0:1], x[1:]

    def f(y):
        return gnp.concatenate([x0, xr * y[:-1]])

    def step(y, _):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        return y + h / 6 * (k1 + (2 * k2 + 2 * k3 + k4)), None

    y, _ = gc.scan(step, x * 0.0, length=s)
    return y


def graphs(n: int, s: int):
    """``(primal, gradient)`` graphs for ``x`` of length ``n`` and ``s`` steps: ``y(2)``
    and ``∂y(2)_{n-1}/∂x`` (graphc's reverse mode).

    Raises:
        InputError: ``s < 1`` or ``n < 1``.
    """
    if s < 1:
        raise gc.InputError(f"ode: the number of steps s must be at least 1, got {s}")
    if n < 1:
        raise gc.InputError(f"ode: x must have at least one entry, got {n}")
    primal_graph = trace(lambda x: rk4(x, s), shapes={"x": (n,)})
    last = trace(lambda x: rk4(x, s)[n - 1], shapes={"x": (n,)})
    return primal_graph, gc.grad(last, wrt="x")


@lru_cache(maxsize=None)
def kernels(n: int, s: int):
    """``(primal, gradient)`` LLVM kernels of :func:`graphs` (each compiled on its first
    call)."""
    return tuple(gc.compile(g) for g in graphs(n, s))


def _inputs(input):
    return np.asarray(input["x"], dtype=np.float64).reshape(-1), int(input["s"])


def primal(input):
    """The state ``y(2)`` after ``s`` RK4 steps (a list of ``n`` floats)."""
    x, s = _inputs(input)
    k = kernels(x.size, s)[0]
    return (lambda: k(x=x)), lambda y: np.asarray(y).reshape(-1).tolist()


def gradient(input):
    """``∂y(2)_{n-1}/∂x`` (a list of ``n`` floats), by reverse mode."""
    x, s = _inputs(input)
    k = kernels(x.size, s)[1]
    return (lambda: k(x=x)), lambda g: np.asarray(g).reshape(-1).tolist()


FUNCTIONS = {"primal": primal, "gradient": gradient}
