"""Least-squares fit of the lectures' cubic y = 2x³ − 3x² − x by gradient descent.

Noisy samples ``y = 2x³ − 3x² − x + ε`` (x uniform on [−1, 2], ε ~ N(0, 0.1²)) are
fitted with ``p(x) = c0 + c1·x + c2·x² + c3·x³`` by minimising the mean squared error::

    loss = mse(c0 + c1*x + c2*x^2 + c3*x^3, y)      # x, y: arrays of shape (N,)

whose gradient with respect to the four scalar coefficients graphc compiles. Gradient
descent with step 1/L (L: the largest eigenvalue of the Hessian (2/N)·VᵀV, V the
Vandermonde matrix) converges to the least-squares solution, which the normal equations
VᵀV c = Vᵀy give in closed form (solved here with NumPy, ground truth graphc did not
compute).

Run: ``python examples/polyfit.py [--plot polyfit_loss.png]`` (``--plot``: the loss
against the gradient-descent step, a PNG through matplotlib; default
``polyfit_loss.png``, ``--plot ''`` for none).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402

TRUE = np.array([0.0, -1.0, -3.0, 2.0])  # c0..c3 of 2x³ − 3x² − x


def samples(n: int = 200, noise: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 2.0, n)
    return x, np.polyval(TRUE[::-1], x) + rng.normal(0.0, noise, n)


def normal_equations(x, y) -> np.ndarray:
    V = np.vander(x, 4, increasing=True)
    return np.linalg.solve(V.T @ V, V.T @ y)


def fit(x, y, tol: float = 1e-10, max_steps: int = 500_000, losses: list | None = None):
    """Gradient descent from zero; returns (coefficients, steps, final loss). When
    ``losses`` is a list, the loss before each step is appended to it."""
    f = gc.parse("mse(c0 + c1*x + c2*x^2 + c3*x^3, y)", x=("N",), y=("N",))
    step = gc.compile(gc.value_and_grad(f, wrt=["c0", "c1", "c2", "c3"]))
    V = np.vander(x, 4, increasing=True)
    L = np.linalg.eigvalsh(2.0 / len(x) * V.T @ V).max()
    c = np.zeros(4)
    for k in range(1, max_steps + 1):
        loss, g = step(c0=c[0], c1=c[1], c2=c[2], c3=c[3], x=x, y=y)
        g = np.array(g)
        if losses is not None:
            losses.append(float(loss))
        c = c - g / L
        if np.linalg.norm(g) < tol:
            break
    return c, k, float(loss)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--samples", type=int, default=200, help="number of samples")
    ap.add_argument("--plot", metavar="PATH", default="polyfit_loss.png",
                    help="PNG of the loss curve (default polyfit_loss.png; '' for none)")
    args = ap.parse_args(argv)
    x, y = samples(args.samples)
    losses: list[float] = []
    c, steps, loss = fit(x, y, losses=losses)
    exact = normal_equations(x, y)
    print(f"gradient descent ({steps} steps, loss {loss:.6f}): "
          + ", ".join(f"c{i} = {v:+.6f}" for i, v in enumerate(c)))
    print("normal equations:                 "
          + ", ".join(f"c{i} = {v:+.6f}" for i, v in enumerate(exact)))
    print("true cubic:                       "
          + ", ".join(f"c{i} = {v:+.6f}" for i, v in enumerate(TRUE)))
    err = np.max(np.abs(c - exact))
    print(f"max |GD - normal equations| = {err:.2e}")
    if args.plot:
        from training_curves import save_or_explain
        floor = float(np.mean((np.vander(x, 4, increasing=True) @ exact - y) ** 2))
        save_or_explain({"gradient descent": losses,
                         "least-squares minimum": [floor] * len(losses)}, args.plot,
                        f"cubic fit to {len(x)} samples: mean squared error",
                        styles={"least-squares minimum": {"linestyle": "--",
                                                          "color": "gray"}})
    return 0 if err < 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
