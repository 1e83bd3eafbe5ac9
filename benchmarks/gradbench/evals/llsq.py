"""GradBench ``llsq``: a linear least-squares objective and its gradient (graphc AD).

Input: ``{"x": [m floats], "n": int, "min_runs", "min_seconds"}``. With ``t_i = -1 +
2i/(n-1)`` (``i = 0..n-1``), the objective is (GradBench's ``llsq`` eval)::

    f(x) = ½ Σ_i (sign(t_i) - Σ_j x_j t_i^j)²

Written over arrays: ``t`` is an ``(n, 1)`` column and ``J = [0, 1, ..., m-1]`` a
``(1, m)`` row (both data computed from ``n`` and ``m`` with NumPy, no derivative), so
``pow(t, J)`` is the ``(n, m)`` matrix of powers; the gradient is graphc's reverse mode
with respect to ``x``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc

SOURCE = """
r = sign(t) - sum(x * pow(t, J), axis=1, keepdims=True)
f = sum(r * r) / 2
"""


@lru_cache(maxsize=None)
def kernels():
    """``(primal, gradient)`` kernels over ``x`` (m,), ``t`` (n, 1), ``J`` (1, m)."""
    f = gc.parse(SOURCE, x=("m",), t=("n", 1), J=(1, "m"))
    return gc.compile(f), gc.compile(gc.grad(f, wrt="x"))


def _inputs(input):
    x = np.asarray(input["x"], dtype=np.float64)
    n = int(input["n"])
    t = (-1.0 + np.arange(n, dtype=np.float64) * 2.0 / (n - 1.0)).reshape(n, 1)
    J = np.arange(x.size, dtype=np.float64).reshape(1, x.size)
    return dict(x=x, t=t, J=J)


def primal(input):
    """The objective (a float)."""
    k, args = kernels()[0], _inputs(input)
    return (lambda: k(**args)), float


def gradient(input):
    """``∂f/∂x`` (a list of ``m`` floats), by reverse mode."""
    k, args = kernels()[1], _inputs(input)
    return (lambda: k(**args)), lambda g: np.asarray(g).tolist()


FUNCTIONS = {"primal": primal, "gradient": gradient}
