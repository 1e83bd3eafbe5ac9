"""GradBench ``llsq``: a linear least-squares objective and its gradient (graphc AD).

Input: ``{"x": [m floats], "n": int, "min_runs", "min_seconds"}``. With ``t_i = -1 +
2i/(n-1)`` (``i = 0..n-1``), the objective is (GradBench's ``llsq`` eval)::

    f(x) = ½ Σ_i (sign(t_i) - Σ_j x_j t_i^j)²

Written over arrays as GradBench's JAX tool writes it: the powers ``t_i^j`` are running
products (``cumprod`` of ``t_i`` along the row, after a leading 1), not ``pow`` calls;
``t`` (``n``) is data computed from ``n`` with NumPy (no derivative), and the gradient is
graphc's reverse mode with respect to ``x``. ``cumprod`` is a loop along the row
(:func:`graphc.numpy.cumprod`), so kernels are compiled per ``(n, m)``. Written with
``pow(t, J)`` over an ``(n, m)`` matrix (an earlier version) the gradient at n=4096,
m=128 took 5.6 ms against 2.35 ms this way (JAX's tool: 2.2 ms).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc
import graphc.numpy as gnp


def objective(x, t):
    """``½ Σ_i (sign(t_i) - Σ_j x_j t_i^j)²`` for graph values ``x`` (m,) and ``t``
    (n,) of concrete shapes."""
    n, m = t.shape[0], x.shape[0]
    powers = gnp.cumprod(gnp.broadcast_to(t[:, None], (n, m - 1)), axis=1)
    muls = gnp.concatenate([np.ones((n, 1)), powers], axis=1) if m > 1 else np.ones((n, 1))
    r = gnp.sign(t) - gnp.sum(x * muls, axis=1)
    return gnp.sum(r * r) / 2


@lru_cache(maxsize=None)
def kernels(n: int, m: int):
    """``(primal, gradient)`` kernels over ``x`` (m,) and ``t`` (n,)."""
    f = gc.function(objective, shapes={"x": (m,), "t": (n,)})
    return gc.compile(f), gc.compile(gc.grad(f, argnums=0))


def _inputs(input):
    x = np.asarray(input["x"], dtype=np.float64)
    n = int(input["n"])
    t = -1.0 + np.arange(n, dtype=np.float64) * 2.0 / (n - 1.0)
    return x, t


def primal(input):
    """The objective (a float)."""
    x, t = _inputs(input)
    k = kernels(t.size, x.size)[0]
    return (lambda: k(x, t)), float


def gradient(input):
    """``∂f/∂x`` (a list of ``m`` floats), by reverse mode."""
    x, t = _inputs(input)
    k = kernels(t.size, x.size)[1]
    return (lambda: k(x, t)), lambda g: np.asarray(g).tolist()


FUNCTIONS = {"primal": primal, "gradient": gradient}
