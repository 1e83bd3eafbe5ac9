"""The n-dimensional Rosenbrock function, its gradient and Hessian-vector products.

One line of graphc source for any n (``n`` is a symbolic dimension)::

    f = gc.parse("sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)", x=("n",))

The gradient is reverse mode (``gc.grad``); the Hessian-vector product H·v is forward
mode over it (``gc.jvp(gc.grad(f))``: the directional derivative of the gradient along
v), so no n×n matrix is ever formed. Both are checked against SciPy's hand-written
``rosen_der`` and ``rosen_hess_prod`` at n = 10⁶ (ground truth graphc did not write).

Run: ``python examples/rosenbrock.py [n]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import graphc as gc  # noqa: E402

SOURCE = "sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)"


def kernels():
    """Compiled (value, gradient) and (gradient, H·v) kernels of Rosenbrock."""
    f = gc.parse(SOURCE, x=("n",))
    g = gc.grad(f, "x")
    return gc.compile(gc.value_and_grad(f, "x")), gc.compile(gc.jvp(g, wrt="x"))


def relative_error(got, want) -> float:
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def best_time(fn, repeat: int = 5) -> float:
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    from scipy.optimize import rosen, rosen_der, rosen_hess_prod
    argv = sys.argv[1:] if argv is None else argv
    n = int(float(argv[0])) if argv else 10 ** 6
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, n)
    v = rng.normal(size=n)
    vg, hvp = kernels()
    (f, g), (g2, hv) = vg(x), hvp(x, v)
    errs = {"f": abs(f - rosen(x)) / abs(rosen(x)), "gradient": relative_error(g, rosen_der(x)),
            "H·v": relative_error(hv, rosen_hess_prod(x, v))}
    print(f"n = {n}: f = {f:.10g}")
    for k, e in errs.items():
        print(f"  {k:9s} max relative error vs scipy.optimize: {e:.2e}")
    t_gc = best_time(lambda: vg(x))
    t_sp = best_time(lambda: (rosen(x), rosen_der(x)))
    t_hv = best_time(lambda: hvp(x, v))
    t_sph = best_time(lambda: rosen_hess_prod(x, v))
    print(f"  value+gradient: graphc {t_gc * 1e3:.2f} ms, scipy rosen+rosen_der "
          f"{t_sp * 1e3:.2f} ms; H·v: graphc {t_hv * 1e3:.2f} ms, scipy {t_sph * 1e3:.2f} ms")
    return 0 if max(errs.values()) < 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
