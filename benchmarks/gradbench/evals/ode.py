"""GradBench ``ode``: ``s`` steps of fourth-order Runge-Kutta on ``y' = f(y)`` from
``y(0) = 0`` to ``t = 2``, ``primal`` (the final state) and ``gradient`` (of its last
component with respect to ``x``, by graphc's reverse mode).

Input: ``{"x": [n floats], "s": int, "min_runs", "min_seconds"}``. The right-hand side
is GradBench's (cmpad's): ``f(y)_0 = x_0``, ``f(y)_i = x_i·y_{i-1}``, i.e.
``concatenate(x[0:1], x[1:] * y[:-1])``. graphc has no loop primitive, so the
``s`` steps are unrolled into a program of ``4s`` stages (written out by a Python loop
below); compile time grows linearly with ``s``. Kernels are compiled per ``s``, over a
symbolic ``n``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc

TF = 2.0


def program(s: int) -> str:
    """The unrolled RK4 program over input ``x``; its last statement is ``y<s>``."""
    h = TF / s
    lines = ["y0 = 0 * x"]

    def f(y: str, out: str) -> None:
        lines.append(f"{out} = concatenate(x[0:1], x[1:] * {y}[:-1])")

    for i in range(s):
        y = f"y{i}"
        f(y, f"k1_{i}")
        lines.append(f"u1_{i} = {y} + {h / 2!r} * k1_{i}")
        f(f"u1_{i}", f"k2_{i}")
        lines.append(f"u2_{i} = {y} + {h / 2!r} * k2_{i}")
        f(f"u2_{i}", f"k3_{i}")
        lines.append(f"u3_{i} = {y} + {h!r} * k3_{i}")
        f(f"u3_{i}", f"k4_{i}")
        lines.append(f"y{i + 1} = {y} + {h / 6!r} * (k1_{i} + (2 * k2_{i} + 2 * k3_{i} + k4_{i}))")
    return "\n".join(lines)


@lru_cache(maxsize=None)
def kernels(s: int):
    """``(primal, gradient)`` kernels for ``s`` steps, ``x`` of symbolic length ``n``."""
    if s < 1:
        raise gc.InputError(f"ode: the number of steps s must be at least 1, got {s}")
    src = program(s)
    primal_graph = gc.parse(src, x=("n",))
    last = gc.parse(src + f"\nlast = y{s}[-1]", x=("n",))
    return gc.compile(primal_graph), gc.compile(gc.grad(last, wrt="x"))


def _inputs(input):
    return np.asarray(input["x"], dtype=np.float64), int(input["s"])


def primal(input):
    """The state ``y(2)`` after ``s`` RK4 steps (a list of ``n`` floats)."""
    x, s = _inputs(input)
    k = kernels(s)[0]
    return (lambda: k(x=x)), lambda y: np.asarray(y).tolist()


def gradient(input):
    """``∂y(2)_{n-1}/∂x`` (a list of ``n`` floats), by reverse mode."""
    x, s = _inputs(input)
    k = kernels(s)[1]
    return (lambda: k(x=x)), lambda g: np.asarray(g).tolist()


FUNCTIONS = {"primal": primal, "gradient": gradient}
