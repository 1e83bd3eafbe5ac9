"""GradBench ``gmm``: the Gaussian-mixture log-posterior ``objective`` and its
``jacobian`` (gradient) with respect to ``alpha``, ``mu``, ``q``, ``l`` (graphc AD).

Input: ``{"d", "k", "n", "x": n×d, "m", "gamma", "alpha": k, "mu": k×d, "q": k×d,
"l": k×(d(d-1)/2), "min_runs", "min_seconds"}``. The formula is GradBench's JAX tool's
(``gmm_objective.py``, after ADBench): with ``Q_k = diag(exp q_k) + L_k`` (``L_k`` strictly
lower triangular, filled column by column from ``l_k``)::

    f = -n·d/2·log 2π + Σ_i logsumexp_k(α_k + Σq_k - ½‖Q_k (x_i - μ_k)‖²)
        - n·logsumexp(α) + Σ_k [½γ²(‖exp q_k‖² + ‖l_k‖²) - m Σq_k]·(-1)
        + k·(n_w·d·log(γ/√2) - log Γ_d(n_w/2)),   n_w = d + m + 1

``L_k`` is ``l_k`` times a constant 0/1 scatter matrix (data built with NumPy), and
``Q_k (x_i - μ_k)`` a broadcast product summed over the last axis, so graphc sees
only ``matmul``, ``reshape``, elementwise ops, ``sum`` and ``logsumexp``. The constant
``log Γ_d`` comes from ``scipy.special.multigammaln``. Kernels are compiled per
``(n, k, d)``. Measured alternatives (d=64, k=100, n=1000): building ``L`` by ``d``
zero-padded column concatenations instead of the scatter matrix took 6-7 s of compile
CPU (a loop nest per piece) against about 1 s, and ``gnp.einsum`` for ``Q_k (x_i - μ_k)``
ran the gradient 2.4× slower than the broadcast product.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

import graphc as gc

WRT = ("alpha", "mu", "q", "l")


@lru_cache(maxsize=4)
def scatter(d: int) -> np.ndarray:
    """The ``(d(d-1)/2, d*d)`` 0/1 matrix ``S`` with ``(l @ S).reshape(d, d)`` the strictly
    lower triangular ``L`` filled column by column (GradBench's order). Cached (the
    objective and the jacobian of one input share it), so read-only."""
    pairs = [(i, j) for j in range(d - 1) for i in range(j + 1, d)]
    S = np.zeros((len(pairs), d * d))
    for p, (i, j) in enumerate(pairs):
        S[p, i * d + j] = 1.0
    S.flags.writeable = False
    return S


@lru_cache(maxsize=None)
def kernels(n: int, k: int, d: int, m: float, gamma: float):
    """``(objective, gradient)`` kernels for these sizes and Wishart parameters."""
    from scipy.special import multigammaln
    nw = d + m + 1
    const = float(-n * d * 0.5 * math.log(2 * math.pi)
             + k * (nw * d * math.log(gamma / math.sqrt(2)) - multigammaln(0.5 * nw, d)))
    source = f"""
Qdiag = exp(q)
sum_qs = sum(q, axis=1)
L = reshape(l @ S, ({k}, {d}, {d}))
xc = reshape(x, ({n}, 1, {d})) - reshape(mu, (1, {k}, {d}))
Lxc = Qdiag * xc + sum(reshape(L, (1, {k}, {d}, {d})) * reshape(xc, ({n}, {k}, 1, {d})), axis=3)
inner = alpha + sum_qs - 0.5 * sum(Lxc ^ 2, axis=2)
prior = sum(0.5 * {gamma!r} * {gamma!r} * (sum(Qdiag ^ 2, axis=1) + sum(l ^ 2, axis=1)) - {m!r} * sum_qs)
f = {const!r} + sum(logsumexp(inner, axis=1)) - {n} * logsumexp(alpha) - prior
"""
    npairs = d * (d - 1) // 2
    f = gc.parse(source, x=(n, d), alpha=(k,), mu=(k, d), q=(k, d), l=(k, npairs),
                 S=(npairs, d * d))
    return gc.compile(f), gc.compile(gc.grad(f, wrt=list(WRT)))


def _inputs(input):
    n, k, d = int(input["n"]), int(input["k"]), int(input["d"])
    args = {name: np.asarray(input[name], dtype=np.float64).reshape(shape)
            for name, shape in (("x", (n, d)), ("alpha", (k,)), ("mu", (k, d)),
                                ("q", (k, d)), ("l", (k, d * (d - 1) // 2)))}
    args["S"] = scatter(d)
    return (n, k, d, float(input["m"]), float(input["gamma"])), args


def objective(input):
    """The log-posterior (a float)."""
    key, args = _inputs(input)
    kern = kernels(*key)[0]
    return (lambda: kern(**args)), float


def jacobian(input):
    """``{"alpha", "mu", "q", "l"}``: the objective's gradient, by reverse mode."""
    key, args = _inputs(input)
    kern = kernels(*key)[1]
    return (lambda: kern(**args)), lambda g: {name: np.asarray(v).tolist()
                                              for name, v in zip(WRT, g)}


FUNCTIONS = {"objective": objective, "jacobian": jacobian}
