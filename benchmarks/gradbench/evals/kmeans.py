"""GradBench ``kmeans``: the k-means ``cost`` and one Newton ``dir`` (graphc AD).

Input: ``{"points": n×d, "centroids": k×d, "min_runs", "min_seconds"}``.

* ``cost = Σ_i min_j ‖p_i - c_j‖²`` with the distances expanded as GradBench's JAX tool
  does (``‖p‖² + ‖c‖² - 2 c·p``);
* ``dir = J / H``: ``J = ∂cost/∂C`` (reverse mode) and ``H`` the Hessian-vector
  product of the cost with the all-ones direction, i.e. forward mode over reverse mode
  (``gc.jvp(gc.grad(f), seed={"C": 1})``), which is the Hessian's diagonal here since
  the Hessian is block-diagonal per centroid with diagonal blocks ``2·count·I``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc

SOURCE = """
a = sum(P^2, axis=1)
b = sum(C^2, axis=1, keepdims=True)
d = a + b - 2 * (C @ transpose(P))
cost = sum(min(d, axis=0))
"""


@lru_cache(maxsize=None)
def kernels():
    """``(cost, (J, H))`` kernels over ``P`` (n, d) and ``C`` (k, d)."""
    f = gc.parse(SOURCE, P=("n", "d"), C=("k", "d"))
    hvp = gc.jvp(gc.grad(f, wrt="C"), wrt="C", seed={"C": 1.0})
    return gc.compile(f), gc.compile(hvp)


def _inputs(input):
    return (np.asarray(input["points"], dtype=np.float64),
            np.asarray(input["centroids"], dtype=np.float64))


def cost(input):
    """The k-means cost (a float)."""
    k = kernels()[0]
    P, C = _inputs(input)
    return (lambda: k(P=P, C=C)), float


def dir(input):  # noqa: A001 - GradBench's name
    """The Newton direction ``J / H`` (a k×d list)."""
    k = kernels()[1]
    P, C = _inputs(input)

    def run():
        J, H = k(P=P, C=C)
        return J / H
    return run, lambda r: np.asarray(r).tolist()


FUNCTIONS = {"cost": cost, "dir": dir}
