"""GradBench ``lse``: ``primal(x) = log Σ exp x_i`` and its ``gradient`` (graphc AD).

Input: ``{"x": [n floats], "min_runs", "min_seconds"}``. The function is written as
GradBench's JAX tool writes it, shifting by the maximum (``log Σ exp(x - max x) + max
x``), so graphc differentiates the same formula (the gradient through the max cancels).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc

SOURCE = """
m = max(x)
lse = log(sum(exp(x - m))) + m
"""


@lru_cache(maxsize=None)
def kernels():
    """``(primal, gradient)`` kernels over ``x`` of symbolic length ``n``."""
    f = gc.parse(SOURCE, x=("n",))
    return gc.compile(f), gc.compile(gc.grad(f, wrt="x"))


def _x(input) -> np.ndarray:
    return np.asarray(input["x"], dtype=np.float64)


def primal(input):
    """``log Σ exp x`` (a float)."""
    k, x = kernels()[0], _x(input)
    return (lambda: k(x=x)), float


def gradient(input):
    """``∂ lse / ∂x`` (a list of ``n`` floats), by reverse mode."""
    k, x = kernels()[1], _x(input)
    return (lambda: k(x=x)), lambda g: np.asarray(g).tolist()


FUNCTIONS = {"primal": primal, "gradient": gradient}
