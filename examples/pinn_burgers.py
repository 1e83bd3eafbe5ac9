"""A physics-informed network (PINN) for Burgers' equation, written as a Python function.

Burgers' equation on x in [-1, 1], t in [0, 1] (Raissi, Perdikaris & Karniadakis,
"Physics-informed neural networks", J. Comput. Phys. 378, 2019, section 3.1.1)::

    u_t + u u_x - nu u_xx = 0,   nu = 0.01 / pi,
    u(x, 0) = -sin(pi x),        u(-1, t) = u(1, t) = 0.

The network ``u(x, t)`` is an MLP 2 -> H -> H -> 1 with tanh, evaluated on arrays of N
collocation points at once (:func:`network`: ``x``, ``t`` of shape (N,), hidden
activations (H, N)). The loss (:func:`loss`) is the mean square of the residual
``u_t + u u_x - nu u_xx`` at the N collocation points plus the mean square misfit of
``u`` at N/4 initial and boundary points. The derivatives ``u_x``, ``u_t``, ``u_xx`` are
taken *inside* the traced loss with ``gc.jvp``, and ``gc.value_and_grad(loss,
argnums=(0, ..., 5))`` differentiates the whole thing with respect to the six weight
arrays: one traced function, one compiled kernel, compiled once.

Why ``gc.jvp`` with a tangent of ones and not ``gc.grad(lambda x: sum(u(x, t)))``: the
points are independent, so the Jacobian of ``u`` (N,) with respect to ``x`` (N,) is
diagonal and both give its diagonal. Forward mode gets it in one forward sweep that
also returns ``u`` itself (``u, u_x = jvp(...)``), ``u_xx`` is forward over forward, and
the outer reverse pass then differentiates a graph with no inner transposed sweep. The
reverse formulation is in :func:`loss_reverse` (same values to rounding): after CSE
and simplification both graphs hold the same twelve H x H x N matrix products (the
floor for this loss: four forward, eight in the outer reverse pass), 284 against 294
nodes, and their kernels time within this VM's noise of each other
(benchmarks/PINN.md); forward mode is the one that cannot do worse.

Training: Adam (Kingma & Ba 2015; lr 1e-3, betas 0.9/0.999, eps 1e-8) in NumPy on
Glorot-normal weights. Before training, the compiled gradient is checked once against
central finite differences of :func:`numpy_loss`, the same loss with the network's
derivatives written out by hand in NumPy (shares no code with the traced function).

Run::

    python examples/pinn_burgers.py                       # H = 32, N = 2048, 2000 steps
    python examples/pinn_burgers.py --steps 200 --H 16 --N 512
    python examples/pinn_burgers.py --plot pinn_loss.png  # loss curve (matplotlib)

Exit status 1 when the gradient check fails or the final loss is not finite.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
import graphc.numpy as gnp  # noqa: E402

NU = 0.01 / np.pi
"""Viscosity of Raissi et al.'s Burgers problem."""

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
SHAPES = {"W1": ("H", 2), "b1": ("H", 1), "W2": ("H", "H"), "b2": ("H", 1),
          "W3": ("H",), "b3": (), "x": ("N",), "t": ("N",),
          "xd": ("M",), "td": ("M",), "ud": ("M",)}
"""Shapes of the loss's inputs: the weights, N collocation points (x, t), M initial and
boundary points (xd, td) with target values ud. H, N and M are symbolic."""


def network(W1, b1, W2, b2, W3, b3, x, t):
    """The MLP ``u(x, t)`` on N points at once.

    Args:
        W1: (H, 2) first-layer weights (column 0 multiplies x, column 1 t); b1: (H, 1).
        W2: (H, H); b2: (H, 1). W3: (H,) output weights; b3: scalar.
        x, t: (N,) coordinates (float64 arrays or graph values).

    Returns:
        (N,) values ``W3 @ tanh(W2 @ tanh(W1 [x; t] + b1) + b2) + b3``. Works on NumPy
        arrays and, in a traced function, on graph values.
    """
    h = gnp.tanh(W1[:, 0:1] * x + W1[:, 1:2] * t + b1)     # (H, N)
    h = gnp.tanh(W2 @ h + b2)                              # (H, N)
    return W3 @ h + b3                                     # (N,)


def _residual(W1, b1, W2, b2, W3, b3, x, t, *, reverse: bool = False):
    """Burgers' residual ``u_t + u u_x - nu u_xx`` at the (N,) points, derivatives by
    nested ``gc.jvp`` (default) or nested ``gc.grad`` of ``sum(u)``."""
    def u(x, t):
        return network(W1, b1, W2, b2, W3, b3, x, t)
    pts = {"x": x.shape}
    if reverse:
        u_x = gc.grad(gc.function(lambda x: gnp.sum(u(x, t)), shapes=pts))
        u_xx = gc.grad(gc.function(lambda x: gnp.sum(u_x(x)), shapes=pts))(x)
        u_t = gc.grad(gc.function(lambda t: gnp.sum(u(x, t)), shapes={"t": t.shape}))(t)
        uu, ux = u(x, t), u_x(x)
    else:
        ones = 0.0 * x + 1.0           # tangent 1 at every point (gnp has no ones_like)

        def u_and_ux(x):                                   # (u, u_x): one forward sweep
            return gc.jvp(gc.function(lambda x: u(x, t), shapes=pts), (x,), (ones,))
        uu, ux = u_and_ux(x)
        _, u_xx = gc.jvp(gc.function(lambda x: u_and_ux(x)[1], shapes=pts), (x,), (ones,))
        _, u_t = gc.jvp(gc.function(lambda t: u(x, t), shapes={"t": t.shape}), (t,), (ones,))
    return u_t + uu * ux - NU * u_xx


def _loss(W1, b1, W2, b2, W3, b3, x, t, xd, td, ud, reverse=False):
    r = _residual(W1, b1, W2, b2, W3, b3, x, t, reverse=reverse)
    misfit = network(W1, b1, W2, b2, W3, b3, xd, td) - ud
    return gnp.mean(r * r) + gnp.mean(misfit * misfit)


@gc.function(shapes=SHAPES)
def loss(W1, b1, W2, b2, W3, b3, x, t, xd, td, ud):
    """The PINN loss: ``mean(r^2) + mean((u(xd, td) - ud)^2)`` with ``r`` Burgers'
    residual at the collocation points ``x``, ``t`` (N,) (derivatives by nested
    ``gc.jvp``); ``xd``, ``td``, ``ud`` (M,) the initial/boundary points and values.
    Weights as :func:`network`. A scalar."""
    return _loss(W1, b1, W2, b2, W3, b3, x, t, xd, td, ud)


@gc.function(shapes=SHAPES)
def loss_reverse(W1, b1, W2, b2, W3, b3, x, t, xd, td, ud):
    """:func:`loss` with the derivatives by nested ``gc.grad`` of ``sum(u)`` (reverse
    mode inside reverse mode): the same values, a slower kernel."""
    return _loss(W1, b1, W2, b2, W3, b3, x, t, xd, td, ud, reverse=True)


def hand_terms(xp, W1, b1, W2, b2, W3, b3, x, t):
    """``(u, u_x, u_t, u_xx)`` at (N,) points with the network's derivatives written
    out by hand (forward propagation of d/dx, d/dt, d²/dx² through the layers, using
    tanh' = 1 - tanh², tanh'' = -2 tanh (1 - tanh²)), in the array module ``xp``
    (``numpy``, or ``graphc.numpy`` inside a traced function)."""
    a, c = W1[:, 0:1], W1[:, 1:2]
    h1 = xp.tanh(a * x + c * t + b1)
    s1 = 1 - h1 * h1
    h1x, h1t, h1xx = s1 * a, s1 * c, -2 * h1 * s1 * (a * a)
    h2 = xp.tanh(W2 @ h1 + b2)
    s2 = 1 - h2 * h2
    z2x, z2t, z2xx = W2 @ h1x, W2 @ h1t, W2 @ h1xx
    h2x, h2t, h2xx = s2 * z2x, s2 * z2t, s2 * z2xx - 2 * h2 * s2 * (z2x * z2x)
    return W3 @ h2 + b3, W3 @ h2x, W3 @ h2t, W3 @ h2xx


def numpy_loss(params: dict, x, t, xd, td, ud) -> float:
    """:func:`loss` in plain NumPy with the derivatives by hand (:func:`hand_terms`):
    the finite-difference reference."""
    P = [np.asarray(params[k], dtype=np.float64) for k in PARAMS]
    u, ux, ut, uxx = hand_terms(np, *P, x, t)
    r = ut + u * ux - NU * uxx
    u_d, _, _, _ = hand_terms(np, *P, xd, td)
    m = u_d - ud
    return float(np.mean(r * r) + np.mean(m * m))


@gc.function(shapes=SHAPES)
def loss_by_hand(W1, b1, W2, b2, W3, b3, x, t, xd, td, ud):
    """:func:`loss` with :func:`hand_terms` traced instead of nested transforms (what a
    user wrote before derivatives could sit inside programs); the benchmark's second
    graphc variant."""
    u, ux, ut, uxx = hand_terms(gnp, W1, b1, W2, b2, W3, b3, x, t)
    r = ut + u * ux - NU * uxx
    m = network(W1, b1, W2, b2, W3, b3, xd, td) - ud
    return gnp.mean(r * r) + gnp.mean(m * m)


def make_data(N: int, seed: int = 0):
    """Seeded points: ``(x, t)`` N collocation points uniform in [-1, 1] x [0, 1];
    ``(xd, td, ud)`` M = max(N // 4, 2) data points, half on t = 0 with
    ``ud = -sin(pi x)``, half on x = ±1 with ``ud = 0``. All float64 (N,)/(M,)."""
    rng = np.random.default_rng(seed)
    x, t = rng.uniform(-1, 1, N), rng.uniform(0, 1, N)
    M = max(N // 4, 2)
    m0 = M // 2
    x0 = rng.uniform(-1, 1, m0)
    tb = rng.uniform(0, 1, M - m0)
    xb = np.where(rng.random(M - m0) < 0.5, -1.0, 1.0)
    xd = np.concatenate([x0, xb])
    td = np.concatenate([np.zeros(m0), tb])
    ud = np.concatenate([-np.sin(np.pi * x0), np.zeros(M - m0)])
    return x, t, xd, td, ud


def init_params(H: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Glorot-normal weights (std sqrt(2 / (fan_in + fan_out))), zero biases."""
    rng = np.random.default_rng(seed)

    def glorot(fan_out, fan_in, shape):
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    return {"W1": glorot(H, 2, (H, 2)), "b1": np.zeros((H, 1)),
            "W2": glorot(H, H, (H, H)), "b2": np.zeros((H, 1)),
            "W3": glorot(1, H, (H,)), "b3": np.float64(0.0)}


VALUE_AND_GRAD = gc.value_and_grad(loss, argnums=(0, 1, 2, 3, 4, 5))
"""The compiled step: ``VALUE_AND_GRAD(*weights, x, t, xd, td, ud) -> (loss,
Gradient(W1=..., ..., b3=...))`` (LLVM, compiled on first call)."""
VALUE_AND_GRAD_REVERSE = gc.value_and_grad(loss_reverse, argnums=(0, 1, 2, 3, 4, 5))
"""The same step from :func:`loss_reverse` (nested ``gc.grad``)."""
VALUE_AND_GRAD_BY_HAND = gc.value_and_grad(loss_by_hand, argnums=(0, 1, 2, 3, 4, 5))
"""The same step from :func:`loss_by_hand` (derivatives written out)."""


def value_and_grad(params: dict, data, target: str | None = None):
    """``(loss, {name: gradient})`` from :data:`VALUE_AND_GRAD` (``target="numpy"``:
    graphc's NumPy interpreter instead of the LLVM kernel)."""
    args = [params[k] for k in PARAMS] + list(data)
    if target is None:
        v, g = VALUE_AND_GRAD(*args)
    else:
        v, g = VALUE_AND_GRAD(*args, target=target)
    return float(v), {k: np.asarray(getattr(g, k), dtype=np.float64) for k in PARAMS}


def check_gradient(H: int = 4, N: int = 16, seed: int = 1, probes: int = 3,
                   h: float = 1e-6) -> float:
    """Largest relative difference between the compiled gradient and central
    differences ``(L(p + h e) - L(p - h e)) / 2h`` of :func:`numpy_loss` on ``probes``
    random entries of each weight, at random weights (about 1e-8 or less)."""
    rng = np.random.default_rng(seed)
    params = {k: v + rng.normal(0.0, 0.3, np.shape(v))
              for k, v in init_params(H, seed).items()}
    data = make_data(N, seed)
    _, g = value_and_grad(params, data)
    worst = 0.0
    for k in PARAMS:
        base = np.asarray(params[k], dtype=np.float64)
        for _ in range(probes if base.ndim else 1):
            idx = tuple(int(rng.integers(0, d)) for d in base.shape)
            e = np.zeros_like(base)
            e[idx] = h
            fd = (numpy_loss(dict(params, **{k: base + e}), *data)
                  - numpy_loss(dict(params, **{k: base - e}), *data)) / (2 * h)
            got = float(np.asarray(g[k])[idx])
            worst = max(worst, abs(got - fd) / max(abs(fd), 1e-3))
    return worst


def train(H: int, N: int, steps: int, lr: float = 1e-3, seed: int = 0,
          log_every: int = 0) -> list[float]:
    """Adam on :func:`loss` for ``steps`` steps; returns the loss at each step."""
    params = init_params(H, seed)
    data = make_data(N, seed)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    b1, b2, eps = 0.9, 0.999, 1e-8
    losses = []
    for step in range(1, steps + 1):
        value, g = value_and_grad(params, data)
        losses.append(value)
        for k in PARAMS:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
            mhat = m[k] / (1 - b1 ** step)
            vhat = v[k] / (1 - b2 ** step)
            params[k] = params[k] - lr * mhat / (np.sqrt(vhat) + eps)
        if log_every and (step == 1 or step % log_every == 0 or step == steps):
            print(f"step {step:6d}  loss {value:.6e}")
    return losses


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--H", type=int, default=32, help="hidden width")
    ap.add_argument("--N", type=int, default=2048, help="collocation points")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default="", help="PNG of the loss curve ('' for none)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    value_and_grad(init_params(args.H, args.seed), make_data(args.N, args.seed))
    print(f"H = {args.H}, N = {args.N}: value_and_grad graph "
          f"{len(VALUE_AND_GRAD.graph.nodes)} nodes; first call (trace, AD, LLVM "
          f"compile, run) {time.perf_counter() - t0:.2f} s")
    err = check_gradient()
    print(f"gradient vs central differences of the NumPy loss: max rel diff {err:.2e}")
    if not err < 1e-5:
        print("gradient check FAILED")
        return 1
    t0 = time.perf_counter()
    losses = train(args.H, args.N, args.steps, args.lr, args.seed,
                   log_every=max(1, args.steps // 10))
    dt = time.perf_counter() - t0
    print(f"{args.steps} steps in {dt:.2f} s ({1e3 * dt / max(args.steps, 1):.2f} ms/step); "
          f"loss {losses[0]:.4e} -> {losses[-1]:.4e} (min {min(losses):.4e})")
    if args.plot:
        from training_curves import save_or_explain
        save_or_explain({"graphc, Adam": losses}, args.plot,
                        f"Burgers PINN, H = {args.H}, N = {args.N}")
    return 0 if np.isfinite(losses[-1]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
