"""Nonlinear least squares with graphc's Jacobians: ``scipy.optimize.least_squares``.

Two data-fitting problems of the Moré–Garbow–Hillstrom set (MGH 1981, "Testing
unconstrained optimization software", ACM TOMS 7(1):17-41), each a model with a
handful of named scalar parameters fitted to tabulated data:

* **Bard** (MGH #8, also in ``shared/corpus/optim_functions.csv`` as ``mgh08_bard``):
  ``r_i = y_i - (x1 + u_i / (v_i x2 + w_i x3))`` with ``u_i = i``, ``v_i = 16 - i``,
  ``w_i = min(u_i, v_i)``, 15 points; minimum ``sum r² = 8.21487e-3`` at
  (0.08241056, 1.133036, 2.343695).
* **Kowalik–Osborne** (MGH #15, a Michaelis–Menten-type rational model of an enzyme
  reaction): ``r_i = y_i - x1 (u_i² + u_i x2) / (u_i² + u_i x3 + x4)``, 11 points;
  minimum ``sum r² = 3.07505e-4`` at about (0.192807, 0.191282, 0.123057, 0.136062).

How the Jacobian is formed: each residual is written once as a Python function of the
scalar parameters and of one data point (``u, v, w, y``). graphc applies a scalar
graph elementwise over NumPy arrays (broadcast like a ufunc), so calling
``gc.jacfwd(residual, argnums=(0, ..., n-1))`` (or ``gc.jacrev``, ``--mode rev``) with
scalar parameters and the data columns as arrays returns one array per parameter: the
Jacobian's columns ``dr_i/dx_k`` for all points at once. graphc's Jacobians of array
graphs are not supported yet; this "scalar Jacobian over named scalar parameters,
broadcast over the data" is the way to get ``J`` today. No finite differences are
involved.

Each problem is solved from the standard MGH starting point twice with
``least_squares(fun, x0, jac=...)`` (trust-region reflective, tight tolerances): once
with graphc's ``jac``, once with SciPy's own ``jac='2-point'`` finite differences; both
are compared with the published minimum. The script exits with status 1 when a run
misses the published ``sum r²`` by more than 1e-5 relative.

Run::

    pip install '.[examples]'             # SciPy
    python examples/least_squares_fit.py
    python examples/least_squares_fit.py --mode rev --problem bard
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import graphc as gc  # noqa: E402


def bard_residual(x1, x2, x3, u, v, w, y):
    """MGH #8 residual of one data point: ``y - (x1 + u / (v x2 + w x3))``."""
    return y - (x1 + u / (v * x2 + w * x3))


def kowalik_osborne_residual(x1, x2, x3, x4, u, y):
    """MGH #15 residual of one data point: ``y - x1 (u² + u x2) / (u² + u x3 + x4)``."""
    return y - x1 * (u * u + u * x2) / (u * u + u * x3 + x4)


@dataclass(frozen=True)
class Problem:
    """A least-squares problem: ``residual(*params, *data)`` elementwise over the data
    columns ``data`` (1-D float64 arrays of equal length), the MGH start ``x0``, the
    published minimum ``f_min`` of ``sum r²`` and minimizer ``x_min``."""

    name: str
    residual: Callable
    n_params: int
    data: tuple
    x0: tuple
    f_min: float
    x_min: tuple


def _bard_data():
    u = np.arange(1.0, 16.0)
    v = 16.0 - u
    y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73,
                  0.96, 1.34, 2.10, 4.39])
    return (u, v, np.minimum(u, v), y)


def _kowalik_osborne_data():
    u = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])
    y = np.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342,
                  0.0323, 0.0235, 0.0246])
    return (u, y)


PROBLEMS = {
    "bard": Problem("Bard (MGH #8)", bard_residual, 3, _bard_data(), (1.0, 1.0, 1.0),
                    8.21487e-3, (0.08241056, 1.133036, 2.343695)),
    "kowalik_osborne": Problem("Kowalik-Osborne (MGH #15)", kowalik_osborne_residual, 4,
                               _kowalik_osborne_data(), (0.25, 0.39, 0.415, 0.39),
                               3.07505e-4, (0.192807, 0.191282, 0.123057, 0.136062)),
}
"""The problems by name; data, starts and minima as published by MGH (1981)."""


def residuals_and_jacobian(problem: Problem, mode: str = "fwd"):
    """``(fun, jac)`` for ``scipy.optimize.least_squares``: ``fun(x)`` the residual
    vector (m,) and ``jac(x)`` its Jacobian (m, n) for parameters ``x`` (n,), both
    float64 and computed by compiled graphc functions (``gc.function`` of the residual,
    ``gc.jacfwd``/``gc.jacrev`` over the parameters for ``mode`` "fwd"/"rev").

    Raises:
        ValueError: ``mode`` is neither "fwd" nor "rev".
    """
    if mode not in ("fwd", "rev"):
        raise ValueError(f"mode must be 'fwd' or 'rev', not {mode!r}")
    value = gc.function(problem.residual)
    jacobian = (gc.jacfwd if mode == "fwd" else gc.jacrev)(
        problem.residual, argnums=tuple(range(problem.n_params)))
    m = len(problem.data[0])

    def fun(x):
        return np.broadcast_to(np.asarray(value(*map(float, x), *problem.data),
                                          dtype=np.float64), (m,)).copy()

    def jac(x):
        cols = jacobian(*map(float, x), *problem.data)
        return np.column_stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (m,))
                                for c in cols])
    return fun, jac


def solve(problem: Problem, jac="graphc", mode: str = "fwd"):
    """``least_squares`` from ``problem.x0`` with graphc's Jacobian (``jac="graphc"``)
    or any ``jac`` least_squares takes (e.g. ``"2-point"``); tolerances 1e-15. Returns
    SciPy's ``OptimizeResult`` (``x``, ``fun``, ``jac``, ``nfev``, ``njev``...)."""
    from scipy.optimize import least_squares
    fun, graphc_jac = residuals_and_jacobian(problem, mode)
    return least_squares(fun, np.array(problem.x0), jac=graphc_jac if jac == "graphc" else jac,
                         xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=1000)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problem", choices=[*PROBLEMS, "all"], default="all")
    ap.add_argument("--mode", choices=("fwd", "rev"), default="fwd",
                    help="graphc's forward (jacfwd) or reverse (jacrev) mode")
    args = ap.parse_args(argv)
    names = list(PROBLEMS) if args.problem == "all" else [args.problem]
    ok = True
    for name in names:
        p = PROBLEMS[name]
        print(f"{p.name}: {len(p.data[0])} residuals, {p.n_params} parameters, "
              f"published min sum r^2 = {p.f_min:.6g}")
        for label, jac in ((f"graphc jac{args.mode}", "graphc"), ("scipy 2-point", "2-point")):
            r = solve(p, jac, args.mode)
            f = float(r.fun @ r.fun)
            rel = abs(f - p.f_min) / p.f_min
            ok &= rel < 1e-5
            dx = np.max(np.abs(r.x - np.array(p.x_min)) / np.abs(p.x_min))
            print(f"  {label:15s} sum r^2 = {f:.9g} (rel. to published {rel:.1e}), "
                  f"x = {np.array2string(r.x, precision=7)} (max rel. from published "
                  f"{dx:.1e}), {r.nfev} residual + {r.njev or 0} Jacobian evaluations")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
