"""GradBench ``hello``: ``square(x) = x*x`` and ``double(x) = d square/dx`` (graphc AD)."""

from __future__ import annotations

from functools import lru_cache

import graphc as gc


@lru_cache(maxsize=None)
def kernels():
    """``(square, d square/dx)`` compiled LLVM kernels of scalar float64 ``x``."""
    f = gc.parse("x * x")
    return gc.compile(f), gc.compile(gc.grad(f, wrt="x"))


def square(input):
    """``x*x`` for the JSON number ``input``."""
    k = kernels()[0]
    x = float(input)
    return (lambda: k(x)), float


def double(input):
    """The derivative of ``square`` at ``input`` (``2x``), by reverse mode."""
    k = kernels()[1]
    x = float(input)
    return (lambda: k(x)), float


FUNCTIONS = {"square": square, "double": double}
